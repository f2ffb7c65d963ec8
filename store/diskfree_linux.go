package store

import "syscall"

// noSpaceLeft reports whether the filesystem holding dir has no block left
// for an unprivileged writer.
func noSpaceLeft(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Bavail == 0
}
