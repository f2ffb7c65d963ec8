package cli

import (
	"github.com/spf13/pflag"

	"capship/store"
)

// The flags several commands share are defined here, once.

const jsonUsage = "print the result as JSON on stdout (errors too, as {\"error\": {\"code\", \"message\", \"hint\"}})"

// addJSONFlag adds --json; usage "" takes the common text.
func addJSONFlag(fs *pflag.FlagSet, v *bool, usage string) {
	if usage == "" {
		usage = jsonUsage
	}
	fs.BoolVar(v, "json", false, usage)
}

// addDBFlag adds --db, the registry to open.
func addDBFlag(fs *pflag.FlagSet, v *string) {
	fs.StringVar(v, "db", "", "registry: SQLite `file` or postgres:// URL (default $CAPSHIP_DB, else "+store.DefaultDBPath()+")")
}

// addServerFlags adds --server and --token, a capship server's admin API
// instead of a registry.
func addServerFlags(fs *pflag.FlagSet, server, token *string) {
	fs.StringVar(server, "server", "", "use the admin API of the capship server at this `URL` instead of --db (default $CAPSHIP_SERVER)")
	fs.StringVar(token, "token", "", "admin API `token` for --server (default $CAPSHIP_TOKEN)")
}

// addAppFlag adds --app; usage "" takes the common text.
func addAppFlag(fs *pflag.FlagSet, v *string, usage string) {
	if usage == "" {
		usage = "app id (default: appId of the Capacitor config in this folder)"
	}
	fs.StringVar(v, "app", "", usage)
}

// addChannelFlag adds --channel with its default and usage.
func addChannelFlag(fs *pflag.FlagSet, v *string, def, usage string) {
	fs.StringVar(v, "channel", def, usage)
}

// addManifestFlag adds --manifest, the manifest of a built bundle; note
// ends its usage (" (required)").
func addManifestFlag(fs *pflag.FlagSet, v *string, note string) {
	fs.StringVar(v, "manifest", "", "manifest `file` written by 'capship bundle build' next to the bundle"+note)
}

// registryOptions are the flags of every registry command: which app,
// which registry (or server), and how to print.
type registryOptions struct {
	app, db, server, token string
	json                   bool
}

// registryFlagSet says which of the shared registry flags a command takes.
type registryFlagSet int

const (
	withApp    registryFlagSet = 1 << iota // --app, defaulting to the Capacitor config's appId
	withServer                             // --server and --token
)

// addRegistryFlags adds --db and --json, and --app, --server and --token
// as which says.
func addRegistryFlags(fs *pflag.FlagSet, o *registryOptions, which registryFlagSet) {
	if which&withApp != 0 {
		addAppFlag(fs, &o.app, "")
	}
	addDBFlag(fs, &o.db)
	if which&withServer != 0 {
		addServerFlags(fs, &o.server, &o.token)
	}
	addJSONFlag(fs, &o.json, "")
}
