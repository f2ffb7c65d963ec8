package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"capship/store"
	"capship/store/release"
	"capship/workflow"
)

// writeJSON prints v as one indented JSON object on w (stdout).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// jsonError is what a failing command prints on stdout with --json.
type jsonError struct {
	Error jsonErrorBody `json:"error"`
}

type jsonErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"` // what to do about it on the command line (advice.go)
}

func writeJSONError(w io.Writer, code, message, hint string) {
	_ = writeJSON(w, jsonError{jsonErrorBody{Code: code, Message: message, Hint: hint}})
}

// errorCodes maps the sentinel errors of store and workflow to the codes
// of --json errors, most specific first.
var errorCodes = []struct {
	err  error
	code string
}{
	{ErrUsage, "usage"},
	{context.Canceled, "cancelled"},
	{store.ErrNoRegistry, "no_registry"},
	{store.ErrNoToken, "no_token"},
	{store.ErrDuplicateVersion, "duplicate_version"},
	{store.ErrDuplicateBundle, "duplicate_bundle"},
	{store.ErrVersionNotNewer, "version_not_newer"},
	{store.ErrKeyMismatch, "key_mismatch"},
	{workflow.ErrKeyMismatch, "key_mismatch"},
	{store.ErrNothingToRollBack, "nothing_to_roll_back"},
	{store.ErrDuplicateChannel, "duplicate_channel"},
	{store.ErrSelfSetDenied, "self_set_denied"},
	{store.ErrDuplicateToken, "duplicate_token"},
	{store.ErrUnauthorized, "unauthorized"},
	{store.ErrForbidden, "forbidden"},
	{store.ErrNativeChange, "native_change"},
	{store.ErrSchemaTooNew, "schema_too_new"},
	{store.ErrSchemaTooOld, "schema_too_old"},
	{store.ErrDiskFull, "disk_full"},
	{store.ErrCorrupt, "corrupt"},
	{store.ErrNoKey, "no_key"},
	{store.ErrNoKeychain, "no_keychain"},
	{store.ErrKeyExists, "key_exists"},
	{store.ErrSecretTooBig, "secret_too_big"},
	{release.ErrNoDelta, "no_delta"},
	{workflow.ErrVersion, "invalid_version"},
	{workflow.ErrAppID, "invalid_app_id"},
	{workflow.ErrManifest, "invalid_manifest"},
	{workflow.ErrSessionKey, "invalid_session_key"},
	{workflow.ErrChecksumMismatch, "checksum_mismatch"},
	{workflow.ErrChecksumFormat, "invalid_checksum"},
	{workflow.ErrCiphertext, "decrypt_failed"},
	{workflow.ErrKeySize, "invalid_key"},
	{workflow.ErrKeyFormat, "invalid_key"},
	{workflow.ErrFileHashKey, "key_mismatch"},
	{workflow.ErrNoConfig, "no_config"},
	{workflow.ErrConfigShape, "config_not_editable"},
	{workflow.ErrBadURL, "bad_url"},
	{workflow.ErrUnsafeZip, "unsafe_zip"},
	{workflow.ErrBundleExists, "bundle_exists"},
	{workflow.ErrStalled, "stalled"},
	{store.ErrNotFound, "not_found"},
	{store.ErrInvalid, "invalid"},
}

// errorCode is the snake_case code of err for --json: the first sentinel it
// wraps, else "error".
func errorCode(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}

// jsonRequested reports whether the command line asked cmd for --json,
// also when parsing stopped before reaching the flag.
func jsonRequested(cmd *cobra.Command, args []string) bool {
	f := cmd.Flags().Lookup("json")
	if f == nil {
		return false
	}
	if f.Changed {
		return f.Value.String() == "true"
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			return true
		}
	}
	return false
}

// table prints rows as gh does: on a terminal, a header and aligned
// columns; otherwise tab-separated rows only, so that '| wc -l' counts them
// and '| cut -f1' takes a column.
func table(s IO, header string, rows [][]string) {
	if !s.StdoutTTY {
		for _, r := range rows {
			fmt.Fprintln(s.Out, strings.Join(r, "\t"))
		}
		return
	}
	tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
}

// timeOrNil is t for JSON, or nil (null) for the zero time.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nonNil turns a nil slice into an empty one, so JSON says [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
