package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"capship/store"
	"capship/workflow"
)

// dbLocation is the registry to open: --db, else $CAPSHIP_DB, else the
// default file.
func dbLocation(s IO, flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := s.Getenv("CAPSHIP_DB"); env != "" {
		return env
	}
	return store.DefaultDBPath()
}

// appID returns --app, or the appId of the Capacitor config in the current
// folder.
func (o *registryOptions) appID() (string, error) {
	if o.app != "" {
		return o.app, nil
	}
	p, err := workflow.LoadProject(".")
	if err != nil || p.AppID == "" {
		return "", usageError("no --app given and no Capacitor config with an appId in this folder: pass --app APP_ID or run in the app's folder")
	}
	return p.AppID, nil
}

// mustExist refuses a registry file named by --db or $CAPSHIP_DB that does
// not exist, so that a mistyped path is not taken for an empty registry
// (and left behind as a new file). The default file may be missing: no
// release was registered yet.
func (o *registryOptions) mustExist(s IO) error {
	loc := dbLocation(s, o.db)
	if loc == store.DefaultDBPath() || strings.HasPrefix(loc, "postgres://") || strings.HasPrefix(loc, "postgresql://") {
		return nil
	}
	if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
		from := "--db"
		if o.db == "" {
			from = "$CAPSHIP_DB"
		}
		return fmt.Errorf("open registry: %s (from %s) does not exist: check the path; 'capship release register' creates it", loc, from)
	}
	return nil
}

func (o *registryOptions) open(ctx context.Context, s IO) (store.Registry, error) {
	return store.Open(ctx, dbLocation(s, o.db))
}

// openReadOnly opens the registry for a command that only reads, so that
// a read-only file or mount works. A missing default file is created as
// before (no release was registered yet).
func (o *registryOptions) openReadOnly(ctx context.Context, s IO) (store.Registry, error) {
	loc := dbLocation(s, o.db)
	if !store.IsPostgresDSN(loc) {
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return store.Open(ctx, loc)
		}
	}
	return store.OpenReadOnly(ctx, loc)
}

// resolveServer applies $CAPSHIP_SERVER (when no --db) and $CAPSHIP_TOKEN,
// as the wizard does, and refuses flags that contradict each other. It
// returns where the server came from, for messages.
func resolveServer(s IO, db string, server, token *string) (from string, err error) {
	from = "--server"
	if *server == "" && db == "" {
		if *server = s.Getenv("CAPSHIP_SERVER"); *server != "" {
			from = "$CAPSHIP_SERVER"
		}
	}
	switch {
	case *server != "" && db != "":
		return "", usageError("--db and --server exclude each other")
	case *server == "" && *token != "":
		return "", usageError("--token goes with --server")
	}
	if *token == "" {
		*token = s.Getenv("CAPSHIP_TOKEN")
	}
	return from, nil
}

// regCmd says how one registry command reaches the registry.
type regCmd struct {
	name       string // for messages: "release rollback"
	app        bool   // takes --app (defaulting to the Capacitor config's appId)
	creates    bool   // may create the registry file (others refuse a --db file that does not exist)
	readOnly   bool   // only reads: opens the registry read-only, never migrating it
	server     bool   // takes --server and --token
	overServer bool   // works through a server's admin API; the others refuse --server for now
}

// regRun is a registry command ready to run: app resolved (for commands
// with --app), and either the registry open (the caller closes reg) or,
// for a command given a server, client set.
type regRun struct {
	app    string
	reg    store.Registry
	client *store.Client
}

// open resolves the app and opens the registry, or the server's client.
func (c regCmd) open(ctx context.Context, s IO, o *registryOptions) (*regRun, error) {
	var from string
	if c.server {
		var err error
		if from, err = resolveServer(s, o.db, &o.server, &o.token); err != nil {
			return nil, err
		}
	}
	x := &regRun{}
	if c.app {
		var err error
		if x.app, err = o.appID(); err != nil {
			return nil, err
		}
	}
	if o.server != "" {
		if !c.overServer {
			return nil, fmt.Errorf("%w with --server yet (given by %s): run 'capship %s' where the registry is, with --db PATH", errNotSupported, from, c.name)
		}
		client, err := store.NewClient(o.server, o.token, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		x.client = client
		return x, nil
	}
	if !c.creates {
		if err := o.mustExist(s); err != nil {
			return nil, err
		}
	}
	var err error
	if c.readOnly {
		x.reg, err = o.openReadOnly(ctx, s)
	} else {
		x.reg, err = o.open(ctx, s)
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}
