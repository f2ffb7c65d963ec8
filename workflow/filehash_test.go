package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A file hash opens with the public key alone, as on a phone: the
// OpenSSL-made vector, hashes made by EncryptedChecksum, and the plain
// form of a release without a key.
func TestFileDigest(t *testing.T) {
	v := readVector(t)
	pub := testPublicKey(t, "test.pub.pem")
	if got, err := FileDigest(pub, v.Checksum); err != nil || got != v.ZipSHA256 {
		t.Fatalf("the OpenSSL vector: %q, %v; want %s", got, err, v.ZipSHA256)
	}
	sum := sha256.Sum256([]byte("console.log('hello')\n"))
	want := hex.EncodeToString(sum[:])
	hash, err := EncryptedChecksum(testPrivateKey(t, "test.pem"), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if got, err := FileDigest(pub, hash); err != nil || got != want {
		t.Fatalf("round trip: %q, %v; want %s", got, err, want)
	}
	if got, err := FileDigest(nil, want); err != nil || got != want {
		t.Fatalf("plain form: %q, %v", got, err)
	}
	other, err := EncryptedChecksum(testPrivateKey(t, "other.pem"), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	// A 31-byte message under valid padding: not a SHA-256.
	short, err := rsaPrivateOp(testPrivateKey(t, "test.pem"), sum[:31])
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, hash string
		is         error
	}{
		{"made with another key", other, ErrFileHashKey},
		{"no public key", hash, ErrFileHashKey},
		{"not a digest", hex.EncodeToString(short), ErrFileHashKey},
		{"uppercase", strings.ToUpper(hash), ErrChecksumFormat},
		{"truncated", hash[:510], ErrChecksumFormat},
		{"empty", "", ErrChecksumFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := pub
			if c.name == "no public key" {
				key = nil
			}
			got, err := FileDigest(key, c.hash)
			if !errors.Is(err, c.is) || got != "" {
				t.Fatalf("FileDigest = %q, %v; want %v", got, err, c.is)
			}
		})
	}
}

// A phone holding some contents fetches the other files, each distinct
// object once.
func ExampleDelta_Download() {
	d := &Delta{Files: []DeltaFile{
		{Path: "index.html", SHA256: "aa", Object: "o1", Size: 100},
		{Path: "app.js", SHA256: "bb", Object: "o2", Size: 2000},
		{Path: "copy/app.js", SHA256: "bb", Object: "o2", Size: 2000},
		{Path: "logo.png", SHA256: "cc", Object: "o3", Size: 500},
	}}
	fmt.Printf("%+v\n", d.Download(nil))
	fmt.Printf("%+v\n", d.Download(map[string]bool{"aa": true, "cc": true}))
	// Output:
	// {Files:4 TotalFiles:4 Objects:3 Bytes:2600}
	// {Files:2 TotalFiles:4 Objects:1 Bytes:2000}
}

// Whatever a registry holds as a file hash, FileDigest returns a 64-hex
// digest or an error, never a panic.
func FuzzFileDigest(f *testing.F) {
	v := readVector(f)
	f.Add(v.Checksum)
	f.Add(v.ZipSHA256)
	f.Add("")
	f.Add(strings.Repeat("f", 512))
	f.Add(strings.Repeat("0", 512))
	pub := testPublicKey(f, "test.pub.pem")
	f.Fuzz(func(t *testing.T, hash string) {
		got, err := FileDigest(pub, hash)
		if err == nil && (len(got) != 64 || !isLowerHex(got)) {
			t.Fatalf("FileDigest(%q) = %q", hash, got)
		}
	})
}
