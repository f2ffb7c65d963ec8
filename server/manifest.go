package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"sync"

	"capship/store"
)

// A release with a delta form is answered with a manifest (spec §6) to
// plugins that install file by file: the plugin looks up each file by
// content in what it already holds (the APK, the built-in folder, every
// bundle it installed) and downloads only the rest.

// deltaForm is what a release's manifest answer needs; it is loaded once per
// release and kept across snapshot reloads (a registered release never
// changes).
type deltaForm struct {
	brotli bool   // some object is a brotli stream: plugins need .br support
	answer []byte // the update answer with its manifest

	gzipOnce sync.Once
	gzipped  []byte // answer, gzip-compressed (nil when that does not pay)
}

// manifestEntry is one file of the answer's manifest, exactly the three
// strings the plugin reads (DownloadService.handleManifestDownload, iOS
// downloadManifest).
type manifestEntry struct {
	FileName    string `json:"file_name"`
	FileHash    string `json:"file_hash"`
	DownloadURL string `json:"download_url"`
}

// manifestBody is the update answer with a manifest: the zip answer's
// fields (Android still requires a valid url) plus the file list.
type manifestBody struct {
	updateBody
	Manifest []manifestEntry `json:"manifest"`
}

// newDeltaForm encodes the manifest answer of r from its files.
func newDeltaForm(r *release, filesURL string, files []store.ReleaseFile) *deltaForm {
	base := strings.TrimSuffix(filesURL, "/") + "/"
	d := &deltaForm{}
	body := manifestBody{
		updateBody: updateBody{Version: r.Version, URL: r.URL, SessionKey: r.SessionKey, Checksum: r.Checksum},
		Manifest:   make([]manifestEntry, len(files)),
	}
	for i, f := range files {
		name := f.Path
		if f.Brotli {
			name += ".br" // the plugin decodes what it saves under a .br name, then drops the suffix
			d.brotli = true
		}
		body.Manifest[i] = manifestEntry{FileName: name, FileHash: f.FileHash, DownloadURL: base + f.Object}
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	d.answer = append(b, '\n')
	return d
}

// gzip returns the answer gzip-compressed, made on first use; nil when the
// answer is too small for it to pay.
func (d *deltaForm) gzip() []byte {
	d.gzipOnce.Do(func() {
		if len(d.answer) < 1024 {
			return
		}
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		w.Write(d.answer)
		w.Close()
		if buf.Len() < len(d.answer) {
			d.gzipped = buf.Bytes()
		}
	})
	return d.gzipped
}

// Plugin versions that take a manifest answer, as Capgo's backend sends
// them (spec §6): 5.10.0 and later 5.x, 6.25.0 and later 6.x, 7.0.35 and
// later 7.x, and every 8.x and later. Brotli-compressed files (.br names)
// need 7.0.30 or later, which every 7.x and 8.x that gets a manifest has.
var (
	manifestSince = []struct {
		major uint64
		since version
	}{
		{5, version{nums: [3]uint64{5, 10, 0}}},
		{6, version{nums: [3]uint64{6, 25, 0}}},
		{7, version{nums: [3]uint64{7, 0, 35}}},
	}
	brotliSince = version{nums: [3]uint64{7, 0, 30}}
)

// takesManifest reports whether a plugin of this version installs the
// release file by file.
func takesManifest(pluginVersion string, d *deltaForm) bool {
	v, ok := parseVersion(pluginVersion)
	if !ok {
		return false
	}
	if d.brotli && v.compare(brotliSince) < 0 {
		return false
	}
	if v.nums[0] >= 8 {
		return true
	}
	for _, s := range manifestSince {
		if v.nums[0] == s.major {
			return v.compare(s.since) >= 0
		}
	}
	return false
}
