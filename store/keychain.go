package store

// The OS keychain (macOS Keychain, Windows Credential Manager, Secret
// Service on Linux) through github.com/zalando/go-keyring.
//
// Layout under one service name ("capship"):
//   user "<appId>"                         the app's current private key (PEM)
//   user "<appId>@archived-<RFC3339>"      a key replaced by `key create --force`
//   user "capship:index", "capship:index.2", ...
//                                          the names above, one per line
//
// go-keyring cannot list entries, so the index records which names exist.
// It holds names only, never key material or derived data: a key's id and
// fingerprint are computed from the secret itself when listed, so the index
// cannot disagree with what is stored. The secrets stay reachable by name
// even if the index is lost. Every stored value, index pages included, is at
// most MaxSecretBytes (the Windows Credential Manager limit). Nothing is
// ever written to a file.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// KeychainService is the keychain service name capship uses.
const KeychainService = "capship"

// MaxSecretBytes is the largest value capship stores in the keychain: the
// Windows Credential Manager limit (macOS allows about 3000 bytes). An
// RSA-2048 private PEM is about 1,700 bytes.
const MaxSecretBytes = 2560

const (
	indexUser     = "capship:index"
	archiveMarker = "@archived-"
)

// Errors for the expected branches.
var (
	// ErrNoKey: the keychain works but holds no key under that name.
	ErrNoKey = errors.New("no key in the keychain")
	// ErrNoKeychain: there is no usable keychain (no session bus, no
	// Secret Service, a locked collection).
	ErrNoKeychain = errors.New("no usable OS keychain")
	// ErrKeyExists: Set refuses to overwrite a key; use Replace.
	ErrKeyExists = errors.New("the app already has a key in the keychain")
	// ErrSecretTooBig: the value exceeds MaxSecretBytes.
	ErrSecretTooBig = errors.New("value too big for the keychain")
)

var errKeychainFailed = errors.New("keychain error")

// keychainKind names the OS keychain go-keyring uses on this system.
func keychainKind() string {
	switch runtime.GOOS {
	case "darwin":
		return "macOS Keychain"
	case "windows":
		return "Windows Credential Manager"
	default:
		return "Secret Service"
	}
}

// KeychainError is a keychain failure explained for a person. It wraps both
// a sentinel (ErrNoKeychain or ErrSecretTooBig, say) and go-keyring's raw error.
type KeychainError struct {
	Op     string // what was attempted, e.g. "read key com.example.app"
	Kind   error  // sentinel
	Reason string // what is wrong, in words
	Hint   string // what to do about the keychain itself; a caller adds its own way around it
	Cause  error  // go-keyring's error
}

func (e *KeychainError) Error() string {
	msg := e.Op + ": " + e.Reason
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	if e.Cause != nil {
		msg += " (" + e.Cause.Error() + ")"
	}
	return msg
}

func (e *KeychainError) Unwrap() []error { return []error{e.Kind, e.Cause} }

// Keychain stores private keys in the OS keychain under one service name.
type Keychain struct {
	service string
	now     func() time.Time
}

// NewKeychain returns the keychain under service ("capship" in production;
// tests use their own names).
func NewKeychain(service string) *Keychain {
	return &Keychain{service: service, now: time.Now}
}

// Service is the keychain service name.
func (k *Keychain) Service() string { return k.service }

// Where says in words where the keys are stored, for people.
func (k *Keychain) Where() string {
	return fmt.Sprintf("OS keychain (%s), service %q", keychainKind(), k.service)
}

// KeyEntry is one key in the keychain.
type KeyEntry struct {
	Name       string    `json:"name"` // the keychain user: appId, or appId@archived-<time>
	AppID      string    `json:"app_id"`
	Archived   bool      `json:"archived"`
	ArchivedAt time.Time `json:"archived_at,omitzero"`
}

// ParseKeyName splits a keychain entry name into its app id and, for an
// archived key, the time it was archived.
func ParseKeyName(name string) (KeyEntry, error) {
	appID, stamp, archived := strings.Cut(name, archiveMarker)
	if err := validName("app id", appID); err != nil {
		return KeyEntry{}, err
	}
	e := KeyEntry{Name: name, AppID: appID, Archived: archived}
	if archived {
		t, err := time.Parse(time.RFC3339, stamp)
		if err != nil {
			return KeyEntry{}, fmt.Errorf("%w: %q is not an app id or an archived key name (appId%s<RFC3339 time>)", ErrInvalid, name, archiveMarker)
		}
		e.ArchivedAt = t
	}
	return e, nil
}

