package workflow

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// vector is testdata/vectors/vector.json, made by make.sh with OpenSSL.
type vector struct {
	AESKey         string `json:"aes_key"`
	IV             string `json:"iv"`
	ZipSHA256      string `json:"zip_sha256"`
	SHA256         string `json:"sha256"`
	SessionKey     string `json:"session_key"`
	Checksum       string `json:"checksum"`
	KeyID          string `json:"key_id"`
	KeyFingerprint string `json:"key_fingerprint"`
}

func vectorPath(name string) string { return filepath.Join("..", "testdata", "vectors", name) }

func readVector(t testing.TB) vector {
	t.Helper()
	data, err := os.ReadFile(vectorPath("vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readVectorFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(vectorPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The committed vector was made by Python's zipfile and OpenSSL; our seal
// must give the same bytes and strings for the same key, IV and zip.
func TestSealVector(t *testing.T) {
	v := readVector(t)
	key := testPrivateKey(t, "test.pem")
	aesKey, iv := mustHex(t, v.AESKey), mustHex(t, v.IV)
	plain, want := readVectorFile(t, "plain.zip"), readVectorFile(t, "bundle.enc")

	var got bytes.Buffer
	w, err := NewEncryptWriter(&got, aesKey, iv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, iotest.HalfReader(bytes.NewReader(plain))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("encrypted bytes differ from OpenSSL's (sha256 %x)", sha256.Sum256(got.Bytes()))
	}
	if sum := sha256.Sum256(want); hex.EncodeToString(sum[:]) != v.SHA256 {
		t.Fatal("bundle.enc does not match vector.json")
	}
	sk, err := SessionKeyString(key, aesKey, iv)
	if err != nil {
		t.Fatal(err)
	}
	if sk != v.SessionKey {
		t.Fatalf("session key\n got %s\nwant %s", sk, v.SessionKey)
	}
	zipSum := sha256.Sum256(plain)
	if hex.EncodeToString(zipSum[:]) != v.ZipSHA256 {
		t.Fatal("plain.zip does not match vector.json")
	}
	sum, err := EncryptedChecksum(key, zipSum[:])
	if err != nil {
		t.Fatal(err)
	}
	if sum != v.Checksum {
		t.Fatalf("checksum\n got %s\nwant %s", sum, v.Checksum)
	}

	// And back, with the public key only.
	pub := testPublicKey(t, "test.pub.pem")
	gotKey, gotIV, err := RecoverSessionKey(pub, v.SessionKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotKey, aesKey) || !bytes.Equal(gotIV, iv) {
		t.Fatalf("recovered key %x iv %x", gotKey, gotIV)
	}
	if err := VerifyChecksum(pub, v.Checksum, zipSum[:]); err != nil {
		t.Fatal(err)
	}
	r, err := NewDecryptReader(iotest.OneByteReader(bytes.NewReader(want)), aesKey, iv)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, plain) {
		t.Fatal("decrypted bytes differ from plain.zip")
	}
}

// referenceCBC encrypts in one call with crypto/cipher, the way the
// streaming writer must behave.
func referenceCBC(key, iv, plain []byte) []byte {
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append(append([]byte{}, plain...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(buf, buf)
	return buf
}

func TestCBCStreamRoundTrip(t *testing.T) {
	key, iv := bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 16)
	for _, size := range []int{0, 1, 15, 16, 17, 31, 32, sealChunk - 1, sealChunk, sealChunk + 1, 3*sealChunk + 5} {
		plain := make([]byte, size)
		for i := range plain {
			plain[i] = byte(i*31 + i/7)
		}
		for _, step := range []int{1, 7, 4096, sealChunk + 3} {
			if size > 100_000 && step < 4096 {
				continue
			}
			var enc bytes.Buffer
			w, err := NewEncryptWriter(&enc, key, iv)
			if err != nil {
				t.Fatal(err)
			}
			for rest := plain; len(rest) > 0; {
				n := min(step, len(rest))
				if m, err := w.Write(rest[:n]); err != nil || m != n {
					t.Fatalf("write %d: %d, %v", n, m, err)
				}
				rest = rest[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if want := referenceCBC(key, iv, plain); !bytes.Equal(enc.Bytes(), want) {
				t.Fatalf("size %d step %d: ciphertext differs from one-shot CBC", size, step)
			}
			if _, err := w.Write([]byte{1}); err == nil {
				t.Fatal("write after Close succeeded")
			}
			for name, wrap := range map[string]func(io.Reader) io.Reader{
				"whole": func(r io.Reader) io.Reader { return r },
				"half":  iotest.HalfReader,
				"bytes": iotest.OneByteReader,
			} {
				if name == "bytes" && size > 100_000 {
					continue
				}
				r, err := NewDecryptReader(wrap(bytes.NewReader(enc.Bytes())), key, iv)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("size %d %s: %v", size, name, err)
				}
				if !bytes.Equal(got, plain) {
					t.Fatalf("size %d %s: round trip changed the bytes", size, name)
				}
			}
		}
	}
}

func TestDecryptRefuses(t *testing.T) {
	v := readVector(t)
	aesKey, iv := mustHex(t, v.AESKey), mustHex(t, v.IV)
	enc := readVectorFile(t, "bundle.enc")
	wrongKey := bytes.Clone(aesKey)
	wrongKey[0] ^= 1
	lastFlip := bytes.Clone(enc)
	lastFlip[len(lastFlip)-1] ^= 0x40
	for _, c := range []struct {
		name string
		data []byte
		key  []byte
	}{
		{"empty", nil, aesKey},
		{"one byte short", enc[:len(enc)-1], aesKey},
		{"one block short", enc[:len(enc)-16], aesKey},
		{"flipped last byte", lastFlip, aesKey},
		{"wrong key", enc, wrongKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewDecryptReader(bytes.NewReader(c.data), c.key, iv)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(r); !errors.Is(err, ErrCiphertext) {
				t.Fatalf("err = %v, want ErrCiphertext", err)
			}
		})
	}
	if _, err := NewDecryptReader(bytes.NewReader(enc), aesKey[:15], iv); !errors.Is(err, ErrSessionKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := NewEncryptWriter(io.Discard, aesKey, iv[:8]); !errors.Is(err, ErrSessionKey) {
		t.Fatalf("short IV: %v", err)
	}
	broken := iotest.ErrReader(errors.New("disk on fire"))
	r, _ := NewDecryptReader(broken, aesKey, iv)
	if _, err := io.ReadAll(r); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("read error: %v", err)
	}
}

func TestParseSessionKey(t *testing.T) {
	v := readVector(t)
	ivPart, keyPart, _ := strings.Cut(v.SessionKey, ":")
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range []struct {
		name, s string
		ok      bool
	}{
		{"valid", v.SessionKey, true},
		{"no colon", ivPart + keyPart, false},
		{"two colons", v.SessionKey + ":", false},
		{"empty IV", ":" + keyPart, false},
		{"empty key", ivPart + ":", false},
		{"empty", "", false},
		{"space", ivPart + ": " + keyPart, false},
		{"newline in key", ivPart + ":" + keyPart[:64] + "\n" + keyPart[64:], false},
		{"CR at end", v.SessionKey + "\r", false},
		{"unpadded IV", strings.TrimRight(ivPart, "=") + ":" + keyPart, false},
		{"URL-safe base64", ivPart + ":" + strings.NewReplacer("+", "-", "/", "_").Replace(keyPart), strings.IndexAny(keyPart, "+/") < 0},
		{"IV 15 bytes", b64(make([]byte, 15)) + ":" + keyPart, false},
		{"IV 32 bytes", b64(make([]byte, 32)) + ":" + keyPart, false},
		{"key 255 bytes", ivPart + ":" + b64(make([]byte, 255)), false},
		{"key 512 bytes (RSA-4096)", ivPart + ":" + b64(make([]byte, 512)), false},
		{"non-canonical padding bits", "AAAAAAAAAAAAAAAAAAAAAB==:" + keyPart, false},
		{"hex instead of base64", hex.EncodeToString(make([]byte, 16)) + ":" + keyPart, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			iv, enc, err := ParseSessionKey(c.s)
			if c.ok {
				if err != nil || len(iv) != 16 || len(enc) != 256 {
					t.Fatalf("got %d, %d, %v", len(iv), len(enc), err)
				}
				return
			}
			if !errors.Is(err, ErrSessionKey) {
				t.Fatalf("err = %v, want ErrSessionKey", err)
			}
		})
	}
}

func TestRecoverSessionKeyRefuses(t *testing.T) {
	v := readVector(t)
	key := testPrivateKey(t, "test.pem")
	pub := testPublicKey(t, "test.pub.pem")
	ivPart, _, _ := strings.Cut(v.SessionKey, ":")
	b64 := base64.StdEncoding.EncodeToString
	sign := func(msg []byte) string {
		out, err := rsaPrivateOp(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		return ivPart + ":" + b64(out)
	}
	over := make([]byte, 256)
	for i := range over {
		over[i] = 0xff
	}
	for _, c := range []struct {
		name, s string
		pub     *rsa.PublicKey
	}{
		{"wrong public key", v.SessionKey, testPublicKey(t, "other.pub.pem")},
		{"32-byte AES key", sign(make([]byte, 32)), pub},
		{"empty AES key", sign(nil), pub},
		{"block above modulus", ivPart + ":" + b64(over), pub},
		{"zero block", ivPart + ":" + b64(make([]byte, 256)), pub},
		{"malformed", "nope", pub},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := RecoverSessionKey(c.pub, c.s); !errors.Is(err, ErrSessionKey) {
				t.Fatalf("err = %v, want ErrSessionKey", err)
			}
		})
	}
	if _, err := SessionKeyString(key, make([]byte, 24), make([]byte, 16)); !errors.Is(err, ErrSessionKey) {
		t.Fatalf("AES-192 key: %v", err)
	}
}

func TestVerifyChecksum(t *testing.T) {
	v := readVector(t)
	pub := testPublicKey(t, "test.pub.pem")
	sum := mustHex(t, v.ZipSHA256)
	otherSum, err := EncryptedChecksum(testPrivateKey(t, "other.pem"), sum)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(v.Checksum)
	flipped[100] ^= 0x01 // '0'..'9' and 'a'..'f' stay hex under this flip for most characters
	if !isLowerHex(string(flipped)) {
		flipped[100] ^= 0x03
	}
	wrongDigest := bytes.Clone(sum)
	wrongDigest[31] ^= 1
	for _, c := range []struct {
		name     string
		checksum string
		digest   []byte
		is       error
	}{
		{"good", v.Checksum, sum, nil},
		{"other zip", v.Checksum, wrongDigest, ErrChecksumMismatch},
		{"signed by another key", otherSum, sum, ErrChecksumMismatch},
		{"one flipped character", string(flipped), sum, ErrChecksumMismatch},
		{"plain SHA-256", v.ZipSHA256, sum, ErrChecksumFormat},
		{"uppercase", strings.ToUpper(v.Checksum), sum, ErrChecksumFormat},
		{"truncated", v.Checksum[:510], sum, ErrChecksumFormat},
		{"empty", "", sum, ErrChecksumFormat},
		{"base64", base64.StdEncoding.EncodeToString(mustHex(t, v.Checksum)), sum, ErrChecksumFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyChecksum(pub, c.checksum, c.digest)
			if c.is == nil && err != nil || c.is != nil && !errors.Is(err, c.is) {
				t.Fatalf("err = %v, want %v", err, c.is)
			}
		})
	}
	if _, err := EncryptedChecksum(testPrivateKey(t, "test.pem"), sum[:31]); err == nil {
		t.Fatal("31-byte digest accepted")
	}
}

