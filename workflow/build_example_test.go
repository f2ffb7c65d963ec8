package workflow_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"capship/workflow"
)

// Build a bundle from a web build folder, then open it as a device does,
// with nothing but what the update server sends and the app's public key.
func ExampleBuild() {
	work, err := os.MkdirTemp("", "capship-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)
	web := filepath.Join(work, "www")
	os.MkdirAll(web, 0o755)
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<script src=app.js></script>"), 0o644)
	os.WriteFile(filepath.Join(web, "app.js"), []byte("CapacitorUpdater.notifyAppReady()"), 0o644)

	key, err := workflow.ReadPrivateKeyFile("../testdata/keys/test.pem")
	if err != nil {
		log.Fatal(err)
	}
	m, err := workflow.Build(context.Background(), workflow.BuildOptions{
		Dir: web, AppID: "com.example.app", Version: "1.0.0", OutDir: filepath.Join(work, "dist"), Key: key,
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(m.File), filepath.Base(m.Manifest))
	fmt.Println("files:", m.Files, "key id:", m.KeyID, "checksum length:", len(m.Checksum))

	pub, err := workflow.ReadPublicKeyFile("../testdata/keys/test.pub.pem")
	if err != nil {
		log.Fatal(err)
	}
	res, err := workflow.Open(context.Background(), workflow.OpenOptions{
		File: m.File, SessionKey: m.SessionKey, Checksum: m.Checksum, PublicKey: pub,
		ExtractDir: filepath.Join(work, "device"),
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	index, _ := os.ReadFile(filepath.Join(res.ExtractDir, "index.html"))
	fmt.Println("verified:", res.ZipSHA256 == m.ZipSHA256, "index.html:", string(index))
	// Output:
	// com.example.app-1.0.0.zip com.example.app-1.0.0.manifest.json
	// files: 2 key id: MIIBCgKCAQEAhmzG5ySp checksum length: 512
	// verified: true index.html: <script src=app.js></script>
}
