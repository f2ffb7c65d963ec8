package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrNativeChange means a release's native packages differ from those of
// the release the channel serves: devices with the installed native app
// lack what the new web bundle may call. The error is a
// *NativeChangeError naming each change.
var ErrNativeChange = errors.New("the release's native packages differ from the release the channel serves")

// NativeChange is one native package that differs between two releases.
// From is "" for an added package, To is "" for a removed one.
type NativeChange struct {
	Name string `json:"name"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// String reads as "@capacitor/camera 6.0.0 → 6.1.0 changed",
// "@capgo/foo 1.0.0 added" or "@capgo/bar 2.0.0 removed".
func (c NativeChange) String() string {
	switch {
	case c.From == "":
		return fmt.Sprintf("%s %s added", c.Name, c.To)
	case c.To == "":
		return fmt.Sprintf("%s %s removed", c.Name, c.From)
	}
	return fmt.Sprintf("%s %s → %s changed", c.Name, c.From, c.To)
}

// NativeDiff lists what changes from the native packages from to those of
// to, sorted by name. An empty version counts as a version of its own.
func NativeDiff(from, to map[string]string) []NativeChange {
	var out []NativeChange
	for name, v := range from {
		w, ok := to[name]
		switch {
		case !ok:
			out = append(out, NativeChange{Name: name, From: orUnknown(v)})
		case v != w:
			out = append(out, NativeChange{Name: name, From: orUnknown(v), To: orUnknown(w)})
		}
	}
	for name, w := range to {
		if _, ok := from[name]; !ok {
			out = append(out, NativeChange{Name: name, To: orUnknown(w)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func orUnknown(v string) string {
	if v == "" {
		return "(no version)"
	}
	return v
}

// NativeChangeError is ErrNativeChange with its facts: the channel, the
// version it serves, the version refused and each change. Callers add the
// way out (a minimum native version, or accepting the change).
type NativeChangeError struct {
	AppID, Channel string
	Current        string // the version the channel serves
	Version        string // the version refused
	Changes        []NativeChange
}

func (e *NativeChangeError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = c.String()
	}
	return fmt.Sprintf("%s %s changes native packages from %s on channel %s: %s; devices running the installed native app lack them, and the web bundle may call what is missing",
		e.AppID, e.Version, e.Current, e.Channel, strings.Join(parts, ", "))
}

// Unwrap makes the error match ErrNativeChange.
func (e *NativeChangeError) Unwrap() error { return ErrNativeChange }

// CheckNative refuses in when its native packages differ from those of
// served, the release its channel serves now (nil for none), unless in
// sets a minimum native version or allows the change. A release on either
// side without recorded packages passes. Register runs it in its
// transaction; a caller may run it first to refuse before a long upload
// check.
func CheckNative(in *RegisterInput, served *Release) error {
	if served == nil || served.NativePackages == nil || !in.checksNative() {
		return nil
	}
	if changes := NativeDiff(served.NativePackages, in.NativePackages); len(changes) > 0 {
		return &NativeChangeError{AppID: in.AppID, Channel: in.Channel, Current: served.Version, Version: in.Version, Changes: changes}
	}
	return nil
}

// checksNative reports whether in's native packages are to be compared:
// recorded, and neither a minimum native version nor the change allowed.
func (in *RegisterInput) checksNative() bool {
	return in.NativePackages != nil && !in.AllowNativeChange && in.MinNative == ""
}

// encodeNative is the column value of a release's native packages: NULL
// when not recorded.
func encodeNative(m map[string]string) (sql.NullString, error) {
	if m == nil {
		return sql.NullString{}, nil
	}
	data, err := json.Marshal(m) // sorted by name
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(data), Valid: true}, nil
}

func decodeNative(s sql.NullString) (map[string]string, error) {
	if !s.Valid {
		return nil, nil
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s.String), &m); err != nil {
		return nil, fmt.Errorf("%w: a release's native packages are not a JSON object: %v", ErrCorrupt, err)
	}
	return m, nil
}

// checkChannelNative reads the native packages of the release the locked
// channel serves and refuses in when they differ (checkNative).
func (r *sqlRegistry) checkChannelNative(ctx context.Context, tx *sql.Tx, in *RegisterInput, ch *chanRow) error {
	if !ch.releaseID.Valid || !in.checksNative() {
		return nil
	}
	var current sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT native_packages FROM releases WHERE id = $1`, ch.releaseID.Int64).Scan(&current); err != nil {
		return err
	}
	served, err := decodeNative(current)
	if err != nil {
		return err
	}
	return CheckNative(in, &Release{Version: ch.releaseVersion.String, NativePackages: served})
}

// maxNativePackages bounds the native packages of one release; apps have
// a few dozen at most.
const maxNativePackages = 1000

// validNative checks the native packages of a registration: npm-like
// names and versions of sane length.
func validNative(m map[string]string) error {
	if len(m) > maxNativePackages {
		return hinted(ErrInvalid, "native_packages lists %d packages, more than %d", len(m), maxNativePackages)
	}
	for name, v := range m {
		if name == "" || len(name) > 214 || len(v) > 256 || !utf8.ValidString(name+v) || strings.ContainsAny(name+v, "\x00\n\r") {
			return hinted(ErrInvalid, "native_packages: %q %q is not an npm package name and version", name, v)
		}
	}
	return nil
}
