//go:build !linux

package workflow

import "os"

// syncEachObject: elsewhere each object is synced as it is closed, and
// syncFolder only syncs the folder's entries.
const syncEachObject = true

// syncFolder makes dir's entries durable where the OS allows it.
func syncFolder(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // not supported on every system (Windows); the files are synced
	return nil
}
