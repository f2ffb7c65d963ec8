package ui

import (
	"context"
	"strings"
	"time"

	"capship/store/release"
	"capship/workflow"
)

// token is the admin token the wizard was started with (--token, or
// $CAPSHIP_TOKEN, which the command line takes only together with a
// server); "" without a server.
func (r *RealRunner) token() string {
	if r.opts.Server == "" {
		return ""
	}
	return r.opts.Token
}

// sameServer reports whether two capship server addresses are the same
// base URL (trailing slashes aside).
func sameServer(a, b string) bool {
	a, b = strings.TrimRight(strings.TrimSpace(a), "/"), strings.TrimRight(strings.TrimSpace(b), "/")
	return a != "" && a == b
}

// Upload sends the bundle and its objects where to says (workflow.Upload),
// then downloads them back from their public URLs. The wizard's token goes
// only to the server it was started with, never to one read from the app's
// config or typed in the form: those take a token typed with them.
func (r *RealRunner) Upload(ctx context.Context, b Bundle, to workflow.UploadTarget, report func(workflow.Event)) (Uploaded, error) {
	if to.S3 == "" && to.Token == "" && sameServer(to.Server, r.opts.Server) {
		to.Token = r.token()
	}
	if to.S3 == "" {
		to.HTTPClient = r.opts.HTTPClient
	}
	st, err := to.Open(ctx)
	if err != nil {
		return Uploaded{}, err
	}
	res, err := workflow.Upload(ctx, b.manifest(), st, workflow.UploadOptions{Client: r.opts.HTTPClient,
		Report: workflow.Throttle(report, 100*time.Millisecond)})
	if res == nil {
		return Uploaded{}, err
	}
	out := Uploaded{Target: res.Target, URL: res.URL, FilesURL: res.FilesURL, Objects: res.Objects,
		Uploaded: res.Uploaded, Skipped: res.Skipped, Bytes: res.Bytes}
	if err != nil { // uploaded, but the public URLs could not be fetched
		return out, err
	}
	if c := res.Check; c != nil {
		out.Check = urlCheck(c)
	}
	if c := res.ObjectsCheck; c != nil {
		out.Files = filesCheck(c)
	}
	return out, nil
}

// filesCheck is the wizard's form of an objects check.
func filesCheck(c *workflow.ObjectsCheck) *FilesCheck {
	out := &FilesCheck{BaseURL: c.BaseURL, Objects: c.Objects, Files: c.Files, Checked: c.Checked,
		Bytes: c.Bytes, WantBytes: c.WantBytes, Stopped: c.Stopped}
	for _, p := range c.Problems {
		out.Problems = append(out.Problems, ObjectProblem{Object: p.Object, Paths: p.Paths, Problem: p.Problem})
	}
	return out
}

// S3Settings reads the app's remembered bucket settings; zero when there
// are none yet.
func (r *RealRunner) S3Settings(appID string) (S3Settings, error) {
	return release.LoadBucketSettings(r.opts.ConfigDir, appID)
}

// SaveS3Settings remembers the app's bucket settings (atomically).
func (r *RealRunner) SaveS3Settings(appID string, set S3Settings) error {
	return release.SaveBucketSettings(r.opts.ConfigDir, appID, set)
}
