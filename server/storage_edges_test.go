package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An object of exactly --max-object-size is taken; one byte more is not.
func TestStorageMaxObjectSizeIsInclusive(t *testing.T) {
	const max = 64 << 10
	h := newStorageHarness(t, Config{MaxObjectSize: max})
	exact := newObject(max)
	if res, body := h.put(h.zipKey(exact), h.token, exact.data, exact.sum); res.StatusCode != http.StatusCreated {
		t.Errorf("upload of exactly --max-object-size: HTTP %d %s, want 201", res.StatusCode, body)
	}
	over := newObject(max + 1)
	if res, body := h.put(h.zipKey(over), h.token, over.data, over.sum); res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("upload of one byte more: HTTP %d %s, want 413", res.StatusCode, body)
	}
}

// A key spelled with escapes is refused even when it decodes to a stored
// object: one object has one address, so no cache or proxy keyed on the
// raw path holds it twice, and no escape reaches the storage layer.
func TestStorageRefusesEscapedSpellingsOfAStoredKey(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o, key := h.store(4 << 10)
	if status, _ := h.rawRequest("GET", "/bundles/"+key, nil); status != http.StatusOK {
		t.Fatalf("GET of the plain key: HTTP %d, want 200", status)
	}
	for _, spelled := range []string{
		strings.Replace(key, "/", "%2f", 1),
		strings.ReplaceAll(key, ".", "%2e"),
		strings.Replace(key, "c", "%63", 1),
	} {
		for _, prefix := range []string{"/bundles/", "/admin/v1/objects/"} {
			method := map[string]string{"/bundles/": "GET", "/admin/v1/objects/": "PUT"}[prefix]
			var body []byte
			if method == "PUT" {
				body = o.data
			}
			status, answer := h.rawRequest(method, prefix+spelled, body)
			if status != http.StatusBadRequest || errorCode([]byte(answer)) != "invalid_key" {
				t.Errorf("%s %s%s: HTTP %d, error %q, want 400 invalid_key", method, prefix, spelled, status, errorCode([]byte(answer)))
			}
		}
	}
}

// An object replaced by hand with bytes of the same size is hashed again:
// its sidecar, which records the old file's size and modification time,
// no longer describes it, so the ETag and the admin HEAD tell the new
// bytes, never the old sha256.
func TestStorageSidecarOfAReplacedFileIsNotTrusted(t *testing.T) {
	h := newStorageHarness(t, Config{})
	o, key := h.store(32 << 10)
	if res, _ := h.get(key, "Range", "bytes=0-0"); res.Header.Get("ETag") != `"`+o.sum+`"` {
		t.Fatalf("ETag %q, want the uploaded sum", res.Header.Get("ETag"))
	}

	other := newObject(len(o.data)) // same size, other bytes
	file := filepath.Join(h.dir, filepath.FromSlash(key))
	if err := os.WriteFile(file, other.data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A clock coarser than the two writes could leave the time as it
	// was: move it on, as any later edit would.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(file, later, later); err != nil {
		t.Fatal(err)
	}

	res, body := h.get(key)
	if got := res.Header.Get("ETag"); got != `"`+other.sum+`"` {
		t.Errorf("ETag %q after the file changed, want %q (the sidecar of the old bytes was trusted)", got, `"`+other.sum+`"`)
	}
	if string(body) != string(other.data) {
		t.Errorf("GET served %d bytes that are not the file's", len(body))
	}
	req, _ := http.NewRequest(http.MethodHead, h.url+"/admin/v1/objects/"+key, nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	head, _ := h.request(req)
	if got := head.Header.Get("X-Capship-Sha256"); got != other.sum {
		t.Errorf("HEAD says sha256 %s, want the file's %s", got, other.sum)
	}
}

// store uploads a new object of n random bytes and returns it with its key.
func (h *storageHarness) store(n int) (object, string) {
	h.t.Helper()
	o := newObject(n)
	key := h.zipKey(o)
	if res, body := h.put(key, h.token, o.data, o.sum); res.StatusCode != http.StatusCreated {
		h.t.Fatalf("PUT %s: HTTP %d %s", key, res.StatusCode, body)
	}
	return o, key
}
