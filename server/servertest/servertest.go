// Package servertest runs a real capship server on loopback for the tests
// of other packages (the admin client, the CLI, the wizard's runner).
package servertest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"capship/server"
	"capship/store"
)

// Start serves a new SQLite registry in a temporary folder on a loopback
// httptest server. Both are closed when the test ends.
func Start(t testing.TB) (store.Registry, *httptest.Server) {
	t.Helper()
	return start(t, server.Config{})
}

// StartStorage is Start for a server that also hosts bundles, as
// 'capship serve --storage DIR' does, in a temporary folder.
func StartStorage(t testing.TB) (store.Registry, *httptest.Server) {
	t.Helper()
	return start(t, server.Config{Storage: t.TempDir()})
}

func start(t testing.TB, cfg server.Config) (store.Registry, *httptest.Server) {
	t.Helper()
	reg, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "server.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	cfg.Registry = reg
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	api := httptest.NewServer(srv.Handler())
	t.Cleanup(api.Close)
	return reg, api
}