// Get returns the PEM stored under name: an app id, or an archived key's
// name as List reports it. ErrNoKey when there is none.
func (k *Keychain) Get(name string) ([]byte, error) {
	if _, err := ParseKeyName(name); err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	v, err := keyring.Get(k.service, name)
	if err != nil {
		return nil, k.explain("read key "+name, err)
	}
	return []byte(v), nil
}

// Has reports whether a key is stored under name.
func (k *Keychain) Has(name string) (bool, error) {
	_, err := k.Get(name)
	if errors.Is(err, ErrNoKey) {
		return false, nil
	}
	return err == nil, err
}

// Set stores pem as appID's key. It refuses to overwrite an existing key
// (ErrKeyExists): Replace keeps the old one.
func (k *Keychain) Set(appID string, pem []byte) error {
	if err := validName("app id", appID); err != nil {
		return fmt.Errorf("store key: %w", err)
	}
	has, err := k.Has(appID)
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("store key %s: %w", appID, ErrKeyExists)
	}
	return k.put(appID, pem)
}

// Replace stores pem as appID's key. An existing key is first copied to an
// archived entry (which List shows and Get reads) and read back, so it is
// never lost; its name is returned ("" when there was no key).
func (k *Keychain) Replace(appID string, pem []byte) (archived string, err error) {
	if err := validName("app id", appID); err != nil {
		return "", fmt.Errorf("store key: %w", err)
	}
	if len(pem) > MaxSecretBytes {
		return "", k.tooBig("store key "+appID, len(pem))
	}
	old, err := k.Get(appID)
	if err != nil && !errors.Is(err, ErrNoKey) {
		return "", err
	}
	if err == nil {
		if archived, err = k.archiveName(appID); err != nil {
			return "", err
		}
		if err := k.put(archived, old); err != nil {
			return "", fmt.Errorf("archive old key: %w", err)
		}
		back, err := k.Get(archived)
		if err != nil || string(back) != string(old) {
			return "", fmt.Errorf("archive old key %s: it did not read back; the old key is unchanged", archived)
		}
	}
	if err := k.put(appID, pem); err != nil {
		return archived, err
	}
	return archived, nil
}

// archiveName picks a free "<appId>@archived-<now>" name.
func (k *Keychain) archiveName(appID string) (string, error) {
	t := k.now().UTC().Truncate(time.Second)
	for range 100 {
		name := appID + archiveMarker + t.Format(time.RFC3339)
		has, err := k.Has(name)
		if err != nil {
			return "", err
		}
		if !has {
			return name, nil
		}
		t = t.Add(time.Second)
	}
	return "", fmt.Errorf("archive old key of %s: no free archive name", appID)
}

// put writes a secret and records its name in the index.
func (k *Keychain) put(name string, pem []byte) error {
	op := "store key " + name
	if len(pem) > MaxSecretBytes {
		return k.tooBig(op, len(pem))
	}
	if err := keyring.Set(k.service, name, string(pem)); err != nil {
		return k.explain(op, err)
	}
	names, err := k.readIndex()
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		return k.writeIndex(append(names, name))
	}
	return nil
}

// Delete removes the key stored under name (an app id or an archived name).
func (k *Keychain) Delete(name string) error {
	if _, err := ParseKeyName(name); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	if err := keyring.Delete(k.service, name); err != nil {
		return k.explain("delete key "+name, err)
	}
	names, err := k.readIndex()
	if err != nil {
		return err
	}
	return k.writeIndex(slices.DeleteFunc(names, func(n string) bool { return n == name }))
}

// List returns the keys the index knows, current keys first, each app's
// archived keys newest first. An entry whose secret was removed behind
// capship's back is still listed; Get then says ErrNoKey.
func (k *Keychain) List() ([]KeyEntry, error) {
	names, err := k.readIndex()
	if err != nil {
		return nil, err
	}
	var out []KeyEntry
	for _, n := range names {
		e, err := ParseKeyName(n)
		if err != nil {
			continue // not ours; never fail listing over it
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b KeyEntry) int {
		if c := strings.Compare(a.AppID, b.AppID); c != 0 {
			return c
		}
		if a.Archived != b.Archived {
			if a.Archived {
				return 1
			}
			return -1
		}
		return b.ArchivedAt.Compare(a.ArchivedAt)
	})
	return out, nil
}

