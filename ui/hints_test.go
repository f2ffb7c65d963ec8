package ui

import (
	"fmt"
	"strings"
	"testing"

	"capship/store"
	"capship/store/release"
)

// The wizard's advice on refusals from store and release speaks of keys,
// never of command-line flags.
func TestHintsAreKeys(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("register com.example.shop 1.4.0: %w", err) }
	for _, c := range []struct {
		hint, want string
	}{
		{registerHint(wrap(store.ErrVersionNotNewer)), "pick another channel"},
		{registerHint(wrap(store.ErrDuplicateVersion)), "build a new version"},
		{registerHint(wrap(store.ErrForbidden)), "token made for this app"},
		{registerHint(wrap(store.ErrUnauthorized)), "token made for this app"},
		{registerHint(wrap(store.ErrInvalid)), "change the channel"},
		{keyHint("creating", wrap(&release.KeyExistsError{AppID: "com.example.shop"})), "never replaces a key"},
		{keyHint("importing", wrap(store.ErrInvalid)), "Check the path"},
	} {
		if !strings.Contains(c.hint, c.want) || strings.Contains(c.hint, "--") {
			t.Errorf("hint %q: want it to say %q, and no flag", c.hint, c.want)
		}
	}
}
