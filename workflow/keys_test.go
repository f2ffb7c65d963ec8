package workflow

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testKeyFile returns the contents of a committed test key.
func testKeyFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "keys", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testPrivateKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	key, err := ParsePrivateKey(testKeyFile(t, name))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return key
}

func testPublicKey(t testing.TB, name string) *rsa.PublicKey {
	t.Helper()
	pub, err := ParsePublicKey(testKeyFile(t, name))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return pub
}

// testPrivateKeyAnySize parses a PKCS#1 key without the 2048-bit rule, to
// hand a wrong-size key to the functions that must refuse it.
func testPrivateKeyAnySize(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(testKeyFile(t, name))
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestGenerateKeyRoundTrip(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 || key.E != 65537 {
		t.Fatalf("got RSA-%d e=%d, want RSA-2048 e=65537", key.N.BitLen(), key.E)
	}
	privPEM, pubPEM := EncodePrivateKey(key), EncodePublicKey(&key.PublicKey)
	for _, c := range []struct {
		pem   []byte
		first string
	}{{privPEM, "-----BEGIN RSA PRIVATE KEY-----\n"}, {pubPEM, "-----BEGIN RSA PUBLIC KEY-----\n"}} {
		if !bytes.HasPrefix(c.pem, []byte(c.first)) {
			t.Errorf("PEM starts %q, want %q", c.pem[:min(len(c.pem), 40)], c.first)
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(c.pem), "\n"), "\n") {
			if strings.ContainsAny(line, "\r\t") || !strings.HasPrefix(line, "-----") && strings.Contains(line, " ") {
				t.Errorf("PEM line %q holds CR, tab or space", line)
			}
		}
	}
	back, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Equal(key) {
		t.Fatal("private key changed in a round trip")
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckPair(back, pub); err != nil {
		t.Fatal(err)
	}
	if id := KeyID(pub); len(id) != 20 || id != KeyIDFromPEM(string(pubPEM)) {
		t.Fatalf("KeyID = %q, KeyIDFromPEM = %q", id, KeyIDFromPEM(string(pubPEM)))
	}
	if fp := Fingerprint(pub); !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(fp) {
		t.Fatalf("Fingerprint = %q", fp)
	}
}

// The committed pair was made by OpenSSL; vector.json holds its key id and
// fingerprint as computed by the shell and OpenSSL (testdata/vectors/make.sh).
func TestKeysMatchOpenSSL(t *testing.T) {
	v := readVector(t)
	pubPEM := testKeyFile(t, "test.pub.pem")
	pub := testPublicKey(t, "test.pub.pem")
	if got := EncodePublicKey(pub); !bytes.Equal(got, pubPEM) {
		t.Errorf("EncodePublicKey differs from OpenSSL's PKCS#1 PEM:\n%s\nwant\n%s", got, pubPEM)
	}
	key := testPrivateKey(t, "test.pem")
	if got := EncodePrivateKey(key); !bytes.Equal(got, testKeyFile(t, "test.pem")) {
		t.Errorf("EncodePrivateKey differs from OpenSSL's PKCS#1 PEM")
	}
	if got := KeyID(pub); got != v.KeyID {
		t.Errorf("KeyID = %q, want %q", got, v.KeyID)
	}
	if got := KeyIDFromPEM(strings.ReplaceAll(string(pubPEM), "\n", "\r\n")); got != v.KeyID {
		t.Errorf("KeyIDFromPEM(CRLF) = %q, want %q", got, v.KeyID)
	}
	if got := Fingerprint(pub); got != v.KeyFingerprint {
		t.Errorf("Fingerprint = %q, want %q", got, v.KeyFingerprint)
	}
	if err := CheckPair(key, pub); err != nil {
		t.Errorf("CheckPair: %v", err)
	}
	if err := CheckPair(key, testPublicKey(t, "other.pub.pem")); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("CheckPair with another key: %v, want ErrKeyMismatch", err)
	}
	if err := CheckPair(key, nil); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("CheckPair with nil: %v, want ErrKeyMismatch", err)
	}
}

