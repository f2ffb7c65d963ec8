package store

import (
	"errors"
	"testing"
)

// TestRegisterKeyIDAndFingerprintBothChecked: an app's key is its key id
// and its fingerprint together. The key id is a fixed prefix plus 48 bits
// of the modulus, so a second key with the same id is easy to make: a
// bundle whose fingerprint differs must be refused even when the key id
// matches, and the converse.
func TestRegisterKeyIDAndFingerprintBothChecked(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		const app = "com.example.keys"
		mustRegister(t, r, input(app, "1.0.0", "production", 1))

		sameIDOtherPrint := input(app, "1.1.0", "production", 1)
		sameIDOtherPrint.KeyFingerprint = input(app, "", "", 2).KeyFingerprint
		if _, err := r.Register(ctx, sameIDOtherPrint); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("same key id, other fingerprint: err = %v, want ErrKeyMismatch", err)
		}
		otherIDSamePrint := input(app, "1.1.0", "production", 1)
		otherIDSamePrint.KeyID = input(app, "", "", 2).KeyID
		if _, err := r.Register(ctx, otherIDSamePrint); !errors.Is(err, ErrKeyMismatch) {
			t.Fatalf("other key id, same fingerprint: err = %v, want ErrKeyMismatch", err)
		}
		if got := mustChannel(t, r, app, "production"); got.Release.Version != "1.0.0" {
			t.Fatalf("production serves %s after refused registrations, want 1.0.0", got.Release.Version)
		}
		a, err := r.App(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		first := input(app, "", "", 1)
		if a.KeyID != first.KeyID || a.KeyFingerprint != first.KeyFingerprint {
			t.Fatalf("app key = %s %s, want the first release's %s %s", a.KeyID, a.KeyFingerprint, first.KeyID, first.KeyFingerprint)
		}
		mustRegister(t, r, input(app, "1.1.0", "production", 1))
	})
}

// TestNotNewerDeterministic: build metadata does not order versions
// (SemVer 2.0.0 §10), so 1.0.0+build.8 is not newer than 1.0.0+build.7;
// and promoting the version a channel already serves is refused.
func TestNotNewerDeterministic(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		const app = "com.example.newer"
		mustRegister(t, r, input(app, "1.0.0+build.7", "production", 1))
		if _, err := r.Register(ctx, input(app, "1.0.0+build.8", "production", 1)); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("register 1.0.0+build.8 after 1.0.0+build.7: err = %v, want ErrVersionNotNewer", err)
		}
		if _, err := r.Register(ctx, input(app, "1.0.0", "production", 1)); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("register 1.0.0 after 1.0.0+build.7: err = %v, want ErrVersionNotNewer", err)
		}
		if got := mustChannel(t, r, app, "production"); got.Release.Version != "1.0.0+build.7" || got.Previous != nil {
			t.Fatalf("production = %+v, want 1.0.0+build.7 and no previous", got)
		}

		// Promote of the version the channel already serves.
		if _, err := r.Promote(ctx, app, "production", "1.0.0+build.7"); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("promote of the served version: err = %v, want ErrVersionNotNewer", err)
		}
		// A registered but unserved same-precedence version cannot be promoted either.
		mustRegister(t, r, input(app, "1.0.0+build.9", "", 1))
		if _, err := r.Promote(ctx, app, "production", "1.0.0+build.9"); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("promote 1.0.0+build.9 onto 1.0.0+build.7: err = %v, want ErrVersionNotNewer", err)
		}
		mustRegister(t, r, input(app, "1.0.1", "production", 1))
		if _, err := r.Promote(ctx, app, "production", "1.0.1"); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("promote of the served version 1.0.1: err = %v, want ErrVersionNotNewer", err)
		}
		got := mustChannel(t, r, app, "production")
		if got.Release.Version != "1.0.1" || got.Previous == nil || got.Previous.Version != "1.0.0+build.7" {
			t.Fatalf("production serves %s (previous %v), want 1.0.1 (1.0.0+build.7)", got.Release.Version, got.Previous)
		}
	})
}
