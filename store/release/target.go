package release

import (
	"context"
	"errors"
	"net/http"

	"capship/store"
)

// Target says which registry a command or the wizard works on: the
// registry file or database at DB, or the admin API of the capship server
// at Server with Token. The CLI fills it from --db, --server and --token
// (then WithEnv), the wizard from its options; Open turns it into a
// store.Manager, the same interface whichever it is.
type Target struct {
	DB     string // SQLite file or postgres:// URL; "" is store.DefaultDBPath()
	Server string // base URL of a `capship serve`; when set, DB is not used
	Token  string // admin API token for Server
	// ReadOnly opens the local registry for a command that only reads: a
	// missing file is store.ErrNoRegistry (never created), and one is
	// neither migrated nor written. A server is the same either way.
	ReadOnly bool
	// HTTPClient talks to Server; nil is a client with a one-minute
	// timeout (a registration of many files wants longer).
	HTTPClient *http.Client
}

// Environment variables WithEnv reads.
const (
	EnvDB     = "CAPSHIP_DB"
	EnvServer = "CAPSHIP_SERVER"
	EnvToken  = "CAPSHIP_TOKEN"
)

// Errors of a target that contradicts itself; the CLI says which flags.
var (
	// ErrDBAndServer: both a registry and a server were named.
	ErrDBAndServer = errors.New("a registry and a server were both given; they exclude each other")
	// ErrTokenWithoutServer: a token was given, but no server to send it to.
	ErrTokenWithoutServer = errors.New("an admin token was given without a server")
)

// WithEnv fills what t leaves empty from the environment, as every
// registry command and the wizard do: $CAPSHIP_SERVER when neither DB nor
// Server is given, else $CAPSHIP_DB for DB; $CAPSHIP_TOKEN for a server's
// token. It refuses DB with Server (ErrDBAndServer) and Token without a
// server (ErrTokenWithoutServer), both as given, before the environment.
func (t Target) WithEnv(getenv func(string) string) (Target, error) {
	switch {
	case t.DB != "" && t.Server != "":
		return t, ErrDBAndServer
	case t.Token != "" && t.Server == "" && (t.DB != "" || getenv(EnvServer) == ""):
		return t, ErrTokenWithoutServer
	}
	if t.Server == "" && t.DB == "" {
		t.Server = getenv(EnvServer)
	}
	if t.Server == "" && t.DB == "" {
		t.DB = getenv(EnvDB)
	}
	if t.Server != "" && t.Token == "" {
		t.Token = getenv(EnvToken)
	}
	return t, nil
}

// Remote reports whether t is a capship server rather than a registry here.
func (t Target) Remote() bool { return t.Server != "" }

// Location is the registry file or database t names: DB, or the default
// file when DB is empty; "" for a server.
func (t Target) Location() string {
	switch {
	case t.Remote():
		return ""
	case t.DB == "":
		return store.DefaultDBPath()
	}
	return t.DB
}

// String describes t for people, never with a password or token:
// "capship server URL", "PostgreSQL registry URL" or "local registry PATH".
func (t Target) String() string {
	loc := t.Location()
	switch {
	case t.Remote():
		return "capship server " + t.Server
	case store.IsPostgresDSN(loc):
		return "PostgreSQL registry " + store.RedactDSN(loc)
	}
	return "local registry " + loc
}

// Open opens the target: a store.Client for a server (nothing is sent
// until the first call), else the registry at Location. ReadOnly never
// creates a file: a missing one is store.ErrNoRegistry
// (*store.NoRegistryError). Close the Manager when done. Errors of a server's URL or a
// missing token are store.NewClient's (store.ErrInvalid, store.ErrNoToken).
func Open(ctx context.Context, t Target) (store.Manager, error) {
	if t.Remote() {
		c, err := store.NewClient(t.Server, t.Token, t.HTTPClient)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	if t.ReadOnly {
		return store.OpenReadOnly(ctx, t.Location())
	}
	return store.Open(ctx, t.Location())
}
