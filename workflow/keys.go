package workflow

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// KeyBits is the only RSA size Capgo devices accept (spec §1): the plugin
// rejects any RSA block that is not exactly 256 bytes.
const KeyBits = 2048

const (
	privateKeyType = "RSA PRIVATE KEY" // PKCS#1, what Capgo writes to .capgo_key_v2
	publicKeyType  = "RSA PUBLIC KEY"  // PKCS#1, the only form the plugin reads
	maxKeyFileSize = 64 << 10
)

var (
	// ErrKeyMismatch means a public key does not belong to a private key.
	ErrKeyMismatch = errors.New("the public key does not belong to the private key")
	// ErrKeySize means a key is not RSA-2048.
	ErrKeySize = errors.New("only RSA-2048 keys work with the Capgo plugin")
	// ErrKeyFormat means the PEM text is not the PKCS#1 form the spec requires.
	ErrKeyFormat = errors.New("unsupported key format")
)

// GenerateKey returns a new RSA-2048 private key with e = 65537.
func GenerateKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// EncodePrivateKey returns key as a PKCS#1 PEM ("BEGIN RSA PRIVATE KEY") with
// LF line breaks, the format of Capgo's .capgo_key_v2.
func EncodePrivateKey(key *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: privateKeyType, Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// EncodePublicKey returns pub as a PKCS#1 PEM ("BEGIN RSA PUBLIC KEY") with
// LF line breaks, the form the plugin reads from the Capacitor config.
func EncodePublicKey(pub *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyType, Bytes: x509.MarshalPKCS1PublicKey(pub)})
}

// ParsePrivateKey reads a PKCS#1 PEM private key and refuses every other
// format and every size but 2048 bits with an error saying what to do.
func ParsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, err := decodeOnePEM(data, "private")
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case privateKeyType:
	case "PRIVATE KEY":
		if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
			if _, ok := k.(*rsa.PrivateKey); !ok {
				return nil, fmt.Errorf("parse private key: %w: this is %s key; devices only accept RSA-2048: make a new RSA-2048 pair", ErrKeyFormat, keyKind(k))
			}
		}
		return nil, fmt.Errorf("parse private key: %w: this is a PKCS#8 key (BEGIN PRIVATE KEY); Capgo needs PKCS#1 (BEGIN RSA PRIVATE KEY): convert it with 'openssl rsa -in KEY -traditional' or make a new RSA-2048 pair", ErrKeyFormat)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("parse private key: %w: the key is protected by a passphrase; export it without one in PKCS#1 form (BEGIN RSA PRIVATE KEY)", ErrKeyFormat)
	case "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("parse private key: %w: this is an OpenSSH key; Capgo needs an RSA key in PKCS#1 PEM form: make a new RSA-2048 pair", ErrKeyFormat)
	case publicKeyType, "PUBLIC KEY":
		return nil, fmt.Errorf("parse private key: %w: this is a public key; pass the private key (BEGIN RSA PRIVATE KEY)", ErrKeyFormat)
	default:
		return nil, fmt.Errorf("parse private key: %w: found %q; Capgo needs BEGIN RSA PRIVATE KEY", ErrKeyFormat, block.Type)
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted {
		return nil, fmt.Errorf("parse private key: %w: the key is protected by a passphrase; export it without one", ErrKeyFormat)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w: the PEM body is not a valid PKCS#1 RSA key", ErrKeyFormat)
	}
	if err := checkKeySize(&key.PublicKey); err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return key, nil
}

// ParsePublicKey reads a PKCS#1 PEM public key ("BEGIN RSA PUBLIC KEY").
// An SPKI key ("BEGIN PUBLIC KEY") is refused: the plugin silently ignores it.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	block, err := decodeOnePEM(data, "public")
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case publicKeyType:
	case "PUBLIC KEY":
		return nil, fmt.Errorf("parse public key: %w: this is an SPKI key (BEGIN PUBLIC KEY), which the Capgo plugin silently ignores; it needs PKCS#1 (BEGIN RSA PUBLIC KEY): convert it with 'openssl rsa -pubin -in KEY -RSAPublicKey_out'", ErrKeyFormat)
	case privateKeyType, "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY":
		return nil, fmt.Errorf("parse public key: %w: this is a private key; pass the public key (BEGIN RSA PUBLIC KEY) and keep the private one secret", ErrKeyFormat)
	default:
		return nil, fmt.Errorf("parse public key: %w: found %q; Capgo needs BEGIN RSA PUBLIC KEY", ErrKeyFormat, block.Type)
	}
	pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w: the PEM body is not a valid PKCS#1 RSA public key", ErrKeyFormat)
	}
	if err := checkKeySize(pub); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return pub, nil
}

// ParseConfigPublicKey reads the publicKey text of a Capacitor config the
// way devices need it (spec §1–2): besides ParsePublicKey's rules, LF line
// breaks only (a CR makes iOS apps crash at launch) and no spaces or tabs
// on any line but the BEGIN and END lines themselves (iOS cannot read such
// base64; an indented template literal in capacitor.config.ts has them).
func ParseConfigPublicKey(text string) (*rsa.PublicKey, error) {
	if strings.ContainsRune(text, '\r') {
		return nil, fmt.Errorf("parse public key: %w: the text has CR line breaks, which make iOS apps crash at launch; write it with LF only", ErrKeyFormat)
	}
	for _, line := range strings.Split(text, "\n") {
		if line == "-----BEGIN "+publicKeyType+"-----" || line == "-----END "+publicKeyType+"-----" {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("parse public key: %w: a line holds spaces or tabs (indentation?), which iOS cannot read; write the PEM text without them", ErrKeyFormat)
		}
	}
	return ParsePublicKey([]byte(text))
}

