//go:build !linux

package store

// noSpaceLeft: without a portable free-space call outside Linux, only
// SQLITE_FULL and ENOSPC count as a full disk.
func noSpaceLeft(string) bool { return false }