func FuzzParseSessionKey(f *testing.F) {
	v := readVector(f)
	f.Add(v.SessionKey)
	f.Add("")
	f.Add(":")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA==:")
	f.Add(v.SessionKey + "\n")
	f.Add(strings.Replace(v.SessionKey, ":", "::", 1))
	pub := testPublicKey(f, "test.pub.pem")
	f.Fuzz(func(t *testing.T, s string) {
		iv, enc, err := ParseSessionKey(s)
		if err != nil {
			if !errors.Is(err, ErrSessionKey) {
				t.Fatalf("error does not wrap ErrSessionKey: %v", err)
			}
			return
		}
		if len(iv) != 16 || len(enc) != 256 {
			t.Fatalf("accepted sizes %d, %d", len(iv), len(enc))
		}
		// Only the canonical encoding is accepted.
		if again := base64.StdEncoding.EncodeToString(iv) + ":" + base64.StdEncoding.EncodeToString(enc); again != s {
			t.Fatalf("accepted a non-canonical form %q", s)
		}
		key, gotIV, err := RecoverSessionKey(pub, s)
		if err == nil && (len(key) != 16 || !bytes.Equal(gotIV, iv)) {
			t.Fatalf("recovered %d-byte key", len(key))
		}
	})
}

// Throughput of the streaming AES-128-CBC writer (the encryption part of
// Build); memory stays at one 64 KiB chunk whatever the size.
func BenchmarkEncryptWriter(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	w, err := NewEncryptWriter(io.Discard, make([]byte, 16), make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w.Write(buf)
	}
	w.Close()
}

// Throughput of the streaming decrypt reader (the first part of Open).
func BenchmarkDecryptReader(b *testing.B) {
	plain := make([]byte, 8<<20)
	var enc bytes.Buffer
	key, iv := make([]byte, 16), make([]byte, 16)
	w, _ := NewEncryptWriter(&enc, key, iv)
	w.Write(plain)
	w.Close()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		r, _ := NewDecryptReader(bytes.NewReader(enc.Bytes()), key, iv)
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