// decodeOnePEM returns the single PEM block in data, read leniently as
// text pasted into a CI secret or saved on Windows may be (cleanPEM).
func decodeOnePEM(data []byte, kind string) (*pem.Block, error) {
	data = cleanPEM(data)
	block, rest := pem.Decode(data)
	if block == nil {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("parse %s key: %w: the key is empty", kind, ErrKeyFormat)
		}
		return nil, fmt.Errorf("parse %s key: %w: no PEM block found (a key starts with -----BEGIN)", kind, ErrKeyFormat)
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("parse %s key: %w: more than one PEM block; pass exactly one key", kind, ErrKeyFormat)
	}
	return block, nil
}

// cleanPEM returns PEM text with a leading byte order mark dropped, CRLF
// and lone CR line breaks made LF, and the spaces and tabs around every
// line removed: pem.Decode finds no block behind an indented BEGIN line.
func cleanPEM(data []byte) []byte {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	data = bytes.ReplaceAll(data, []byte("\r"), []byte("\n"))
	lines := bytes.Split(data, []byte("\n"))
	for i, line := range lines {
		lines[i] = bytes.Trim(line, " \t")
	}
	return bytes.Join(lines, []byte("\n"))
}

func checkKeySize(pub *rsa.PublicKey) error {
	if bits := pub.N.BitLen(); bits != KeyBits {
		return fmt.Errorf("key is RSA-%d: %w; make a new RSA-2048 pair", bits, ErrKeySize)
	}
	if pub.E != 65537 {
		return fmt.Errorf("%w: public exponent is %d, want 65537", ErrKeyFormat, pub.E)
	}
	return nil
}

// ReadPrivateKeyFile reads and parses a private key file, such as Capgo's
// .capgo_key_v2.
func ReadPrivateKeyFile(path string) (*rsa.PrivateKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := ParsePrivateKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// ReadPublicKeyFile reads and parses a public key file, such as Capgo's
// .capgo_key_v2.pub.
func ReadPublicKeyFile(path string) (*rsa.PublicKey, error) {
	data, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("read key file %s: larger than %d KiB, not a key", path, maxKeyFileSize>>10)
	}
	return data, nil
}

// WriteKeyFile creates path with mode 0600 and writes data to it. It never
// overwrites: an existing file is an error wrapping fs.ErrExist. A failed
// write removes the file again.
func WriteKeyFile(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key file: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write key file %s: %w", path, cerr)
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write key file %s: %w", path, err)
	}
	return nil
}

// KeyID is Capgo's key id (spec §1): the first 20 characters of the public
// PEM without its BEGIN/END lines and white space. Devices send it as key_id.
// It is weak as an identity; use Fingerprint for our own records.
func KeyID(pub *rsa.PublicKey) string {
	return KeyIDFromPEM(string(EncodePublicKey(pub)))
}

// KeyIDFromPEM computes the key id from public key PEM text as it appears in
// a Capacitor config, exactly as the plugin does.
func KeyIDFromPEM(pemText string) string {
	var b strings.Builder
	for _, line := range strings.Split(pemText, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "-----BEGIN") || strings.HasPrefix(line, "-----END") {
			continue
		}
		for _, r := range line {
			if r != ' ' && r != '\t' && r != '\r' {
				b.WriteRune(r)
			}
		}
	}
	s := b.String()
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

// Fingerprint is "sha256:" and the lowercase hex SHA-256 of pub's SPKI
// (PKIX) DER encoding: a strong identity for the key.
func Fingerprint(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// Only unsupported key types fail; *rsa.PublicKey is supported.
		panic(fmt.Sprintf("marshal public key: %v", err))
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// CheckPair returns ErrKeyMismatch unless pub is priv's public key.
func CheckPair(priv *rsa.PrivateKey, pub *rsa.PublicKey) error {
	if priv == nil || pub == nil || !priv.PublicKey.Equal(pub) {
		return ErrKeyMismatch
	}
	return nil
}

// ConfigKey is how the publicKey of a Capacitor config relates to a key.
type ConfigKey int

const (
	ConfigKeyMissing  ConfigKey = iota // the config holds no publicKey
	ConfigKeyUnusable                  // devices cannot use the text (the error says why)
	ConfigKeyDiffers                   // a usable key, but another one
	ConfigKeyMatches
)

// CompareConfigKey judges the publicKey text of a Capacitor config against
// pub by the rules devices apply (ParseConfigPublicKey). It also returns
// the config's key when the text parses, and the parse error when it is
// unusable.
func CompareConfigKey(configPEM string, pub *rsa.PublicKey) (ConfigKey, *rsa.PublicKey, error) {
	if strings.TrimSpace(configPEM) == "" {
		return ConfigKeyMissing, nil, nil
	}
	cfg, err := ParseConfigPublicKey(configPEM)
	switch {
	case err != nil:
		return ConfigKeyUnusable, nil, err
	case !cfg.Equal(pub):
		return ConfigKeyDiffers, cfg, nil
	}
	return ConfigKeyMatches, cfg, nil
}

// keyKind names a non-RSA private key for an error message.
func keyKind(k any) string {
	switch k.(type) {
	case ed25519.PrivateKey:
		return "an Ed25519"
	case *ecdsa.PrivateKey:
		return "an ECDSA"
	default:
		return "a non-RSA"
	}
}
