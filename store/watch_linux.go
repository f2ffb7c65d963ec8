package store

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// watchFolder watches the folder of an SQLite file for changes of the file
// itself, its -wal (written by every commit) and -journal, including their
// replacement; other files in the folder (a log, say) do not count.
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
	base := filepath.Base(dbPath)
	return &Watch{fd: fd, buf: make([]byte, 64<<10), names: []string{base, base + "-wal", base + "-journal"}}, nil
}

// Generation returns the change number (see Watch).
func (w *Watch) Generation() uint64 {
	if w.closed.Load() {
		return w.gen.Add(1) // cannot tell any more: always "changed"
	}
	fds := [1]unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds[:], 0); n == 0 && err == nil {
		// Nothing queued. A notice that a concurrent call drained is
		// counted before that call clears draining, so wait for it.
		if w.draining.Load() {
			w.mu.Lock()
			w.mu.Unlock() // only waits for the drain in progress
		}
		return w.gen.Load()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.draining.Store(true) // before the notices leave the queue
	defer w.draining.Store(false)
	for !w.closed.Load() {
		n, err := unix.Read(w.fd, w.buf)
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EINTR) {
				w.gen.Add(1) // cannot tell: count it as a change
			}
			break
		}
		if w.relevant(w.buf[:n]) {
			w.gen.Add(1)
		}
	}
	return w.gen.Load()
}

// relevant reports whether a batch of inotify events names the database,
// or cannot be trusted (queue overflow, the folder itself gone).
func (w *Watch) relevant(events []byte) bool {
	for len(events) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&events[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(events) {
			return true
		}
		if ev.Mask&(unix.IN_Q_OVERFLOW|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 {
			return true
		}
		name := string(bytes.TrimRight(events[unix.SizeofInotifyEvent:end], "\x00"))
		if slices.Contains(w.names, name) {
			return true
		}
		events = events[end:]
	}
	return false
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
