package workflow

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The signature cache keeps the V3 file hashes (the RSA private operation
// over a file's SHA-256) between builds. They are public (every device
// receives them) and depend only on the key and the digest, so a rebuild
// signs only the contents it has not signed before: with Go's RSA at about
// 2 ms per signature, that is most of a first build's time.
//
// One folder per key, <base>/signatures/<hex of the key fingerprint>/,
// holding packs: a magic line, then records of the digest, the signature
// and an HMAC-SHA256 of both under a key derived from the private key, so
// a record damaged on disk, or written without the private key, is
// ignored. Each build that signed something adds one pack (temp file and
// rename); past sigPacksMax packs a build merges them into one, keeping the
// newest sigRecordsMax records.

const (
	sigMagic      = "CSHPSIG1"
	sigRecordSize = sha256.Size + rsaBlockSize + sha256.Size
	sigPacksMax   = 16
	sigRecordsMax = 100_000 // 32 MB of packs per key
)

type sigCache struct {
	dir string // "" caches nothing
	mac []byte
}

func openSigCache(base string, key *rsa.PrivateKey) *sigCache {
	if base == "" {
		return &sigCache{}
	}
	fp := strings.TrimPrefix(Fingerprint(&key.PublicKey), "sha256:")
	m := sha256.New()
	m.Write([]byte("capship signature cache v1\x00"))
	m.Write(key.D.Bytes())
	return &sigCache{dir: filepath.Join(base, "signatures", fp), mac: m.Sum(nil)}
}

// sigRecord is one cached signature.
type sigRecord struct {
	sum [sha256.Size]byte
	sig []byte
}

func (c *sigCache) packs() []string {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, de := range des {
		if strings.HasSuffix(de.Name(), ".pack") && !strings.HasPrefix(de.Name(), ".") {
			names = append(names, filepath.Join(c.dir, de.Name()))
		}
	}
	slices.Sort(names) // oldest first: names start with the time
	return names
}

// load finds the signatures of the wanted digests; want maps a digest to
// the index its signature goes to in out.
func (c *sigCache) load(want map[[sha256.Size]byte]int, out [][]byte) (found int) {
	if c.dir == "" {
		return 0
	}
	m := hmac.New(sha256.New, c.mac)
	for _, p := range c.packs() {
		c.readPack(p, func(r []byte) {
			var sum [sha256.Size]byte
			copy(sum[:], r)
			if i, ok := want[sum]; ok && out[i] == nil && c.valid(m, r) {
				out[i] = slices.Clone(r[sha256.Size : sha256.Size+rsaBlockSize])
				found++
			}
		})
	}
	return found
}

func (c *sigCache) valid(m hash.Hash, r []byte) bool {
	m.Reset()
	m.Write(r[:sha256.Size+rsaBlockSize])
	return hmac.Equal(m.Sum(nil), r[sha256.Size+rsaBlockSize:])
}

// readPack calls each with every whole record of the pack at p.
func (c *sigCache) readPack(p string, each func(record []byte)) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var magic [len(sigMagic)]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || string(magic[:]) != sigMagic {
		return
	}
	rec := make([]byte, sigRecordSize)
	for {
		if _, err := io.ReadFull(br, rec); err != nil {
			return
		}
		each(rec)
	}
}

// save adds a pack of the new records and merges the packs when there are
// too many. Failing only costs a later build the signing.
func (c *sigCache) save(records []sigRecord) {
	if c.dir == "" || len(records) == 0 {
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	if c.writePack(records) != nil {
		return
	}
	if packs := c.packs(); len(packs) > sigPacksMax {
		c.merge(packs)
	}
}

func (c *sigCache) writePack(records []sigRecord) error {
	var id [4]byte
	rand.Read(id[:])
	name := fmt.Sprintf("%016x-%s.pack", time.Now().UnixNano(), hex.EncodeToString(id[:]))
	f, err := os.CreateTemp(c.dir, ".tmp-*")
	if err != nil {
		return err
	}
	m := hmac.New(sha256.New, c.mac)
	bw := bufio.NewWriterSize(f, 64<<10)
	bw.WriteString(sigMagic)
	for _, r := range records {
		m.Reset()
		m.Write(r.sum[:])
		m.Write(r.sig)
		bw.Write(r.sum[:])
		bw.Write(r.sig)
		bw.Write(m.Sum(nil))
	}
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(c.dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// merge rewrites packs as one, newest records first up to sigRecordsMax,
// then removes them. A pack another process adds meanwhile is not in
// packs, so it stays.
func (c *sigCache) merge(packs []string) {
	m := hmac.New(sha256.New, c.mac)
	seen := map[[sha256.Size]byte]bool{}
	var keep []sigRecord
	for i := len(packs) - 1; i >= 0 && len(keep) < sigRecordsMax; i-- {
		c.readPack(packs[i], func(r []byte) {
			var sum [sha256.Size]byte
			copy(sum[:], r)
			if len(keep) < sigRecordsMax && !seen[sum] && c.valid(m, r) {
				seen[sum] = true
				keep = append(keep, sigRecord{sum: sum, sig: slices.Clone(r[sha256.Size : sha256.Size+rsaBlockSize])})
			}
		})
	}
	if err := c.writePack(keep); err != nil {
		return
	}
	for _, p := range packs {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return
		}
	}
}
