package store

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

// semverOf returns v in golang.org/x/mod/semver's form ("v" + v) when v is
// a full MAJOR.MINOR.PATCH version with optional pre-release and build
// parts, the only form the plugin accepts; "" otherwise.
func semverOf(v string) string {
	if strings.HasPrefix(v, "v") || !semver.IsValid("v"+v) {
		return ""
	}
	// semver.IsValid also accepts the shorthands 1 and 1.2; Canonical
	// fills them in, so a full version keeps its core unchanged.
	core, _, _ := strings.Cut(strings.SplitN(v, "+", 2)[0], "-")
	if strings.Count(core, ".") != 2 {
		return ""
	}
	return "v" + v
}

// compareVersions orders by SemVer precedence; versions that are not
// semver (such as the plugin's "builtin") sort before all others.
func compareVersions(a, b string) int {
	return semver.Compare(semverOf(a), semverOf(b))
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	hex64       = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hex512      = regexp.MustCompile(`^[0-9a-f]{512}$`)
)

// validName checks an app id, channel or token name: letters, digits, '.',
// '_' and '-', up to 128 characters.
func validName(what, name string) error {
	if !namePattern.MatchString(name) {
		return hinted(ErrInvalid, "%s %q: use letters, digits, '.', '_' and '-' (up to 128, starting with a letter or digit)", what, name)
	}
	return nil
}

// ValidAppID checks an app id by the registry's rule, for the parts of
// capship that take one from a request before the registry sees it (the
// server's object storage keys).
func ValidAppID(appID string) error { return validName("app id", appID) }

// Validate checks the fields Register records, the way a device will use
// them, so that a release that could never install is refused up front.
func (in *RegisterInput) Validate() error {
	if err := validName("app id", in.AppID); err != nil {
		return err
	}
	if semverOf(in.Version) == "" {
		return hinted(ErrInvalid, "version %q is not MAJOR.MINOR.PATCH (e.g. 1.2.3 or 1.2.3-beta.1)", in.Version)
	}
	if in.Channel != "" {
		if err := validName("channel", in.Channel); err != nil {
			return err
		}
	}
	if in.MinNative != "" && !semver.IsValid("v"+in.MinNative) {
		return hinted(ErrInvalid, "minimum native version %q is not a version like 1.2.3", in.MinNative)
	}
	if err := validBundleURL("bundle url", in.URL); err != nil {
		return err
	}
	if err := validNative(in.NativePackages); err != nil {
		return err
	}
	switch {
	case in.Size <= 0:
		return hinted(ErrInvalid, "size %d: the manifest's size of the encrypted file must be positive", in.Size)
	case !hex64.MatchString(in.SHA256):
		return hinted(ErrInvalid, "sha256 must be 64 lowercase hex digits (the manifest's sha256)")
	case !hex64.MatchString(in.ZipSHA256):
		return hinted(ErrInvalid, "zip_sha256 must be 64 lowercase hex digits (the manifest's zip_sha256)")
	case !hex512.MatchString(in.Checksum):
		return hinted(ErrInvalid, "checksum must be the encrypted checksum: 512 lowercase hex digits (rebuild the bundle with capship)")
	case len(in.KeyID) != 20:
		return hinted(ErrInvalid, "key_id must be the 20-character key id of the public key")
	case !strings.HasPrefix(in.KeyFingerprint, "sha256:") || !hex64.MatchString(strings.TrimPrefix(in.KeyFingerprint, "sha256:")):
		return hinted(ErrInvalid, "key_fingerprint must be \"sha256:\" and 64 lowercase hex digits")
	}
	if err := validSessionKey(in.SessionKey); err != nil {
		return err
	}
	return in.validFiles()
}

// validBundleURL applies the rule every bundle URL follows (the same as
// the CLI's and the wizard's): https://, or http:// on a loopback host for
// local testing; never credentials (every device would receive them) or a
// fragment (never sent to the server). It is checked here again because the
// admin API takes URLs from any client.
func validBundleURL(what, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return hinted(ErrInvalid, "%s %q is not an https:// URL", what, raw)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return hinted(ErrInvalid, "%s %q: devices require https:// (plain http is only accepted for 127.0.0.1, ::1 and localhost)", what, raw)
	case u.User != nil:
		return hinted(ErrInvalid, "%s of %s carries a user name or password, which every device would receive: use a link that needs no credentials", what, u.Host)
	case u.Fragment != "":
		return hinted(ErrInvalid, "%s %q has a #fragment, which is never sent to the server: remove it", what, raw)
	}
	return nil
}

// validSessionKey checks the ivSessionKey form: base64(16-byte IV) ":"
// base64(256-byte RSA block), standard padded base64 (spec §2.5).
func validSessionKey(s string) error {
	iv, block, ok := strings.Cut(s, ":")
	if ok {
		a, errA := base64.StdEncoding.Strict().DecodeString(iv)
		b, errB := base64.StdEncoding.Strict().DecodeString(block)
		if errA == nil && errB == nil && len(a) == 16 && len(b) == 256 {
			return nil
		}
	}
	return hinted(ErrInvalid, "session_key must be base64(16-byte IV):base64(256-byte RSA block) (rebuild the bundle with capship)")
}
