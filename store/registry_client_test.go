package store

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// adminHandler answers POST /admin/v1/releases the way the contract says
// `capship serve` does, on top of a real registry.
func adminHandler(t *testing.T, reg Registry) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, status int, err error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": ErrorCode(err), "message": err.Error()})
	}
	mux.HandleFunc("POST "+AdminReleasesPath, func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := reg.Authenticate(r.Context(), secret)
		if !ok || err != nil {
			fail(w, http.StatusUnauthorized, ErrUnauthorized)
			return
		}
		var in RegisterInput
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			fail(w, http.StatusBadRequest, ErrInvalid)
			return
		}
		if !tok.Allows(in.AppID) {
			fail(w, http.StatusForbidden, ErrUnauthorized)
			return
		}
		rel, err := reg.Register(r.Context(), in)
		if err != nil {
			status := http.StatusConflict
			if errors.Is(err, ErrInvalid) {
				status = http.StatusBadRequest
			}
			fail(w, status, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(rel)
	})
	return mux
}

func TestClientRegister(t *testing.T) {
	reg := backend{name: "sqlite", dsn: t.TempDir() + "/r.db"}.open(t)
	srv := httptest.NewServer(adminHandler(t, reg))
	defer srv.Close()
	secret, _, err := reg.CreateToken(ctxT(t), "ci", "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(srv.URL+"/", secret, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	in := input(app, "1.0.0", "production", 1)
	rel, err := c.Register(ctxT(t), in)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Version != "1.0.0" || rel.SessionKey != in.SessionKey || rel.Size != in.Size {
		t.Fatalf("release = %+v", rel)
	}
	if ch := mustChannel(t, reg, app, "production"); ch.Release.Version != "1.0.0" {
		t.Fatalf("server registry serves %s", ch.Release.Version)
	}

	cases := []struct {
		name   string
		client *Client
		in     RegisterInput
		want   error
	}{
		{"duplicate", c, in, ErrDuplicateVersion},
		{"older", c, input(app, "0.9.0", "production", 1), ErrVersionNotNewer},
		{"other key", c, input(app, "2.0.0", "production", 7), ErrKeyMismatch},
		{"invalid", c, input(app, "2.0", "production", 1), ErrInvalid},
		{"wrong token", &Client{base: c.base, token: tokenPrefix + "nope", http: srv.Client()}, input(app, "3.0.0", "", 1), ErrUnauthorized},
	}
	for _, tc := range cases {
		_, err := tc.client.Register(ctxT(t), tc.in)
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("%s: error reveals the token: %v", tc.name, err)
		}
	}

	// Not a capship server: a clear error, no JSON confusion.
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	oc, _ := NewClient(other.URL, secret, other.Client())
	if _, err := oc.Register(ctxT(t), input(app, "4.0.0", "", 1)); err == nil || !strings.Contains(err.Error(), "capship server") {
		t.Fatalf("non-capship server: %v", err)
	}
	// Nobody listening.
	addr := other.URL
	other.Close()
	gone, _ := NewClient(addr, secret, nil)
	if _, err := gone.Register(ctxT(t), input(app, "4.0.0", "", 1)); err == nil || !strings.Contains(err.Error(), "capship serve") {
		t.Fatalf("server down: %v", err)
	}
}

func TestNewClientRefusesCleartextAndMissingToken(t *testing.T) {
	for _, tc := range []struct {
		url, token string
		ok         bool
	}{
		{"https://updates.example.com", "t", true},
		{"http://127.0.0.1:8080", "t", true},
		{"http://[::1]:8080", "t", true},
		{"http://localhost:8080", "t", true},
		{"http://updates.example.com", "t", false},
		{"updates.example.com", "t", false},
		{"ftp://updates.example.com", "t", false},
		{"https://updates.example.com", "", false},
	} {
		_, err := NewClient(tc.url, tc.token, nil)
		if (err == nil) != tc.ok {
			t.Errorf("NewClient(%q, %q): %v", tc.url, tc.token, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("NewClient(%q): %v is not ErrInvalid", tc.url, err)
		}
		if err != nil && (tc.token == "") != errors.Is(err, ErrNoToken) {
			t.Errorf("NewClient(%q, %q): %v; ErrNoToken exactly when the token is missing", tc.url, tc.token, err)
		}
		if err != nil && strings.Contains(err.Error(), "--") {
			t.Errorf("NewClient(%q, %q): %v gives a command line's advice", tc.url, tc.token, err)
		}
	}
}

// FuzzRegisterInputValidate feeds the admin API's request body decoder and
// validator with arbitrary JSON: it must never panic, and what it accepts
// must be what devices can use.
func FuzzRegisterInputValidate(f *testing.F) {
	good, _ := json.Marshal(input(app, "1.2.3", "production", 1))
	f.Add(good)
	f.Add([]byte(`{"app_id":"a","version":"1.0.0-rc.1+b","size":-1}`))
	f.Add([]byte(`{"session_key":"::","checksum":"` + strings.Repeat("0", 512) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in RegisterInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		if err := in.Validate(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("validation error %v is not ErrInvalid", err)
			}
			return
		}
		if semverOf(in.Version) == "" || in.Size <= 0 || len(in.Checksum) != 512 || validSessionKey(in.SessionKey) != nil {
			t.Fatalf("accepted unusable input %+v", in)
		}
	})
}

// The admin token never follows a redirect: a proxy that sends the request
// on (to plain http on the same host, say) must not receive it.
func TestClientDoesNotFollowRedirects(t *testing.T) {
	var leaked string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"version":"1.0.0"}`))
	}))
	defer target.Close()
	// Same host (127.0.0.1), so net/http would forward the header.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusPermanentRedirect)
	}))
	defer redirector.Close()
	c, err := NewClient(redirector.URL, "capship_secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Register(ctxT(t), input(app, "1.0.0", "production", 1))
	_, listErr := c.Releases(ctxT(t), app)
	if leaked != "" {
		t.Fatalf("the token followed the redirect: %q", leaked)
	}
	for _, err := range []error{err, listErr} {
		if err == nil || !strings.Contains(err.Error(), "redirects to "+target.URL) || strings.Contains(err.Error(), "capship_secret") {
			t.Fatalf("err = %v, want one naming the redirect target", err)
		}
	}
}
