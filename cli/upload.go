package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"capship/workflow"
)

// uploadOptions are the command line of "bundle upload".
type uploadOptions struct {
	Manifest   string
	Server     string // a capship server ('capship serve --storage'); default $CAPSHIP_SERVER
	Token      string // its admin token; default $CAPSHIP_TOKEN
	To         string // s3://BUCKET/PREFIX
	Endpoint   string // of an S3-compatible service
	Region     string
	PathStyle  bool
	PublicBase string // URL devices reach the bucket's root at
	Parallel   int
	NoCheck    bool
	JSON       bool

	// Register registers the release once the hosted bytes are proven the
	// built ones, as 'release register' would: on the --server uploaded
	// to, else in --db / $CAPSHIP_SERVER / the local registry.
	Register          bool
	DB                string
	Channel           string
	MinNative         string
	AllowNativeChange bool
}

// newBundleUploadCmd is "bundle upload": step 2 of a release, hosting the
// bundle where devices download it.
func newBundleUploadCmd(s IO) *cobra.Command {
	var o uploadOptions
	cmd := &cobra.Command{
		Use:   "upload --manifest FILE (--server URL --token TOKEN | --to s3://BUCKET/PREFIX)",
		Short: "Upload the bundle and its delta objects where devices download them, then check them",
		Long: "Upload the encrypted bundle and every object of its delta folder to a capship server's\n" +
			"storage ('capship serve --storage') or an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, …),\n" +
			"skipping objects already there with the same size and SHA-256, then download them back from\n" +
			"their public URLs and compare them with the built ones. S3 credentials come from the AWS SDK's\n" +
			"standard chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ~/.aws/credentials).",
		Example: "  capship bundle upload --manifest capship-out/com.example.shop-1.2.0.manifest.json --server https://updates.example.com --token $TOKEN\n" +
			"  capship bundle upload --manifest capship-out/com.example.shop-1.2.0.manifest.json --to s3://shop-bundles/live --region eu-west-1\n" +
			"  capship bundle upload --manifest M --to s3://bundles --endpoint https://minio.internal:9000 --path-style --public-base https://cdn.example.com\n" +
			"  capship bundle upload --manifest M --server https://updates.example.com --register --channel beta   # hosted, checked and registered",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBundleUpload(cmd.Context(), s, o) },
	}
	fs := cmd.Flags()
	addManifestFlag(fs, &o.Manifest, " (required)")
	fs.StringVar(&o.Server, "server", "", "upload to the storage of the capship server at this `URL` (default $CAPSHIP_SERVER)")
	fs.StringVar(&o.Token, "token", "", "admin API `token` for --server (default $CAPSHIP_TOKEN)")
	fs.StringVar(&o.To, "to", "", "upload to this S3 bucket and key prefix, s3://BUCKET/PREFIX")
	fs.StringVar(&o.Endpoint, "endpoint", "", "`URL` of an S3-compatible service (default: AWS S3)")
	fs.StringVar(&o.Region, "region", "", "the bucket's region (default $AWS_REGION or the profile's; us-east-1 with --endpoint)")
	fs.BoolVar(&o.PathStyle, "path-style", false, "address the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (MinIO and most self-hosted services)")
	fs.StringVar(&o.PublicBase, "public-base", "", "the `URL` devices reach the bucket's root at, when not the endpoint (a CDN, a public domain)")
	fs.IntVar(&o.Parallel, "parallel", 8, "objects uploaded at once")
	fs.BoolVar(&o.NoCheck, "no-check", false, "do not download the objects back to compare them with the built ones")
	fs.BoolVar(&o.Register, "register", false, "then register the release, as 'capship release register' would (on --server, else --db / $CAPSHIP_SERVER / the local registry)")
	addChannelFlag(fs, &o.Channel, "production", "with --register: channel to point at the release (\"\" for none)")
	fs.StringVar(&o.MinNative, "min-native", "", "with --register: lowest native app `version` (version_build) that may get it")
	fs.BoolVar(&o.AllowNativeChange, "allow-native-change", false, "with --register: register even though the bundle's native packages differ from the release the channel serves")
	addDBFlag(fs, &o.DB)
	addJSONFlag(fs, &o.JSON, "print url, files_url and what was uploaded (with --register, and the release) as JSON on stdout")
	return cmd
}

