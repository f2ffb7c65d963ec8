package release_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// keychain is a service of its own in the real Secret Service that
// scripts/test starts; its keys are deleted when the test ends.
func keychain(t *testing.T, names ...string) *store.Keychain {
	t.Helper()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		if os.Getenv("CAPSHIP_TEST_STRICT") == "1" {
			t.Fatal("DBUS_SESSION_BUS_ADDRESS is not set (scripts/test starts a keyring)")
		}
		t.Skip("no keychain; run scripts/test")
	}
	kc := store.NewKeychain(fmt.Sprintf("capship-test-release-keys-%d", time.Now().UnixNano()))
	t.Cleanup(func() {
		entries, _ := kc.List()
		for _, e := range entries {
			kc.Delete(e.Name)
		}
	})
	return kc
}

// config writes a Capacitor config without a public key and returns its
// path.
func config(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capacitor.config.json")
	if err := os.WriteFile(path, []byte("{\n  \"appId\": \""+app+"\",\n  \"webDir\": \"www\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func configKey(t *testing.T, path string) string {
	t.Helper()
	p, err := workflow.LoadProjectConfig(filepath.Dir(path), path)
	if err != nil {
		t.Fatal(err)
	}
	return p.PublicKey
}

func TestCreateKey(t *testing.T) {
	ctx := context.Background()
	kc := keychain(t)
	cfg := config(t)
	f, err := release.CreateKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, Config: release.ConfigAlways})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.KeyID) != 20 || !strings.HasPrefix(f.KeyFingerprint, "sha256:") || f.Archived != "" || !f.ConfigWritten ||
		f.ConfigKey != workflow.ConfigKeyMatches || f.StoredIn != kc.Where() {
		t.Fatalf("facts: %+v", f)
	}
	if state, _, _ := workflow.CompareConfigKey(configKey(t, cfg), &f.Key.PublicKey); state != workflow.ConfigKeyMatches {
		t.Fatalf("the config does not carry the new key: %v", state)
	}

	// Another create is refused with the stored key's facts, nothing changed.
	_, err = release.CreateKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, Config: release.ConfigAlways})
	var exists *release.KeyExistsError
	if !errors.As(err, &exists) || !errors.Is(err, store.ErrKeyExists) || exists.KeyID != f.KeyID || exists.KeyFingerprint != f.KeyFingerprint ||
		strings.Contains(err.Error(), "--force") {
		t.Fatalf("a second create: %v", err)
	}
	// Replace archives the old key and writes the new public key.
	g, err := release.CreateKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, ConfigPublicKey: configKey(t, cfg),
		Config: release.ConfigAlways, Replace: true})
	if err != nil || g.Archived == "" || g.KeyID == f.KeyID || !g.ConfigWritten {
		t.Fatalf("replace: %+v, %v", g, err)
	}
	if old, err := kc.Get(g.Archived); err != nil || !strings.Contains(string(old), "RSA PRIVATE KEY") {
		t.Fatalf("the archived key: %v", err)
	}
	// ConfigLeave leaves a config as it is, and says how it relates.
	h, err := release.CreateKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, ConfigPublicKey: configKey(t, cfg), Replace: true})
	if err != nil || h.ConfigWritten || h.ConfigKey != workflow.ConfigKeyDiffers || h.ConfigOtherKey == nil {
		t.Fatalf("create without writing: %+v, %v", h, err)
	}
	if _, err := release.CreateKey(ctx, kc, release.KeyRequest{AppID: "no-dot"}); !errors.Is(err, workflow.ErrAppID) {
		t.Fatalf("a bad app id: %v", err)
	}
}

