package cli

import (
	"strings"
	"testing"
)

func TestBundleCheckURL(t *testing.T) {
	dir := t.TempDir()
	manifest, data := writeBundle(t, dir, "1.0.0", testKey(t, 0))
	h := newHosted(t)
	good := h.put("/good.zip", data)
	flipped := append([]byte(nil), data...)
	flipped[10] ^= 0xff
	bad := h.put("/bad.zip", flipped)

	var ok struct {
		OK     bool   `json:"ok"`
		Status int    `json:"status"`
		SHA256 string `json:"sha256"`
	}
	r := run(t, nil, "bundle", "check-url", "--manifest", manifest, "--url", good, "--json")
	r.decode(t, &ok)
	if !ok.OK || ok.Status != 200 || ok.SHA256 == "" {
		t.Fatalf("good upload: %+v\n%s", ok, r.err)
	}
	if !strings.Contains(r.err, "plain HTTP on a loopback host") {
		t.Errorf("loopback http should warn; stderr:\n%s", r.err)
	}

	r = run(t, nil, "bundle", "check-url", "--manifest", manifest, "--url", bad, "--json")
	if r.code != 1 || !strings.Contains(r.out, `"ok": false`) || !strings.Contains(r.err, "different bytes") || !strings.Contains(r.err, "hosted sha256 ") {
		t.Fatalf("flipped upload: exit %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
	}

	r = run(t, nil, "bundle", "check-url", "--manifest", manifest, "--url", strings.Replace(good, "/good.zip", "/missing.zip", 1))
	if r.code != 1 || !strings.Contains(r.err, "HTTP 404") {
		t.Fatalf("missing upload: exit %d\nstderr: %s", r.code, r.err)
	}

	r = run(t, nil, "bundle", "check-url", "--manifest", manifest, "--url", "http://cdn.example.com/a.zip")
	if r.code != 1 || !strings.Contains(r.err, "devices require HTTPS") {
		t.Fatalf("public http: exit %d\nstderr: %s", r.code, r.err)
	}

	if r = run(t, nil, "bundle", "check-url", "--url", good); r.code != 2 {
		t.Fatalf("missing --manifest: exit %d, want 2\n%s", r.code, r.err)
	}
}
