package workflow

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncEachObject: on Linux the objects are made durable all at once by
// syncFolder; an fsync per file would commit the journal once per file
// (15,000 times for a large web build).
const syncEachObject = false

// syncFolder makes the files written into dir, and its entries, durable:
// syncfs(2) writes back the whole file system dir is on, in one journal
// commit.
func syncFolder(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
