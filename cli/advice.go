package cli

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// Hints belong to the caller: workflow and store errors say what happened,
// typed; this file is the one place that turns them into the command
// line's way out (a flag, a command), as each wizard step turns them into
// keys. Run prints the advice under the error, and --json carries it as
// error.hint.

// whatMissing is what a command looked for and did not find.
type whatMissing string

const (
	whatApp     whatMissing = "app"
	whatChannel whatMissing = "channel"
	whatRelease whatMissing = "release"
	whatToken   whatMissing = "token"
)

// notFoundError is a store.ErrNotFound with what the command was looking
// for, so that the advice names the way to make it or to list what there is.
type notFoundError struct {
	what whatMissing
	name string
	err  error
}

func (e *notFoundError) Error() string { return e.err.Error() }
func (e *notFoundError) Unwrap() error { return e.err }

// missing marks err, when it is a store.ErrNotFound, as the what named
// name; any other error (or nil) is returned as is.
func missing(err error, what whatMissing, name string) error {
	var nf *notFoundError
	if !errors.Is(err, store.ErrNotFound) || errors.As(err, &nf) {
		return err
	}
	return &notFoundError{what: what, name: name, err: err}
}

// adviceFor is what advice knows of the command that failed.
type adviceFor struct {
	cmd     *cobra.Command // nil when the command line named none
	getenv  func(string) string
	channel string // --channel, or the NAME of a channel command
}

// newAdviceFor reads the failed command's flags and arguments.
func newAdviceFor(cmd *cobra.Command, getenv func(string) string) adviceFor {
	a := adviceFor{cmd: cmd, getenv: getenv}
	if cmd == nil {
		return a
	}
	if f := cmd.Flags().Lookup("channel"); f != nil {
		a.channel = f.Value.String()
	}
	if cmd.Parent() != nil && cmd.Parent().Name() == "channel" {
		if args := cmd.Flags().Args(); len(args) > 0 {
			a.channel = args[0]
		}
	}
	return a
}

// has reports whether the command takes the flag.
func (a adviceFor) has(flag string) bool {
	return a.cmd != nil && a.cmd.Flags().Lookup(flag) != nil
}

// given reports whether the flag was given on the command line.
func (a adviceFor) given(flag string) bool {
	return a.has(flag) && a.cmd.Flags().Changed(flag)
}

// channelName is the channel the command was about, or NAME.
func (a adviceFor) channelName() string {
	if a.channel == "" {
		return "NAME"
	}
	return a.channel
}

// app is " --app APP" when --app was given, so that a suggested command
// works on the same app.
func (a adviceFor) app() string {
	if !a.given("app") {
		return ""
	}
	return " --app " + a.cmd.Flags().Lookup("app").Value.String()
}

// adviceRule is one mapping: when match holds for the error, say gives
// the advice ("" for none).
type adviceRule struct {
	match func(error) bool
	say   func(a adviceFor, err error) string
}

// is matches an error that errors.Is sentinel.
func is(sentinel error) func(error) bool {
	return func(err error) bool { return errors.Is(err, sentinel) }
}

