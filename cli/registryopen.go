package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

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

// access says what a command does to the registry it opens.
type access int

const (
	// reads only: the registry is opened read-only, never created,
	// migrated or written; a missing file is store.ErrNoRegistry.
	reads access = iota
	// changes what the registry holds (a channel, a token): a missing
	// local file is store.ErrNoRegistry too, never an empty new one.
	changes
	// creates: may create the registry (register, channel create,
	// token create).
	creates
)

// target resolves where a registry command works, as the wizard does:
// --db, --server and --token, then $CAPSHIP_SERVER, $CAPSHIP_DB and
// $CAPSHIP_TOKEN (release.Target.WithEnv). Flags that contradict each
// other are a usage error. o.server and o.token are set to what was
// resolved, for messages.
func (o *registryOptions) target(s IO, a access) (release.Target, error) {
	t, err := release.Target{DB: o.db, Server: o.server, Token: o.token, ReadOnly: a == reads}.WithEnv(s.Getenv)
	if err != nil {
		return t, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	o.server, o.token = t.Server, t.Token
	return t, nil
}

// open resolves the target and opens it: the local registry or a capship
// server's admin API, one store.Manager either way. Close it when done.
func (o *registryOptions) open(ctx context.Context, s IO, a access) (store.Manager, error) {
	t, err := o.target(s, a)
	if err != nil {
		return nil, err
	}
	if !t.Remote() && a == changes {
		if err := mustExist(t.Location()); err != nil {
			return nil, err
		}
	}
	return release.Open(ctx, t)
}

// openApp is open for a command about one app: it resolves --app first.
func (o *registryOptions) openApp(ctx context.Context, s IO, a access) (string, store.Manager, error) {
	app, err := o.appID()
	if err != nil {
		return "", nil, err
	}
	m, err := o.open(ctx, s, a)
	return app, m, err
}

// openLocal opens the registry here (--db, else $CAPSHIP_DB, else the
// default file) for the commands that administer it where it is (tokens,
// the integrity check): they never go through a server.
func (o *registryOptions) openLocal(ctx context.Context, s IO, a access) (store.Registry, error) {
	loc := o.localLocation(s)
	switch a {
	case reads:
		return store.OpenReadOnly(ctx, loc)
	case changes:
		if err := mustExist(loc); err != nil {
			return nil, err
		}
	}
	return store.Open(ctx, loc)
}

// mustExist refuses a local registry file that is not there
// (store.ErrNoRegistry), so that a command that changes what exists does
// not leave an empty new registry behind.
func mustExist(loc string) error {
	if store.IsPostgresDSN(loc) {
		return nil
	}
	if _, err := os.Stat(loc); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("open registry: %w", &store.NoRegistryError{Path: loc})
	}
	return nil
}

// localLocation is the registry here: --db, else $CAPSHIP_DB, else the
// default file.
func (o *registryOptions) localLocation(s IO) string {
	t := release.Target{DB: o.db}
	if t.DB == "" {
		t.DB = s.Getenv(release.EnvDB)
	}
	return t.Location()
}
