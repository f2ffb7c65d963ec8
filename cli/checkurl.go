package cli

import (
	"context"
	"fmt"

	"capship/workflow"
)

// checkURLCommands lists "bundle check-url": step 3 of a release, on its own.
func checkURLCommands() []Command {
	return []Command{{
		Name:    "bundle check-url",
		Usage:   "--manifest MANIFEST --url URL [--json]",
		Summary: "prove the uploaded bundle is the one that was built",
		Run:     runCheckURL,
	}}
}

func runCheckURL(ctx context.Context, s IO, args []string) error {
	const name = "bundle check-url"
	fs := newFlags(s, name, checkURLCommands()[0].Usage,
		"Download the bundle from URL and compare its size and SHA-256 with the manifest.")
	manifest := fs.String("manifest", "", "the manifest 'capship bundle build' wrote next to the bundle")
	rawURL := fs.String("url", "", "where the encrypted bundle was uploaded (https://, or http:// on a loopback host)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := parseOnlyFlags(fs, args); err != nil {
		return err
	}
	if *manifest == "" || *rawURL == "" {
		return usageError("--manifest and --url are required")
	}
	m, err := workflow.ReadManifest(*manifest)
	if err != nil {
		return err
	}
	check, err := checkHostedBundle(ctx, s, m, *rawURL)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(s.Out, urlCheckJSON(check)); err != nil {
			return err
		}
	}
	if !check.OK() {
		return silentError{code: 1}
	}
	return nil
}

// checkHostedBundle validates rawURL, downloads it with progress on stderr
// and tells the person what differs from the manifest's bundle, if anything.
// The error is for URLs that cannot be used or fetched at all.
func checkHostedBundle(ctx context.Context, s IO, m *workflow.Manifest, rawURL string) (*workflow.URLCheck, error) {
	_, warning, err := workflow.ValidateBundleURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("check url: %w", err)
	}
	if warning != "" {
		fmt.Fprintf(s.Err, "warning: %s\n", warning)
	}
	fmt.Fprintf(s.Err, "downloading %s to compare with %s (%d bytes)\n", rawURL, m.File, m.Size)
	check, err := workflow.CheckURL(ctx, nil, rawURL, m.Size, m.SHA256, newProgress(s))
	if err != nil {
		return nil, fmt.Errorf("check url: %w", err)
	}
	if check.OK() {
		fmt.Fprintf(s.Err, "the hosted file is the built bundle (%d bytes, sha256 %s)\n", check.Size, check.SHA256)
		return check, nil
	}
	fmt.Fprintf(s.Err, "the hosted file is NOT the built bundle (HTTP %d, %s):\n", check.Status, orNone(check.ContentType))
	if check.SHA256 != "" {
		fmt.Fprintf(s.Err, "  hosted sha256 %s\n  built  sha256 %s\n", check.SHA256, check.WantSHA256)
	}
	for _, p := range check.Problems {
		fmt.Fprintf(s.Err, "  - %s\n", p)
	}
	return check, nil
}

func orNone(contentType string) string {
	if contentType == "" {
		return "no content type"
	}
	return "content type " + contentType
}

// urlCheckJSON is the --json shape of a URL check.
func urlCheckJSON(c *workflow.URLCheck) map[string]any {
	return map[string]any{
		"ok":           c.OK(),
		"url":          c.URL,
		"final_url":    c.FinalURL,
		"status":       c.Status,
		"content_type": c.ContentType,
		"size":         c.Size,
		"want_size":    c.WantSize,
		"sha256":       c.SHA256,
		"want_sha256":  c.WantSHA256,
		"problems":     nonNil(c.Problems),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
