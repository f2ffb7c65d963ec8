package workflow

import "strings"

// Delta is the per-file form of a bundle that plugin 8.51 installs file by
// file (spec §6): every file of the web folder, each distinct content as
// one object, brotli-compressed where that pays, then encrypted with the
// bundle's own session key. A phone fetches only the objects whose content
// it does not already hold.
//
// In the manifest file, Dir is relative to the manifest's folder (like
// File); ReadManifest and Build return it as an absolute path.
type Delta struct {
	Dir   string      `json:"dir"`   // the folder of the objects, OUT/APP-VERSION.files
	Files []DeltaFile `json:"files"` // every file of the bundle, sorted by path
}

// DeltaFile is one file of a Delta.
type DeltaFile struct {
	Path         string `json:"path"`                 // as in the zip: relative, forward slashes
	SHA256       string `json:"sha256"`               // of the plain file, lowercase hex
	FileHash     string `json:"file_hash"`            // what devices get as file_hash: the V3 encrypted SHA256 (512 hex)
	Object       string `json:"object"`               // name of the object in Dir: flat and URL-safe; files of one content share it
	Size         int64  `json:"size"`                 // bytes of the object, as uploaded
	ObjectSHA256 string `json:"object_sha256"`        // of the object, as uploaded, lowercase hex
	Brotli       bool   `json:"brotli"`               // the object is a brotli stream: devices get file_name Path + ".br"
	PlainSize    int64  `json:"plain_size,omitempty"` // bytes of the plain file; 0 when not recorded
}

// DeltaSummary counts a Delta for people: what a phone holding none of
// its files downloads, and what brotli saved.
type DeltaSummary struct {
	Files   int   `json:"files"`   // files of the bundle
	Objects int   `json:"objects"` // distinct objects (files of one content share one)
	Bytes   int64 `json:"bytes"`   // of all objects, as uploaded
	Brotli  int   `json:"brotli"`  // objects that are brotli streams
	// BrotliSaved is the plain bytes of the brotli objects less their
	// size as uploaded (counted where the plain size is recorded).
	BrotliSaved int64 `json:"brotli_saved"`
}

// Summary counts d's files and distinct objects.
func (d *Delta) Summary() DeltaSummary {
	s := DeltaSummary{Files: len(d.Files)}
	seen := make(map[string]bool, len(d.Files))
	for _, f := range d.Files {
		if seen[f.Object] {
			continue
		}
		seen[f.Object] = true
		s.Objects++
		s.Bytes += f.Size
		if f.Brotli {
			s.Brotli++
			if f.PlainSize > 0 {
				s.BrotliSaved += f.PlainSize - f.Size
			}
		}
	}
	return s
}

// DeltaDirName is the name of the folder of a bundle's delta objects.
func DeltaDirName(appID, version string) string {
	return strings.TrimSuffix(BundleFileName(appID, version), ".zip") + ".files"
}
