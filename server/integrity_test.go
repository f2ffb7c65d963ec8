package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"capship/store/storetest"
)

// A damaged registry file makes /readyz fail and is logged; an update
// check that meets the damage is logged as such, not answered as if the
// channel had no release.
func TestDamagedRegistryFailsReadiness(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	reg := openDSN(t, path)
	h := newHarness(t, reg, Config{})
	h.register("1.0.0", "production")
	if got := h.check(h.deviceBody(nil)); got["version"] != "1.0.0" {
		t.Fatalf("before the damage the server sent %v", got)
	}
	reg.Close()
	storetest.DamageTable(t, path, "releases")

	logs := &syncBuffer{}
	reg = openDSN(t, path)
	h2 := newHarness(t, reg, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	h2.app, h2.key = h.app, h.key
	if status, out := h2.do("POST", "/updates", "", h2.deviceBody(nil)); status != http.StatusServiceUnavailable {
		t.Fatalf("update check on a damaged registry: HTTP %d %s, want 503", status, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, out := h2.do("GET", "/readyz", "", nil)
		if status == http.StatusServiceUnavailable && bytes.Contains(out, []byte("registry_damaged")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz on a damaged registry: HTTP %d %s, want 503 registry_damaged", status, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "registry file is damaged") {
		t.Fatalf("damage not logged:\n%s", logs)
	}
}
