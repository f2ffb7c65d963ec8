package store

import (
	"sync"
	"sync/atomic"
)

// Watch tells, with one system call and no database read, whether the
// registry's database may have changed: Generation returns a number that
// moves whenever any process has written the database since the last call
// that returned it. It is strict: a write completed before Generation is
// called always moves it (Linux queues the file change notice before the
// writer's write call returns). It may also move for writes that change
// nothing devices see (stats, say), which only costs a Revision read;
// other files in the folder do not move it.
//
// The update server uses it to skip the per-check Revision read while
// nothing has been written. Only an SQLite file on Linux can be watched
// (inotify on its folder); WatchChanges returns nil for anything else.
type Watch struct {
	fd       int
	names    []string   // the database's files in the watched folder
	mu       sync.Mutex // serializes draining the notices
	draining atomic.Bool
	gen      atomic.Uint64
	closed   atomic.Bool
	buf      []byte
}

// WatchChanges returns a Watch on the registry's database, or nil (and no
// error) when it cannot be watched: PostgreSQL, or not Linux.
func WatchChanges(r Registry) (*Watch, error) {
	sr, ok := r.(*sqlRegistry)
	if !ok || sr.path == "" {
		return nil, nil
	}
	return watchFolder(sr.path)
}
