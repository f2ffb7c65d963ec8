package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// adviceOf is the advice for err from the command the words name, with
// its flags parsed as on a command line.
func adviceOf(t *testing.T, env map[string]string, err error, words ...string) string {
	t.Helper()
	s := IO{Getenv: func(k string) string { return env[k] }}
	root := newRootCmd(s)
	cmd, rest, ferr := root.Find(words)
	if ferr != nil {
		t.Fatal(ferr)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatal(err)
	}
	return advice(newAdviceFor(cmd, s.Getenv), err)
}

// Each typed error gets the command line's way out, worded for the
// command that failed; errors without one get none.
func TestAdvice(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("do something: %w", err) }
	for _, tc := range []struct {
		name  string
		err   error
		words []string
		env   map[string]string
		want  string // "" for no advice
	}{
		{"bundle exists", wrap(workflow.ErrBundleExists), []string{"bundle", "build"}, nil, "pass --force"},
		{"key exists", wrap(&release.KeyExistsError{AppID: testApp}), []string{"key", "create"}, nil, "pass --force to replace it: the old key is archived"},
		{"key exists in store", wrap(store.ErrKeyExists), []string{"key", "import", "k.pem"}, nil, "pass --force"},
		{"no keychain, build", wrap(&store.KeychainError{Kind: store.ErrNoKeychain}), []string{"bundle", "build"}, nil, "pass --key-file FILE or set $CAPSHIP_PRIVATE_KEY"},
		{"no keychain, key list", wrap(store.ErrNoKeychain), []string{"key", "list"}, nil, "for 'capship bundle build', pass --key-file"},
		{"not newer", wrap(store.ErrVersionNotNewer), []string{"release", "promote", "1.0.0", "--channel", "beta"}, nil, "'capship release rollback --channel beta'"},
		{"not newer, app given", wrap(store.ErrVersionNotNewer), []string{"release", "promote", "1.0.0", "--channel", "beta", "--app", "com.x.y"}, nil, "--channel beta --app com.x.y'"},
		{"no channel", missing(wrap(store.ErrNotFound), whatChannel, "nightly"), []string{"channel", "set", "nightly"}, nil, "create it with 'capship channel create nightly'"},
		{"no token", missing(wrap(store.ErrNotFound), whatToken, "ci"), []string{"token", "revoke", "ci"}, nil, "see 'capship token list'"},
		{"no release", missing(wrap(store.ErrNotFound), whatRelease, "9.9.9"), []string{"release", "promote", "9.9.9", "--channel", "p"}, nil, "see 'capship release list'"},
		{"no app", missing(wrap(store.ErrNotFound), whatApp, testApp), []string{"stats"}, nil, "'capship release register'"},
		{"not found, unknown what", wrap(store.ErrNotFound), []string{"release", "list"}, nil, ""},
		{"nothing to roll back", wrap(store.ErrNothingToRollBack), []string{"release", "rollback", "--channel", "production"}, nil, "see 'capship channel history production'"},
		{"duplicate channel", wrap(store.ErrDuplicateChannel), []string{"channel", "create", "beta"}, nil, "change it with 'capship channel set beta'"},
		{"self-set denied", wrap(store.ErrSelfSetDenied), []string{"channel", "set", "beta"}, nil, "'capship channel set beta --self-set'"},
		{"unauthorized", wrap(store.ErrUnauthorized), []string{"release", "list"}, nil, "'capship token create NAME'"},
		{"forbidden", wrap(store.ErrForbidden), []string{"release", "list"}, nil, "token create NAME --app APP"},
		{"duplicate token", wrap(store.ErrDuplicateToken), []string{"token", "create", "ci"}, nil, "'capship token revoke NAME'"},
		{"no admin token", wrap(store.ErrNoToken), []string{"stats"}, nil, "pass --token or set $CAPSHIP_TOKEN"},
		{"redirect", wrap(&store.RedirectError{Host: "a", Location: "https://b/"}), []string{"stats"}, nil, "final https:// address as --server"},
		{"no registry, --db", wrap(&store.NoRegistryError{Path: "x.db"}), []string{"release", "list", "--db", "x.db"}, nil, "check --db, or pass --server URL"},
		{"no registry, $CAPSHIP_DB", wrap(&store.NoRegistryError{Path: "x.db"}), []string{"channel", "list"}, map[string]string{"CAPSHIP_DB": "x.db"}, "check $CAPSHIP_DB"},
		{"no registry, tokens", wrap(&store.NoRegistryError{Path: "x.db"}), []string{"token", "list"}, nil, ""},
		{"schema too old", wrap(store.ErrSchemaTooOld), []string{"release", "list"}, nil, "run 'capship serve' or 'capship release register' once"},
		{"db and server", fmt.Errorf("%w: %w", ErrUsage, release.ErrDBAndServer), []string{"release", "list"}, nil, "--db and --server exclude each other"},
		{"token without server", fmt.Errorf("%w: %w", ErrUsage, release.ErrTokenWithoutServer), []string{"release", "list"}, nil, "--token goes with --server"},
		{"no delta", wrap(&release.NoDeltaError{}), []string{"release", "register"}, nil, "register without --files-url"},
		{"native change", wrap(&store.NativeChangeError{}), []string{"release", "register"}, nil, "--allow-native-change"},
		{"app id", wrap(workflow.ErrAppID), []string{"bundle", "build"}, nil, "pass --app"},
		{"missing option", wrap(workflow.ErrMissingOption), []string{"bundle", "build"}, nil, "pass --dir"},
		{"out inside web", wrap(&workflow.OutInsideWebError{Out: "www/out", Web: "www"}), []string{"bundle", "build"}, nil, "pick an --out outside it"},
		{"version not given", wrap(workflow.ErrVersion), []string{"bundle", "build"}, nil, "pass --version"},
		{"version given", wrap(workflow.ErrVersion), []string{"bundle", "build", "--version", "v1"}, nil, ""},
		{"no folder", wrap(&workflow.PreflightError{Problem: workflow.Problem{Kind: workflow.ProblemNoFolder}}), []string{"bundle", "build"}, nil, "pass --dir"},
		{"not a folder", wrap(&workflow.PreflightError{Problem: workflow.Problem{Kind: workflow.ProblemNotFolder}}), []string{"bundle", "build"}, nil, "pass --dir"},
		{"no index", wrap(&workflow.PreflightError{Problem: workflow.Problem{Kind: workflow.ProblemNoIndex}}), []string{"bundle", "build"}, nil, "pass --dir"},
		{"index deeper", wrap(&workflow.PreflightError{Problem: workflow.Problem{Kind: workflow.ProblemIndexDeeper, Folder: "dist/app"}}), []string{"bundle", "build"}, nil, "--dir dist/app"},
		{"no ready call", wrap(&workflow.PreflightError{Problem: workflow.Problem{Kind: workflow.ProblemNoReadyCall}}), []string{"bundle", "build"}, nil, "--no-code-check"},
		{"other preflight problem", wrap(&workflow.PreflightError{}), []string{"bundle", "build"}, nil, ""},
		{"key format", wrap(workflow.ErrKeyFormat), []string{"key", "import", "k.pem"}, nil, "'capship key generate'"},
		{"key size", wrap(workflow.ErrKeySize), []string{"bundle", "build"}, nil, "'capship key generate'"},
		{"manifest", wrap(workflow.ErrManifest), []string{"release", "register"}, nil, "manifest.json that 'capship bundle build' wrote"},
		{"no advice", errors.New("disk on fire"), []string{"release", "list"}, nil, ""},
	} {
		got := adviceOf(t, tc.env, tc.err, tc.words...)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%s: advice %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Run prints the advice under the error, and --json carries it as
// error.hint beside the code and message.
func TestAdvicePrinted(t *testing.T) {
	env := map[string]string{"CAPSHIP_DB": t.TempDir() + "/r.db"}
	if r := run(t, env, "channel", "create", "beta", "--app", testApp); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	r := run(t, env, "channel", "create", "beta", "--app", testApp)
	if r.code != 1 || !strings.Contains(r.err, "\nhint: change it with 'capship channel set beta --app "+testApp+"'\n") {
		t.Fatalf("advice on stderr: %+v", r)
	}
	r = run(t, env, "channel", "create", "beta", "--app", testApp, "--json")
	if r.code != 1 || !strings.Contains(r.out, `"code": "duplicate_channel"`) || !strings.Contains(r.out, `"hint": "change it with`) {
		t.Fatalf("advice in --json: %+v", r)
	}
}
