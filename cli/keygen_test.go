package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/workflow"
)

func TestKeyGenerate(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, ".capgo_key_v2"), filepath.Join(dir, ".capgo_key_v2.pub")
	r := runBundleCLI(t, nil, false, "key", "generate", "--private-out", priv, "--public-out", pub, "--json")
	if r.code != 0 {
		t.Fatalf("generate: %s", r)
	}
	var got struct {
		PrivateKeyFile string `json:"private_key_file"`
		PublicKeyFile  string `json:"public_key_file"`
		KeyID          string `json:"key_id"`
		KeyFingerprint string `json:"key_fingerprint"`
	}
	must(t, json.Unmarshal([]byte(r.out), &got))
	for _, p := range []string{priv, pub} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
	}
	key, err := workflow.ReadPrivateKeyFile(priv)
	must(t, err)
	pubKey, err := workflow.ReadPublicKeyFile(pub)
	must(t, err)
	must(t, workflow.CheckPair(key, pubKey))
	if got.KeyID != workflow.KeyID(pubKey) || got.KeyFingerprint != workflow.Fingerprint(pubKey) || got.PrivateKeyFile != priv {
		t.Fatalf("json %+v", got)
	}
	before, _ := os.ReadFile(priv)

	// Never overwrite, and never leave half a pair.
	r = runBundleCLI(t, nil, false, "key", "generate", "--private-out", priv, "--public-out", filepath.Join(dir, "new.pub"))
	if r.code != 1 || !strings.Contains(r.err, "already exists") {
		t.Fatalf("existing private key: %s", r)
	}
	if after, _ := os.ReadFile(priv); string(after) != string(before) {
		t.Fatal("an existing key file was changed")
	}
	fresh := filepath.Join(dir, "fresh.pem")
	r = runBundleCLI(t, nil, false, "key", "generate", "--private-out", fresh, "--public-out", pub)
	if r.code != 1 || !strings.Contains(r.err, "already exists") {
		t.Fatalf("existing public key: %s", r)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a lone private key was left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new.pub")); !os.IsNotExist(err) {
		t.Fatal("a lone public key was left")
	}

	// Human output, and usage errors.
	r = runBundleCLI(t, nil, false, "key", "generate", "--private-out", filepath.Join(dir, "b.pem"), "--public-out", filepath.Join(dir, "b.pub"))
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "keep it secret") {
		t.Fatalf("human output: %s", r)
	}
	for _, args := range [][]string{
		{"--private-out", filepath.Join(dir, "c.pem")},
		{"--private-out", filepath.Join(dir, "c.pem"), "--public-out", filepath.Join(dir, "c.pem")},
		{"--private-out", "x", "--public-out", "y", "extra"},
	} {
		r := runBundleCLI(t, nil, false, append([]string{"key", "generate"}, args...)...)
		if r.code != 2 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "c.pem")); !os.IsNotExist(err) {
		t.Fatal("a usage error wrote a file")
	}
}
