package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The channel and stats endpoints as a client other than store.Client
// sees them: snake_case JSON, strict bodies, partial updates, and refusals
// with the store's codes.
func TestAdminChannelEndpoints(t *testing.T) {
	h := newHarness(t, openRegistry(t, "sqlite"), Config{})
	app := h.app
	status, out := h.do("POST", "/admin/v1/channels", h.token, []byte(`{"app_id":"`+app+`","name":"beta","rollout":25,"allow_self_set":true}`))
	if status != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", status, out)
	}
	for _, field := range []string{`"app_id":`, `"allow_self_set":true`, `"rollout":25`, `"disable_under_native":true`, `"updated_at":`} {
		if !strings.Contains(string(out), field) {
			t.Errorf("created channel lacks %s: %s", field, out)
		}
	}
	status, out = h.do("PATCH", "/admin/v1/channels/beta", h.token, []byte(`{"app_id":"`+app+`","ios":false}`))
	var ch struct {
		Rollout      int  `json:"rollout"`
		IOS          bool `json:"ios"`
		AllowSelfSet bool `json:"allow_self_set"`
	}
	if err := json.Unmarshal(out, &ch); err != nil || status != http.StatusOK || ch.Rollout != 25 || ch.IOS || !ch.AllowSelfSet {
		t.Fatalf("patch: HTTP %d %s", status, out)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code, says         string
	}{
		{"POST", "/admin/v1/channels", `{"app_id":"` + app + `","name":"beta"}`, http.StatusConflict, "duplicate_channel", "beta"},
		{"POST", "/admin/v1/channels", `{"app_id":"` + app + `"}`, http.StatusBadRequest, "invalid", "name is required"},
		{"POST", "/admin/v1/channels", `{"app_id":"` + app + `","name":"x","rollot":5}`, http.StatusBadRequest, "invalid", `unknown field`},
		{"PATCH", "/admin/v1/channels/beta", `{"app_id":"` + app + `","rollout":"all"}`, http.StatusBadRequest, "invalid", "rollout must be a whole number"},
		{"PATCH", "/admin/v1/channels/nightly", `{"app_id":"` + app + `","rollout":5}`, http.StatusNotFound, "not_found", "nightly"},
		{"PATCH", "/admin/v1/channels/beta", `{"rollout":5}`, http.StatusBadRequest, "invalid", "app_id is missing"},
		{"GET", "/admin/v1/channels/nightly?app_id=" + app, "", http.StatusNotFound, "not_found", "nightly"},
		{"GET", "/admin/v1/channels/nightly/history?app_id=" + app, "", http.StatusNotFound, "not_found", "nightly"},
		{"GET", "/admin/v1/releases/9.9.9?app_id=" + app, "", http.StatusNotFound, "not_found", "9.9.9"},
		{"GET", "/admin/v1/releases/9.9.9/files?app_id=" + app, "", http.StatusNotFound, "not_found", "9.9.9"},
		{"GET", "/admin/v1/stats?app_id=" + app + "&since=yesterday", "", http.StatusBadRequest, "invalid", "RFC 3339"},
		{"GET", "/admin/v1/stats", "", http.StatusBadRequest, "invalid", "app_id is missing"},
		{"GET", "/admin/v1/channels/beta?app_id=" + app, "", http.StatusOK, "", `"name":"beta"`},
		{"GET", "/admin/v1/channels/beta/history?app_id=" + app, "", http.StatusOK, "", `[]`},
		{"GET", "/admin/v1/stats?app_id=" + app + "&since=2026-01-02T15:04:05Z", "", http.StatusOK, "", `[]`},
		{"GET", "/admin/v1/stats?app_id=" + app + "&since=2026-01-02T15:04:05+02:00", "", http.StatusOK, "", `[]`},
		{"GET", "/admin/v1/stats?app_id=" + app + "&since=2026-01-02", "", http.StatusBadRequest, "invalid", "RFC 3339"},
	} {
		status, out := h.do(c.method, c.path, h.token, []byte(c.body))
		var ans struct{ Error, Message string }
		json.Unmarshal(out, &ans)
		if status != c.status || ans.Error != c.code || !strings.Contains(string(out), c.says) {
			t.Errorf("%s %s %s: HTTP %d %s; want %d %s saying %q", c.method, c.path, c.body, status, out, c.status, c.code, c.says)
		}
		if status, _ := h.do(c.method, c.path, "", []byte(c.body)); status != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: HTTP %d", c.method, c.path, status)
		}
	}
}
