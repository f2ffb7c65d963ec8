package server_test

// A release hosted by capship serve itself (--storage): the bundle and its
// delta objects uploaded with PUT /admin/v1/objects/KEY, registered with
// the URLs serve answered, and installed by the plugin's own Java code
// from serve's /bundles/.

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/plugintest"
	"capship/store"
	"capship/workflow"
)

// uploadObject PUTs a file under key and returns the public URL serve
// answers with.
func uploadObject(t *testing.T, serveURL, token, key, file, sum string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	req, _ := http.NewRequest("PUT", serveURL+"/admin/v1/objects/"+key, f)
	req.ContentLength = fi.Size()
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Capship-Sha256", sum)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var ans struct{ URL string }
	if err := json.Unmarshal(body, &ans); err != nil || res.StatusCode != http.StatusCreated || ans.URL == "" {
		t.Fatalf("PUT %s: HTTP %d %s", key, res.StatusCode, body)
	}
	return ans.URL
}

func TestPhoneAndroidFromServeStorage(t *testing.T) {
	h := plugintest.Compile(t)
	bin := capshipBinary(t)
	db := filepath.Join(t.TempDir(), "registry.db")
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	const app = "com.example.hosted"
	serve := startServe(t, bin, db, "--storage", t.TempDir())
	var tok struct{ Token string }
	capship(t, bin, &tok, "token", "create", "uploader", "--app", app, "--db", db, "--json")

	web := deltaWebFolder(t, "1.0.1", nil)
	m, err := workflow.Build(t.Context(), workflow.BuildOptions{Dir: web, AppID: app, Version: "1.0.1", OutDir: t.TempDir(), Key: key}, nil)
	if err != nil || m.Delta == nil {
		t.Fatalf("build: %v (delta %v: %s)", err, m != nil && m.Delta != nil, m.DeltaSkipped)
	}
	base := app + "/" + m.ZipSHA256
	url := uploadObject(t, serve.URL, tok.Token, base+".zip", m.File, m.SHA256)
	if want := serve.URL + "/bundles/" + base + ".zip"; url != want {
		t.Errorf("serve answered url %s, want %s", url, want)
	}
	uploaded := map[string]bool{}
	for _, f := range m.Delta.Files {
		if !uploaded[f.Object] {
			uploaded[f.Object] = true
			uploadObject(t, serve.URL, tok.Token, base+".files/"+f.Object, filepath.Join(m.Delta.Dir, f.Object), f.ObjectSHA256)
		}
	}
	filesURL := strings.TrimSuffix(url, ".zip") + ".files"
	var reg struct {
		Release *store.Release `json:"release"`
	}
	// The registration downloads every object back from serve and checks it.
	capship(t, bin, &reg, "release", "register", "--manifest", m.Manifest, "--url", url, "--files-url", filesURL, "--db", db, "--json")
	if reg.Release == nil || reg.Release.URL != url || reg.Release.FilesURL != filesURL {
		t.Fatalf("register: %+v", reg.Release)
	}

	newPhone := func() *plugintest.Phone {
		p := h.NewPhone(t.TempDir())
		p.AppID, p.NativeVersion, p.PublicKey = app, "1.0.0", string(workflow.EncodePublicKey(&key.PublicKey))
		p.BuiltinDir = deltaWebFolder(t, "1.0.0", nil)
		p.UpdateURL, p.StatsURL, p.ChannelURL = serve.URL+"/updates", serve.URL+"/stats", serve.URL+"/channel_self"
		return p
	}
	t.Run("file by file", func(t *testing.T) {
		r := newPhone().Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] == nil {
			t.Fatalf("the answer carried no manifest: %v", r.Answer)
		}
		mustInstall(t, r, "1.0.1", web)
	})
	t.Run("the zip, on an old plugin", func(t *testing.T) {
		old := newPhone()
		old.PluginVersion = "7.0.34"
		r := old.Check(t)
		logCheck(t, r)
		if r.Answer["manifest"] != nil || r.Answer["url"] != url {
			t.Errorf("plugin 7.0.34 was answered %v, want the zip at %s", r.Answer, url)
		}
		mustInstall(t, r, "1.0.1", web)
	})
}