func TestParsePrivateKeyRefuses(t *testing.T) {
	good := testKeyFile(t, "test.pem")
	block, _ := pem.Decode(good)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: block.Bytes})
	corrupt := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: block.Bytes[:len(block.Bytes)-9]})
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	ed := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER})
	for _, c := range []struct {
		name    string
		data    []byte
		is      error
		mention string
	}{
		{"empty", nil, ErrKeyFormat, "empty"},
		{"not PEM", []byte("hello"), ErrKeyFormat, "no PEM block"},
		{"PKCS#8", testKeyFile(t, "test.pkcs8.pem"), ErrKeyFormat, "PKCS#8"},
		{"PKCS#8 Ed25519", ed, ErrKeyFormat, "an Ed25519 key; devices only accept RSA-2048"},
		{"public key", testKeyFile(t, "test.pub.pem"), ErrKeyFormat, "public key"},
		{"SPKI public key", testKeyFile(t, "test.spki.pem"), ErrKeyFormat, "public key"},
		{"RSA-3072", testKeyFile(t, "rsa3072.pem"), ErrKeySize, "RSA-3072"},
		{"RSA-4096", testKeyFile(t, "rsa4096.pem"), ErrKeySize, "RSA-4096"},
		{"two keys", append(append([]byte{}, good...), testKeyFile(t, "other.pem")...), ErrKeyFormat, "more than one"},
		{"passphrase", encrypted, ErrKeyFormat, "passphrase"},
		{"corrupt body", corrupt, ErrKeyFormat, "not a valid PKCS#1"},
		{"OpenSSH", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), ErrKeyFormat, "OpenSSH"},
		{"EC", []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), ErrKeyFormat, `"EC PRIVATE KEY"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePrivateKey(c.data)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.is, c.mention)
			}
			if strings.Contains(err.Error(), "MII") {
				t.Fatalf("error quotes key material: %v", err)
			}
		})
	}
}

func TestParsePrivateKeyAcceptsCRLF(t *testing.T) {
	crlf := bytes.ReplaceAll(testKeyFile(t, "test.pem"), []byte("\n"), []byte("\r\n"))
	key, err := ParsePrivateKey(crlf)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(testPrivateKey(t, "test.pem")) {
		t.Fatal("CRLF key parsed to another key")
	}
	if bytes.Contains(EncodePrivateKey(key), []byte("\r")) {
		t.Fatal("re-encoded key keeps CR")
	}
}

// Key text pasted into a CI secret or saved on Windows parses: CRLF or
// lone CR line breaks, blank lines and white space around the key and
// around its lines, a byte order mark.
func TestParseKeyLenientText(t *testing.T) {
	want := testPrivateKey(t, "test.pem")
	for name, edit := range map[string]func(string) string{
		"CRLF and surrounding white space": func(s string) string { return "\r\n  " + strings.ReplaceAll(s, "\n", "\r\n") + "  \r\n\t" },
		"indented BEGIN line":              func(s string) string { return "    " + s },
		"indented lines, CRLF":             func(s string) string { return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\r\n\t  ") },
		"trailing spaces":                  func(s string) string { return strings.ReplaceAll(s, "\n", " \n") },
		"lone CR":                          func(s string) string { return strings.ReplaceAll(s, "\n", "\r") },
		"byte order mark":                  func(s string) string { return "\ufeff" + s },
	} {
		t.Run(name, func(t *testing.T) {
			key, err := ParsePrivateKey([]byte(edit(string(testKeyFile(t, "test.pem")))))
			if err != nil {
				t.Fatal(err)
			}
			if !key.Equal(want) {
				t.Fatal("parsed to another key")
			}
			pub, err := ParsePublicKey([]byte(edit(string(testKeyFile(t, "test.pub.pem")))))
			if err != nil || !pub.Equal(&want.PublicKey) {
				t.Fatalf("public key: %v", err)
			}
		})
	}
}

// FuzzParsePrivateKey: any text is refused with ErrKeyFormat or
// ErrKeySize, or gives an RSA-2048 key, never a panic.
func FuzzParsePrivateKey(f *testing.F) {
	f.Add(testKeyFile(f, "test.pem"))
	f.Add(bytes.ReplaceAll(testKeyFile(f, "test.pem"), []byte("\n"), []byte("\r\n  ")))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\r\n\r\n-----END RSA PRIVATE KEY-----"))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ParsePrivateKey(data)
		switch {
		case err != nil:
			if !errors.Is(err, ErrKeyFormat) && !errors.Is(err, ErrKeySize) {
				t.Fatalf("unexpected error: %v", err)
			}
		case key.N.BitLen() != KeyBits:
			t.Fatalf("accepted RSA-%d", key.N.BitLen())
		}
	})
}

func TestParsePublicKeyRefuses(t *testing.T) {
	pub := testPublicKey(t, "test.pub.pem")
	smallE := EncodePublicKey(&rsa.PublicKey{N: pub.N, E: 3})
	for _, c := range []struct {
		name    string
		data    []byte
		is      error
		mention string
	}{
		{"empty", []byte("  \n"), ErrKeyFormat, "empty"},
		{"SPKI", testKeyFile(t, "test.spki.pem"), ErrKeyFormat, "SPKI"},
		{"private key", testKeyFile(t, "test.pem"), ErrKeyFormat, "private key"},
		{"PKCS#8 private key", testKeyFile(t, "test.pkcs8.pem"), ErrKeyFormat, "private key"},
		{"RSA-4096", testKeyFile(t, "rsa4096.pub.pem"), ErrKeySize, "RSA-4096"},
		{"exponent 3", smallE, ErrKeyFormat, "exponent"},
		{"certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), ErrKeyFormat, "CERTIFICATE"},
		{"corrupt body", []byte("-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA\n-----END RSA PUBLIC KEY-----\n"), ErrKeyFormat, "not a valid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePublicKey(c.data)
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("err = %v, want %v mentioning %q", err, c.is, c.mention)
			}
		})
	}
}

func TestCompareConfigKey(t *testing.T) {
	text := string(testKeyFile(t, "test.pub.pem"))
	want := testPublicKey(t, "test.pub.pem")
	other := string(testKeyFile(t, "other.pub.pem"))
	for _, c := range []struct {
		name  string
		text  string
		state ConfigKey
	}{
		{"missing", "", ConfigKeyMissing},
		{"blank", " \n", ConfigKeyMissing},
		{"matches", text, ConfigKeyMatches},
		{"another key", other, ConfigKeyDiffers},
		{"CRLF", strings.ReplaceAll(text, "\n", "\r\n"), ConfigKeyUnusable},
		{"indented", strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n\t"), ConfigKeyUnusable},
	} {
		state, cfg, err := CompareConfigKey(c.text, want)
		if state != c.state || (err != nil) != (c.state == ConfigKeyUnusable) || (cfg != nil) != (c.state >= ConfigKeyDiffers) {
			t.Errorf("%s: state %d, key %v, err %v; want state %d", c.name, state, cfg != nil, err, c.state)
		}
	}
}

func TestParseConfigPublicKey(t *testing.T) {
	text := string(testKeyFile(t, "test.pub.pem"))
	want := testPublicKey(t, "test.pub.pem")
	for _, ok := range []string{text, strings.TrimSuffix(text, "\n")} {
		if pub, err := ParseConfigPublicKey(ok); err != nil || !pub.Equal(want) {
			t.Fatalf("ParseConfigPublicKey(%q) = %v", ok, err)
		}
	}
	for name, bad := range map[string]string{
		"CRLF":                strings.ReplaceAll(text, "\n", "\r\n"),
		"indented":            strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n  "),
		"trailing tab":        strings.Replace(text, "\n", "\t\n", 2),
		"space inside base64": strings.Replace(text, "\nMII", "\nMI I", 1),
		"SPKI":                string(testKeyFile(t, "test.spki.pem")),
		"indented END line":   strings.Replace(text, "-----END", " -----END", 1),
	} {
		if _, err := ParseConfigPublicKey(bad); !errors.Is(err, ErrKeyFormat) {
			t.Errorf("%s: err = %v, want ErrKeyFormat", name, err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".capgo_key_v2")
	data := testKeyFile(t, "test.pem")
	if err := WriteKeyFile(path, data); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := WriteKeyFile(path, []byte("other")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Fatal("an existing key file was changed")
	}
	key, err := ReadPrivateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Equal(testPrivateKey(t, "test.pem")) {
		t.Fatal("read another key")
	}
	pubPath := filepath.Join(dir, ".capgo_key_v2.pub")
	if err := WriteKeyFile(pubPath, EncodePublicKey(&key.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPublicKeyFile(pubPath); err != nil {
		t.Fatal(err)
	}
	// Errors name the file.
	if _, err := ReadPublicKeyFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("public key from a private key file: %v", err)
	}
	if _, err := ReadPrivateKeyFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("A"), maxKeyFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivateKeyFile(big); err == nil || !strings.Contains(err.Error(), "not a key") {
		t.Fatalf("huge file: %v", err)
	}
	if err := WriteKeyFile(filepath.Join(dir, "no", "such", "dir"), data); err == nil {
		t.Fatal("write into a missing folder succeeded")
	}
}
