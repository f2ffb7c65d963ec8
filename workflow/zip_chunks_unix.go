//go:build unix

package workflow

import "golang.org/x/sys/unix"

// mapChunks returns n chunks of one anonymous private mapping, in reverse
// order (so the stack hands out the lowest addresses first), and the
// function that unmaps it; nil when the mapping fails.
func mapChunks(n int) ([][]byte, func()) {
	if n <= 0 {
		return nil, nil
	}
	mem, err := unix.Mmap(-1, 0, n*zipChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	chunks := make([][]byte, n)
	for i := range chunks {
		off := (n - 1 - i) * zipChunk
		chunks[i] = mem[off : off : off+zipChunk]
	}
	return chunks, func() { _ = unix.Munmap(mem) }
}
