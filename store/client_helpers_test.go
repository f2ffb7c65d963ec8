package store_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"capship/store"
)

// clientFor makes a token named name for appID ("" for every app) in the
// registry of the server api, and returns a Client of api with it, and
// the token's secret.
func clientFor(t testing.TB, reg store.Registry, api *httptest.Server, name, appID string) (*store.Client, string) {
	t.Helper()
	secret, _, err := reg.CreateToken(context.Background(), name, appID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.NewClient(api.URL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, secret
}