// runBundleUpload uploads, prints where devices find the release and the
// check's findings, and fails when the hosted bytes are not the built ones.
func runBundleUpload(ctx context.Context, s IO, o uploadOptions) error {
	if o.Manifest == "" {
		return usageError("--manifest is required: the APP-VERSION.manifest.json 'capship bundle build' wrote")
	}
	if o.To == "" && o.Server == "" {
		o.Server = s.Getenv("CAPSHIP_SERVER")
	}
	if o.Token == "" && o.Server != "" {
		o.Token = s.Getenv("CAPSHIP_TOKEN")
	}
	s3Flags := o.Endpoint != "" || o.Region != "" || o.PathStyle || o.PublicBase != ""
	switch {
	case o.To != "" && o.Server != "":
		return usageError("--to and --server exclude each other: upload to an S3 bucket or to a capship server")
	case o.To == "" && o.Server == "":
		return usageError("say where to upload: --server URL --token TOKEN (a capship server) or --to s3://BUCKET/PREFIX")
	case o.Server != "" && o.Token == "":
		return usageError("--server needs --token (or $CAPSHIP_TOKEN): an admin token, see 'capship token create'")
	case o.Server != "" && s3Flags:
		return usageError("--endpoint, --region, --path-style and --public-base go with --to")
	case !o.Register && (o.DB != "" || o.MinNative != "" || o.AllowNativeChange):
		return usageError("--db, --min-native and --allow-native-change go with --register")
	case o.Register && o.NoCheck:
		return usageError("--register needs the download-back check: drop --no-check")
	case o.Register && o.Server != "" && o.DB != "":
		return usageError("--register with --server registers on that server: drop --db")
	}
	m, err := workflow.ReadManifest(o.Manifest)
	if err != nil {
		return err
	}
	st, err := uploadStore(ctx, o)
	if err != nil {
		return err
	}
	plan, err := workflow.UploadPlan(m)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	fmt.Fprintf(s.Err, "uploading %s %s to %s: the bundle and %d delta objects\n", m.AppID, m.Version, st.Describe(), len(plan)-1)
	res, err := workflow.Upload(ctx, m, st, workflow.UploadOptions{Parallel: o.Parallel, NoCheck: o.NoCheck, Report: newProgress(s)})
	if res == nil {
		return err
	}
	fmt.Fprintf(s.Err, "uploaded %d objects (%s), %d already there\n", res.Uploaded, humanize.IBytes(uint64(res.Bytes)), res.Skipped)
	fmt.Fprintf(s.Err, "url:       %s\n", res.URL)
	if res.FilesURL != "" {
		fmt.Fprintf(s.Err, "files_url: %s\n", res.FilesURL)
	}
	if err != nil { // uploaded, but the public URLs cannot be checked
		return err
	}
	ok := o.NoCheck || reportUploadCheck(s, m, res)
	if ok && o.Register {
		return registerUploaded(ctx, s, o, res)
	}
	if o.JSON {
		if err := writeJSON(s.Out, uploadJSON(res, o.NoCheck)); err != nil {
			return err
		}
	}
	if !ok {
		if o.To != "" {
			fmt.Fprintln(s.Err, "devices download without credentials: make the objects publicly readable (a bucket policy allowing s3:GetObject), or pass --public-base with the address that serves them")
		}
		return silentError{code: 1}
	}
	next := "capship release register --manifest " + o.Manifest + " --url " + res.URL
	if res.FilesURL != "" {
		next += " --files-url " + res.FilesURL
	}
	if o.Server != "" && o.Server != s.Getenv("CAPSHIP_SERVER") { // register there, not in this machine's registry
		next += " --server " + o.Server
		if o.Token != s.Getenv("CAPSHIP_TOKEN") {
			next += " --token TOKEN"
		}
	}
	fmt.Fprintf(s.Err, "next: %s\n", next)
	return nil
}

