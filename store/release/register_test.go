package release_test

import (
	"errors"
	"reflect"
	"testing"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// A built manifest and what the person adds become the registration both
// the CLI and the wizard send, checked before anything is downloaded.
func TestRegistrationFromManifest(t *testing.T) {
	key, err := workflow.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	m := build(t, t.TempDir(), "2.0.0", key, map[string]string{
		"index.html": `<!doctype html><script src="app.js"></script>`,
		"app.js":     "CapacitorUpdater.notifyAppReady()\n",
	})
	in, err := release.RegistrationFromManifest(m, release.Registration{URL: " https://cdn.example.com/2.0.0.zip\n", Channel: "beta", MinNative: "1.4.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := store.RegisterInput{AppID: app, Version: "2.0.0", URL: "https://cdn.example.com/2.0.0.zip", SessionKey: m.SessionKey,
		Checksum: m.Checksum, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256, KeyID: m.KeyID,
		KeyFingerprint: m.KeyFingerprint, Channel: "beta", MinNative: "1.4.0"}
	if in.FilesURL != "" || len(in.Files) != 0 {
		t.Fatalf("zip only got files: %q, %d", in.FilesURL, len(in.Files))
	}
	if !reflect.DeepEqual(in, want) {
		t.Fatalf("registration\n got %+v\nwant %+v", in, want)
	}

	in, err = release.RegistrationFromManifest(m, release.Registration{URL: "https://cdn.example.com/2.0.0.zip", FilesURL: "https://cdn.example.com/2.0.0/", Channel: "beta"})
	if err != nil || in.FilesURL != "https://cdn.example.com/2.0.0" || len(in.Files) != len(m.Delta.Files) {
		t.Fatalf("with files: %q, %d files, %v", in.FilesURL, len(in.Files), err)
	}

	for name, c := range map[string]struct {
		m    *workflow.Manifest
		r    release.Registration
		want error
	}{
		"plain http":            {m, release.Registration{URL: "http://cdn.example.com/x.zip"}, store.ErrInvalid},
		"bad min native":        {m, release.Registration{URL: "https://cdn.example.com/x.zip", MinNative: "one"}, store.ErrInvalid},
		"bad channel":           {m, release.Registration{URL: "https://cdn.example.com/x.zip", Channel: "a b"}, store.ErrInvalid},
		"files url not https":   {m, release.Registration{URL: "https://cdn.example.com/x.zip", FilesURL: "http://cdn.example.com/f"}, workflow.ErrBadURL},
		"files url, no objects": {noDelta(m, "a file too big"), release.Registration{URL: "https://cdn.example.com/x.zip", FilesURL: "https://cdn.example.com/f"}, release.ErrNoDelta},
	} {
		if _, err := release.RegistrationFromManifest(c.m, c.r); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	var nd *release.NoDeltaError
	_, err = release.RegistrationFromManifest(noDelta(m, "a file too big"), release.Registration{URL: "https://cdn.example.com/x.zip", FilesURL: "https://cdn.example.com/f"})
	if !errors.As(err, &nd) || nd.Reason != "a file too big" {
		t.Fatalf("the reason there are no objects: %v", err)
	}
}

func noDelta(m *workflow.Manifest, why string) *workflow.Manifest {
	c := *m
	c.Delta, c.DeltaSkipped = nil, why
	return &c
}
