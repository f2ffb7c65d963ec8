package store

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// watchFolder watches the folder of an SQLite file: the file itself, its
// -wal (written by every commit) and -shm, including their replacement.
func watchFolder(dbPath string) (*Watch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("watch registry: %w", err)
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(dbPath), mask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch registry folder %s: %w", filepath.Dir(dbPath), err)
	}
	return &Watch{fd: fd, buf: make([]byte, 64<<10)}, nil
}

// Generation returns the change number (see Watch).
func (w *Watch) Generation() uint64 {
	if w.closed.Load() {
		return w.gen.Add(1) // cannot tell any more: always "changed"
	}
	fds := [1]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds[:], 0)
	if n == 0 && err == nil {
		// Nothing queued. A notice drained by a concurrent call was
		// counted before it was drained, so the load below sees it.
		return w.gen.Load()
	}
	w.mu.Lock()
	w.gen.Add(1) // before draining: see above
	for !w.closed.Load() {
		if _, err := unix.Read(w.fd, w.buf); err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				w.gen.Add(1)
			}
			break
		}
	}
	w.mu.Unlock()
	return w.gen.Load()
}

// Close stops watching; Generation then reports a change on every call.
func (w *Watch) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed.Swap(true) {
		return nil
	}
	return unix.Close(w.fd)
}
