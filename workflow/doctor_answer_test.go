package workflow

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

// An answer without an error is an update only with both its version and
// its URL: the JSON of another service at updateUrl, or an update missing
// either, is a failure (the plugin would report a failed download).
func TestDoctorDeviceAnswerNeedsVersionAndURL(t *testing.T) {
	for _, c := range []struct {
		body, want string
	}{
		{`{"version":"1.2.0","url":"https://cdn.example.com/1.2.0.zip"}`, StatusOK},
		{`{}`, StatusFail},
		{`{"status":"ok"}`, StatusFail},
		{`{"version":"1.2.0"}`, StatusFail},
		{`{"url":"https://cdn.example.com/1.2.0.zip"}`, StatusFail},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(c.body))
		}))
		f := DoctorDeviceAnswer(context.Background(), srv.Client(), DeviceCheck{UpdateURL: srv.URL + "/updates", AppID: "com.example.shop", NativeVersion: "1.0.0"})
		srv.Close()
		if f.Status != c.want || c.want == StatusFail && f.Fix == "" {
			t.Errorf("answer %s: %+v, want %s", c.body, f, c.want)
		}
	}
}