// as matches an error that errors.As a *T.
func as[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// fixed is advice that does not depend on the command.
func fixed(text string) func(adviceFor, error) string {
	return func(adviceFor, error) string { return text }
}

// byFlag is yes for a command that takes flag, else no.
func byFlag(flag, yes, no string) func(adviceFor, error) string {
	return func(a adviceFor, _ error) string {
		if a.has(flag) {
			return yes
		}
		return no
	}
}

// adviceRules are tried in order: the more specific first.
var adviceRules = []adviceRule{
	{as[*notFoundError], adviseNotFound},
	{is(store.ErrNoRegistry), adviseNoRegistry},
	{is(store.ErrSchemaTooOld), fixed("run 'capship serve' or 'capship release register' once with this capship: opening the registry to write upgrades it")},
	{is(release.ErrDBAndServer), fixed("--db and --server exclude each other: give one (a registry here, or a capship server's admin API)")},
	{is(release.ErrTokenWithoutServer), fixed("--token goes with --server (or $CAPSHIP_SERVER)")},
	{is(store.ErrNoToken), fixed("pass --token or set $CAPSHIP_TOKEN (create one where the registry is with 'capship token create NAME')")},
	{as[*store.RedirectError], fixed("pass the final https:// address as --server")},
	{is(store.ErrUnauthorized), fixed("create a token where the registry is with 'capship token create NAME', and pass it as --token or $CAPSHIP_TOKEN")},
	{is(store.ErrForbidden), fixed("use a token made for this app ('capship token create NAME --app APP' where the registry is)")},
	{is(store.ErrVersionNotNewer), func(a adviceFor, _ error) string {
		return "bump the version, or go back with 'capship release rollback --channel " + a.channelName() + a.app() + "'"
	}},
	{is(store.ErrNothingToRollBack), func(a adviceFor, _ error) string {
		return "see 'capship channel history " + a.channelName() + a.app() + "'"
	}},
	{is(store.ErrDuplicateChannel), func(a adviceFor, _ error) string {
		return "change it with 'capship channel set " + a.channelName() + a.app() + "'"
	}},
	{is(store.ErrSelfSetDenied), func(a adviceFor, _ error) string {
		return "allow it with 'capship channel set " + a.channelName() + " --self-set" + a.app() + "'"
	}},
	// bundle upload
	{is(workflow.ErrAccessDenied), func(a adviceFor, _ error) string {
		if a.given("to") {
			return "" // the bucket's refusal names the credentials to check
		}
		return "check --token or $CAPSHIP_TOKEN: an admin token of this app, see 'capship token create'"
	}},
	{is(workflow.ErrWrongRegion), fixed("pass the bucket's --region")},
	{is(workflow.ErrNoRegion), fixed("pass the bucket's --region")},
	{is(workflow.ErrObjectConflict), fixed("the bundle's objects are named by its zip's SHA-256: a different object under the same name is damaged")},
	{is(workflow.ErrBadURL), func(a adviceFor, _ error) string {
		if a.given("to") {
			return "pass --public-base with the https:// address devices reach the bucket at"
		}
		return ""
	}},
	{is(store.ErrDuplicateToken), fixed("or 'capship token revoke NAME' to replace it")},
	{is(store.ErrNativeChange), byFlag("min-native",
		"ship a native build with them first, then register with --min-native VERSION (only native apps at VERSION or later get it),\n"+
			"  or pass --allow-native-change if this web bundle does not call them",
		"ship a native build with them first and register the bundle again with --min-native VERSION,\n"+
			"  or pass --allow-native-change if this web bundle does not call them")},
	{as[*release.NoDeltaError], fixed("register without --files-url (zip only), or rebuild the bundle with its per-file objects")},
	{is(workflow.ErrBundleExists), fixed("bump the version, or pass --force to replace it")},
	{is(store.ErrKeyExists), fixed("pass --force to replace it: the old key is archived; installed apps reject bundles built with the new one")},
	{is(store.ErrNoKey), byFlag("key-file",
		"make one with 'capship key create', or bring one in with 'capship key import FILE'; or pass --key-file FILE, or set $CAPSHIP_PRIVATE_KEY to the PEM text",
		"see 'capship key list'; make one with 'capship key create', or bring one in with 'capship key import FILE'")},
	{is(store.ErrNoKeychain), byFlag("key-file",
		"pass --key-file FILE or set $CAPSHIP_PRIVATE_KEY (the PEM text) instead",
		"for 'capship bundle build', pass --key-file FILE or set $CAPSHIP_PRIVATE_KEY (the PEM text) instead")},
	{as[*workflow.PreflightError], advisePreflight},
	{as[*workflow.OutInsideWebError], fixed("pick an --out outside it")},
	{is(workflow.ErrMissingOption), fixed("pass --dir (the web build folder) and --out (where the bundle goes)")},
	{is(workflow.ErrAppID), byFlag("app", "pass --app APP_ID (like com.example.shop)", "")},
	{is(workflow.ErrVersion), func(a adviceFor, _ error) string {
		if a.has("version") && !a.given("version") {
			return "pass --version, e.g. 1.2.3"
		}
		return ""
	}},
	{func(err error) bool {
		return errors.Is(err, workflow.ErrKeyFormat) || errors.Is(err, workflow.ErrKeySize)
	},
		fixed("run 'capship key generate' for a new RSA-2048 pair")},
	{is(workflow.ErrManifest), byFlag("manifest", "pass the APP-VERSION.manifest.json that 'capship bundle build' wrote next to the bundle as --manifest", "")},
}

// advice is the command line's way out of err, "" when none is known.
func advice(a adviceFor, err error) string {
	for _, r := range adviceRules {
		if r.match(err) {
			return r.say(a, err)
		}
	}
	return ""
}

// adviseNotFound names the command that makes, or lists, what is missing.
func adviseNotFound(a adviceFor, err error) string {
	var nf *notFoundError
	errors.As(err, &nf)
	switch nf.what {
	case whatChannel:
		return "create it with 'capship channel create " + nf.name + a.app() + "' (see 'capship channel list')"
	case whatToken:
		return "see 'capship token list'"
	case whatRelease:
		return "see 'capship release list" + a.app() + "'"
	case whatApp:
		return "check --app, or register its first release with 'capship release register'"
	}
	return ""
}

// adviseNoRegistry: a command found no registry file where it looked.
func adviseNoRegistry(a adviceFor, _ error) string {
	var ways []string
	switch {
	case a.given("db"):
		ways = append(ways, "check --db")
	case a.getenv != nil && a.getenv(release.EnvDB) != "":
		ways = append(ways, "check $"+release.EnvDB)
	}
	if a.has("server") {
		ways = append(ways, "pass --server URL (a capship server's admin API)")
	}
	if len(ways) == 0 {
		return ""
	}
	return "or " + strings.Join(ways, ", or ")
}

// advisePreflight: the build folder is not a web build.
func advisePreflight(a adviceFor, err error) string {
	var pe *workflow.PreflightError
	errors.As(err, &pe)
	switch pe.Problem.Kind {
	case workflow.ProblemNoFolder, workflow.ProblemNotFolder, workflow.ProblemNoIndex:
		if a.has("dir") {
			return "pass --dir with the web build folder (the one holding index.html)"
		}
	case workflow.ProblemIndexDeeper:
		if a.has("dir") {
			return "pass --dir " + shellQuote(pe.Problem.Folder)
		}
	case workflow.ProblemNoReadyCall:
		if a.has("no-code-check") {
			return "or pass --no-code-check if the app calls it in a way capship does not see"
		}
	}
	return ""
}