// registerUploaded registers what was just uploaded and checked, and
// prints both results.
func registerUploaded(ctx context.Context, s IO, o uploadOptions, up *workflow.UploadResult) error {
	f := &registerOptions{manifest: o.Manifest, url: up.URL, filesURL: up.FilesURL, channel: o.Channel,
		minNative: o.MinNative, allowNativeChange: o.AllowNativeChange, checked: up}
	f.db, f.server, f.token = o.DB, o.Server, o.Token
	reg, err := registerRelease(ctx, s, f)
	if err != nil {
		return err
	}
	if o.JSON {
		out := uploadJSON(up, false)
		out["register"] = reg
		return writeJSON(s.Out, out)
	}
	reg.print(s)
	return nil
}

// uploadStore opens the target the options name (workflow.UploadTarget,
// as the wizard does).
func uploadStore(ctx context.Context, o uploadOptions) (workflow.ObjectStore, error) {
	if o.To != "" {
		if _, _, err := workflow.ParseS3URL(o.To); err != nil {
			return nil, usageError("--to: %v", err)
		}
	}
	return workflow.UploadTarget{Server: o.Server, Token: o.Token, S3: o.To, Endpoint: o.Endpoint,
		Region: o.Region, PathStyle: o.PathStyle, PublicBase: o.PublicBase, HTTPClient: &http.Client{}}.Open(ctx)
}

// reportUploadCheck tells the person what the download-back check found;
// true when the hosted bytes are the built ones.
func reportUploadCheck(s IO, m *workflow.Manifest, res *workflow.UploadResult) bool {
	if c := res.Check; c.OK() {
		fmt.Fprintf(s.Err, "downloaded back: the hosted bundle is the built one (%s, sha256 %s)\n", humanize.IBytes(uint64(c.Size)), c.SHA256)
	} else {
		fmt.Fprintf(s.Err, "the hosted bundle at %s is NOT the built one (HTTP %d):\n", c.URL, c.Status)
		for _, p := range c.Problems {
			fmt.Fprintf(s.Err, "  - %s\n", p)
		}
	}
	if c := res.ObjectsCheck; c != nil {
		if c.OK() {
			fmt.Fprintf(s.Err, "downloaded back: the %d hosted objects are the built ones (%s)\n", c.Objects, humanize.IBytes(uint64(c.Bytes)))
		} else {
			fmt.Fprintf(s.Err, "%d of %d objects at %s/ are NOT the built ones:\n", len(c.Problems), c.Objects, c.BaseURL)
			for _, p := range c.Problems {
				fmt.Fprintf(s.Err, "  - %s (%s): %s\n", p.Object, p.Files(), p.Problem)
			}
		}
	}
	return res.Checked()
}

// uploadJSON is the --json shape of an upload.
func uploadJSON(res *workflow.UploadResult, noCheck bool) map[string]any {
	out := map[string]any{
		"url":         res.URL,
		"files_url":   res.FilesURL,
		"target":      res.Target,
		"objects":     res.Objects,
		"uploaded":    res.Uploaded,
		"skipped":     res.Skipped,
		"bytes":       res.Bytes,
		"total_bytes": res.TotalBytes,
		"retries":     res.Retries,
		"checked":     !noCheck && res.Checked(),
	}
	if res.Check != nil {
		out["check"] = urlCheckJSON(res.Check)
	}
	if res.ObjectsCheck != nil {
		out["objects_check"] = res.ObjectsCheck
	}
	return out
}
