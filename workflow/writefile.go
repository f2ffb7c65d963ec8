package workflow

import "os"

// WriteFileAtomic replaces path with data through a synced temp file in
// the same folder: a reader sees the old content or the new, never a part,
// and a failed write leaves no temp file.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm)
}
