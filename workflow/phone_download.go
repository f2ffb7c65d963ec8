package workflow

// DeltaDownload is what a phone downloads of a Delta: the files whose
// content it does not hold yet, and the objects they come in.
type DeltaDownload struct {
	Files      int   // files of the delta the phone fetches
	TotalFiles int   // files of the delta
	Objects    int   // distinct objects among them (files of one content share one)
	Bytes      int64 // of those objects, as uploaded
}

// Download counts what a phone fetches of d when it holds the files whose
// plain SHA-256 (lowercase hex) is in held: the plugin looks for each file
// by content first and downloads only the others (spec §6). With held
// nil, the phone holds nothing and fetches every object.
func (d *Delta) Download(held map[string]bool) DeltaDownload {
	out := DeltaDownload{TotalFiles: len(d.Files)}
	seen := make(map[string]bool)
	for _, f := range d.Files {
		if held[f.SHA256] {
			continue
		}
		out.Files++
		if !seen[f.Object] {
			seen[f.Object] = true
			out.Objects++
			out.Bytes += f.Size
		}
	}
	return out
}