func TestImportKey(t *testing.T) {
	ctx := context.Background()
	kc := keychain(t)
	cfg := config(t)
	dir := t.TempDir()
	keyFile := func(name string) (string, string) {
		k, err := workflow.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := workflow.WriteKeyFile(path, workflow.EncodePrivateKey(k)); err != nil {
			t.Fatal(err)
		}
		return path, workflow.KeyID(&k.PublicKey)
	}
	first, firstID := keyFile("first.pem")
	f, err := release.ImportKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, Config: release.ConfigIfMissing}, first)
	if err != nil || f.KeyID != firstID || f.Unchanged || !f.ConfigWritten || f.ConfigKey != workflow.ConfigKeyMatches {
		t.Fatalf("import: %+v, %v", f, err)
	}
	// The same key again changes nothing.
	f, err = release.ImportKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, ConfigPublicKey: configKey(t, cfg), Config: release.ConfigIfMissing}, first)
	if err != nil || !f.Unchanged || f.Archived != "" || f.ConfigWritten || f.ConfigKey != workflow.ConfigKeyMatches {
		t.Fatalf("the same key again: %+v, %v", f, err)
	}
	// Another key is refused without Replace; with it, the old one is
	// archived and a config that has a key keeps it (IfMissing).
	second, secondID := keyFile("second.pem")
	if _, err := release.ImportKey(ctx, kc, release.KeyRequest{AppID: app}, second); !errors.Is(err, store.ErrKeyExists) {
		t.Fatalf("another key: %v", err)
	}
	f, err = release.ImportKey(ctx, kc, release.KeyRequest{AppID: app, ConfigPath: cfg, ConfigPublicKey: configKey(t, cfg),
		Config: release.ConfigIfMissing, Replace: true}, second)
	if err != nil || f.KeyID != secondID || f.Archived == "" || f.ConfigWritten || f.ConfigKey != workflow.ConfigKeyDiffers {
		t.Fatalf("replace: %+v, %v", f, err)
	}
	if got, err := kc.Get(app); err != nil || !strings.Contains(string(got), "RSA PRIVATE KEY") {
		t.Fatalf("the keychain's key: %v", err)
	}
	if _, err := release.ImportKey(ctx, kc, release.KeyRequest{AppID: app}, filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("imported a missing file")
	}
}

// AppKey reads what CreateKey stored; WritePublicKey writes its public half
// into a config once, and not again when the config carries it.
func TestAppKeyAndWritePublicKey(t *testing.T) {
	kc := keychain(t)
	cfg := config(t)
	if _, err := release.AppKey(kc, app); !errors.Is(err, store.ErrNoKey) {
		t.Fatalf("no key: %v, want store.ErrNoKey", err)
	}
	if _, err := release.WritePublicKey(kc, release.KeyRequest{AppID: app, ConfigPath: cfg}); !errors.Is(err, store.ErrNoKey) {
		t.Fatalf("write without a key: %v, want store.ErrNoKey", err)
	}
	made, err := release.CreateKey(context.Background(), kc, release.KeyRequest{AppID: app})
	if err != nil {
		t.Fatal(err)
	}
	key, err := release.AppKey(kc, app)
	if err != nil || !key.Equal(made.Key) {
		t.Fatalf("AppKey: %v", err)
	}
	f, err := release.WritePublicKey(kc, release.KeyRequest{AppID: app, ConfigPath: cfg})
	if err != nil || !f.ConfigWritten || f.KeyID != made.KeyID {
		t.Fatalf("write: %+v, %v", f, err)
	}
	if got := configKey(t, cfg); got != string(workflow.EncodePublicKey(&made.Key.PublicKey)) {
		t.Fatalf("config holds %q", got)
	}
	f, err = release.WritePublicKey(kc, release.KeyRequest{AppID: app, ConfigPath: cfg, ConfigPublicKey: configKey(t, cfg)})
	if err != nil || f.ConfigWritten {
		t.Fatalf("second write: %+v, %v", f, err)
	}
	if _, err := kc.Replace(app, []byte("not a key")); err == nil {
		if _, err := release.AppKey(kc, app); err == nil || !strings.Contains(err.Error(), "not a usable key") {
			t.Fatalf("unusable stored value: %v", err)
		}
	}
}
