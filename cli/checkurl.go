package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"capship/workflow"
)

// checkURLOptions are the flags of bundle check-url.
type checkURLOptions struct {
	manifest, url string
	json          bool
}

// newCheckURLCmd is "bundle check-url": step 3 of a release, on its own.
func newCheckURLCmd(s IO) *cobra.Command {
	o := &checkURLOptions{}
	cmd := &cobra.Command{
		Use:     "check-url --manifest FILE --url URL",
		Short:   "Prove the uploaded bundle is the one that was built",
		Long:    "Download the bundle from URL and compare its size and SHA-256 with the manifest. Exits 1 when they differ.",
		Example: "  capship bundle check-url --manifest capship-out/com.example.shop-1.2.0.manifest.json --url https://cdn.example.com/com.example.shop-1.2.0.zip",
		Args:    noArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runCheckURL(cmd.Context(), s, o) },
	}
	addManifestFlag(cmd.Flags(), &o.manifest, " (required)")
	cmd.Flags().StringVar(&o.url, "url", "", "where the encrypted bundle was uploaded (https://, or http:// on a loopback host)")
	addJSONFlag(cmd.Flags(), &o.json, "")
	return cmd
}

func runCheckURL(ctx context.Context, s IO, o *checkURLOptions) error {
	if o.manifest == "" || o.url == "" {
		return usageError("--manifest and --url are required")
	}
	m, err := workflow.ReadManifest(o.manifest)
	if err != nil {
		return err
	}
	check, err := checkHostedBundle(ctx, s, m, o.url)
	if err != nil {
		return err
	}
	if o.json {
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

// urlCheckResult is the --json shape of a URL check.
type urlCheckResult struct {
	OK bool `json:"ok"`
	*workflow.URLCheck
}

func urlCheckJSON(c *workflow.URLCheck) urlCheckResult {
	c.Problems = nonNil(c.Problems)
	return urlCheckResult{OK: c.OK(), URLCheck: c}
}