func indexPage(i int) string {
	if i == 0 {
		return indexUser
	}
	return fmt.Sprintf("%s.%d", indexUser, i+1)
}

// readIndex returns the names recorded in the index pages.
func (k *Keychain) readIndex() ([]string, error) {
	var names []string
	for i := 0; ; i++ {
		v, err := keyring.Get(k.service, indexPage(i))
		if errors.Is(err, keyring.ErrNotFound) {
			return names, nil
		}
		if err != nil {
			return nil, k.explain("read key index", err)
		}
		for _, n := range strings.Split(v, "\n") {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
}

// writeIndex stores names sorted, split into pages of at most
// MaxSecretBytes, and removes pages no longer needed.
func (k *Keychain) writeIndex(names []string) error {
	names = slices.Clone(names)
	slices.Sort(names)
	var pages []string
	var cur strings.Builder
	for _, n := range names {
		if cur.Len()+len(n)+1 > MaxSecretBytes {
			pages = append(pages, cur.String())
			cur.Reset()
		}
		cur.WriteString(n + "\n")
	}
	if cur.Len() > 0 {
		pages = append(pages, cur.String())
	}
	for i, p := range pages {
		if err := keyring.Set(k.service, indexPage(i), p); err != nil {
			return k.explain("write key index", err)
		}
	}
	for i := len(pages); ; i++ {
		err := keyring.Delete(k.service, indexPage(i))
		if errors.Is(err, keyring.ErrNotFound) {
			return nil
		}
		if err != nil {
			return k.explain("write key index", err)
		}
	}
}

func (k *Keychain) tooBig(op string, n int) error {
	return &KeychainError{Op: op, Kind: ErrSecretTooBig,
		Reason: fmt.Sprintf("%d bytes is more than the %d bytes every OS keychain accepts", n, MaxSecretBytes),
		Hint:   "capship keys are RSA-2048 PEMs of about 1,700 bytes; check the file is a single PKCS#1 private key"}
}

// explain turns go-keyring's raw errors into sentences with the way out.
func (k *Keychain) explain(op string, err error) error {
	if errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("%s: %w (service %q)", op, ErrNoKey, k.service)
	}
	if errors.Is(err, keyring.ErrSetDataTooBig) {
		return &KeychainError{Op: op, Kind: ErrSecretTooBig, Reason: "the OS keychain refused the value as too big", Cause: err}
	}
	raw := err.Error()
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(raw, s) {
				return true
			}
		}
		return false
	}
	e := &KeychainError{Op: op, Kind: ErrNoKeychain, Cause: err}
	switch {
	case has("dbus-launch", "$DISPLAY", "autolaunch"):
		e.Reason = "no D-Bus session bus is running, so there is no Secret Service to keep keys in"
		e.Hint = "start a desktop session (or run under `dbus-run-session` with gnome-keyring or KeePassXC)"
	case has("was not provided by any .service files", "ServiceUnknown", "org.freedesktop.secrets"):
		e.Reason = "no Secret Service (gnome-keyring, KeePassXC) is running on the session bus"
		e.Hint = "install and start one, e.g. `apt install gnome-keyring`"
	case has("failed to unlock", "locked", "dismissed"):
		e.Reason = "the keychain is locked and could not be unlocked"
		e.Hint = "unlock it (log in to the desktop, or `gnome-keyring-daemon --unlock`)"
	case has("dial unix", "connection refused", "no such file or directory", "DBUS_SESSION_BUS_ADDRESS", "dbus: "):
		e.Reason = fmt.Sprintf("cannot reach the D-Bus session bus (DBUS_SESSION_BUS_ADDRESS=%q)", os.Getenv("DBUS_SESSION_BUS_ADDRESS"))
		e.Hint = "start a desktop session or fix DBUS_SESSION_BUS_ADDRESS"
	default:
		e.Kind = errKeychainFailed
		e.Reason = "the OS keychain failed"
	}
	return e
}
