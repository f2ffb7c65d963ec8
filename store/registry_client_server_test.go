package store_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"capship/server/servertest"
	"capship/store"
)

// The admin client against the real `capship serve` handler on loopback,
// on top of a real registry file.
func TestClientAgainstServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, api := servertest.Start(t)
	const app, other = "com.capship.client", "com.capship.other"
	c, secret := clientFor(t, reg, api, "ci", "")
	oc, bound := clientFor(t, reg, api, "other-only", other)

	if rels, err := c.Releases(ctx, app); err != nil || len(rels) != 0 {
		t.Fatalf("releases of an app without any: %v, %v", rels, err)
	}
	for _, v := range []string{"1.0.0", "1.2.0", "1.10.0"} {
		if _, err := c.Register(ctx, store.TestInput(app, v, "production", 1)); err != nil {
			t.Fatalf("register %s: %v", v, err)
		}
	}
	if _, err := reg.Register(ctx, store.TestInput(other, "9.0.0", "production", 2)); err != nil {
		t.Fatal(err)
	}
	got, err := c.Releases(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	want, err := reg.Releases(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got) != len(want) {
		t.Fatalf("releases: got %d, registry has %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Version != w.Version || g.AppID != app || g.SessionKey != w.SessionKey || g.Checksum != w.Checksum ||
			g.Size != w.Size || g.URL != w.URL || g.KeyFingerprint != w.KeyFingerprint || !g.CreatedAt.Equal(w.CreatedAt) {
			t.Fatalf("release %d: got %+v, registry has %+v", i, g, w)
		}
	}
	if got[0].Version != "1.10.0" {
		t.Fatalf("newest registration first: %s", got[0].Version)
	}
	chs, err := c.Channels(ctx, app)
	if err != nil || len(chs) != 1 || chs[0].Name != "production" || chs[0].Release == nil || chs[0].Release.Version != "1.10.0" {
		t.Fatalf("channels: %+v, %v", chs, err)
	}

	// Refusals come back as the store's sentinels and never show a token.
	wrong, err := store.NewClient(api.URL, "capship_wrong", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Releases(ctx, app); !errors.Is(err, store.ErrUnauthorized) || !strings.HasPrefix(err.Error(), "list releases on ") {
		t.Fatalf("a wrong token: %v", err)
	}
	if _, err := wrong.Channels(ctx, app); !errors.Is(err, store.ErrUnauthorized) {
		t.Fatalf("a wrong token, channels: %v", err)
	}
	if _, err := c.Releases(ctx, ""); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("no app id: %v", err)
	}
	if _, err := oc.Releases(ctx, app); err == nil || !strings.Contains(err.Error(), "may only act on app "+other) || strings.Contains(err.Error(), bound) {
		t.Fatalf("a token made for another app: %v", err)
	}
	if rels, err := oc.Releases(ctx, other); err != nil || len(rels) != 1 || rels[0].Version != "9.0.0" {
		t.Fatalf("a token made for this app: %+v, %v", rels, err)
	}

	// Not a capship server: a 404 page, or a 200 that is not the JSON list.
	for name, h := range map[string]http.Handler{
		"404": http.NotFoundHandler(),
		"html": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("<!doctype html><p>welcome"))
		}),
	} {
		page := httptest.NewServer(h)
		pc, err := store.NewClient(page.URL, secret, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.Releases(ctx, app); err == nil || !strings.Contains(err.Error(), "capship server") || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: %v", name, err)
		}
		page.Close()
	}
}

// A bundle that records no native package ({}) differs from one that
// recorded none at all (nil): registered through the server, it must be
// compared as it is through the registry, so that a later release adding
// a native plugin is refused.
func TestClientRegisterKeepsEmptyNativePackages(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg, api := servertest.Start(t)
	const app = "com.capship.nonative"
	c, _ := clientFor(t, reg, api, "ci", "")
	v1 := store.TestInput(app, "1.0.0", "production", 1)
	v1.NativePackages = map[string]string{}
	if _, err := c.Register(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if rel, err := reg.Release(ctx, app, "1.0.0"); err != nil || rel.NativePackages == nil {
		t.Fatalf("the registry holds native packages %v (nil: not recorded), %v", rel.NativePackages, err)
	}
	v2 := store.TestInput(app, "1.1.0", "production", 1)
	v2.NativePackages = map[string]string{"@capacitor/camera": "6.0.0"}
	if _, err := c.Register(ctx, v2); !errors.Is(err, store.ErrNativeChange) {
		t.Fatalf("a native plugin added through the server: %v, want ErrNativeChange", err)
	}
}
