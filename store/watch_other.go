//go:build !linux

package store

// watchFolder: no cheap, strict change notice outside Linux; the update
// server reads the revision on every check instead.
func watchFolder(string) (*Watch, error) { return nil, nil }

// Generation is never called on a nil Watch.
func (w *Watch) Generation() uint64 { return w.gen.Add(1) }

func (w *Watch) Close() error { return nil }
