package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A token bound to one app reads nothing of another: each admin read
// answers 403 with the store's code and names the token's own app, and
// the same reads of its own app go through.
func TestAdminReadsAreTokenScoped(t *testing.T) {
	reg := openRegistry(t, "sqlite")
	h := newHarness(t, reg, Config{})
	h.register("1.0.0", "production")
	other, _, err := reg.CreateToken(context.Background(), "someone-else", "com.someone.else")
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := reg.CreateToken(context.Background(), "own", h.app)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/admin/v1/releases/1.0.0?app_id=" + h.app,
		"/admin/v1/releases/1.0.0/files?app_id=" + h.app,
		"/admin/v1/channels/production?app_id=" + h.app,
		"/admin/v1/channels/production/history?app_id=" + h.app,
		"/admin/v1/stats?app_id=" + h.app,
	} {
		status, out := h.do("GET", path, other, nil)
		var ans struct{ Error, Message string }
		json.Unmarshal(out, &ans)
		if status != http.StatusForbidden || ans.Error != "forbidden" || !strings.Contains(ans.Message, "com.someone.else") || strings.Contains(string(out), `"version"`) {
			t.Errorf("GET %s with another app's token: HTTP %d %s, want 403 forbidden", path, status, out)
		}
		if status, out := h.do("GET", path, own, nil); status != http.StatusOK {
			t.Errorf("GET %s with the app's own token: HTTP %d %s, want 200", path, status, out)
		}
	}
}
