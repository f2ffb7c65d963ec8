package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Admin API errors speak the JSON a client sends: field names and JSON
// types, never Go's struct, field or type names.
func TestAdminErrorsSpeakJSON(t *testing.T) {
	h := newHarness(t, openRegistry(t, "sqlite"), Config{})
	for _, c := range []struct{ path, body, want string }{
		{"/admin/v1/releases", `{"versoin":"1.0.0"}`, `unknown field "versoin"`},
		{"/admin/v1/releases", `{"version":1}`, "version must be a string, not number"},
		{"/admin/v1/releases", `{"size":"x"}`, "size must be a whole number, not string"},
		{"/admin/v1/releases", `{"files":[{"size":"x"}]}`, "files.size must be a whole number, not string"},
		{"/admin/v1/releases", `{}`, "app_id is missing"},
		{"/admin/v1/channels/promote", `{"channel":1}`, "channel must be a string, not number"},
		{"/admin/v1/channels/promote", `[1]`, "must be an object, not array"},
		{"/admin/v1/channels/promote", `{"app_id":"x.y"`, "the JSON ends too early"},
		{"/admin/v1/channels/promote", `{"app_id":}`, "not valid JSON at byte"},
	} {
		status, out := h.do("POST", c.path, h.token, []byte(c.body))
		var ans struct{ Error, Message string }
		if err := json.Unmarshal(out, &ans); err != nil || status != http.StatusBadRequest || ans.Error != "invalid" {
			t.Errorf("%s %s: HTTP %d %s", c.path, c.body, status, out)
			continue
		}
		if !strings.Contains(ans.Message, c.want) {
			t.Errorf("%s %s: %q, want it to say %q", c.path, c.body, ans.Message, c.want)
		}
		for _, goWord := range []string{"Go struct", "Go value", "RegisterInput", "channelMove", "ReleaseFile", "int64", "server."} {
			if strings.Contains(ans.Message, goWord) {
				t.Errorf("%s %s: %q names Go's %q", c.path, c.body, ans.Message, goWord)
			}
		}
	}
}
