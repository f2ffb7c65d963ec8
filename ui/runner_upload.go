package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

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

// settingsPath is the app's file in the user's config folder, where the
// wizard remembers its S3 settings: CONFIG/capship/apps/APP.json.
func (r *RealRunner) settingsPath(appID string) (string, error) {
	if err := workflow.ValidAppID(appID); err != nil || filepath.Base(appID) != appID {
		return "", fmt.Errorf("app settings: %q is not an app id", appID)
	}
	dir := r.opts.ConfigDir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("app settings: %w", err)
		}
		dir = filepath.Join(base, "capship")
	}
	return filepath.Join(dir, "apps", appID+".json"), nil
}

// appSettings is the file's shape; other settings may join S3 later.
type appSettings struct {
	S3 *S3Settings `json:"s3,omitempty"`
}

// S3Settings reads the app's remembered bucket settings; zero when there
// are none yet.
func (r *RealRunner) S3Settings(appID string) (S3Settings, error) {
	path, err := r.settingsPath(appID)
	if err != nil {
		return S3Settings{}, err
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return S3Settings{}, nil
	}
	if err != nil {
		return S3Settings{}, fmt.Errorf("read app settings: %w", err)
	}
	var s appSettings
	if err := json.Unmarshal(data, &s); err != nil {
		return S3Settings{}, fmt.Errorf("read app settings %s: %w (delete the file to start afresh)", path, err)
	}
	if s.S3 == nil {
		return S3Settings{}, nil
	}
	return *s.S3, nil
}

// SaveS3Settings writes the app's bucket settings atomically (temp file,
// fsync, rename). They hold no secret.
func (r *RealRunner) SaveS3Settings(appID string, set S3Settings) error {
	path, err := r.settingsPath(appID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save app settings: %w", err)
	}
	data, err := json.MarshalIndent(appSettings{S3: &set}, "", "  ")
	if err != nil {
		return err
	}
	if err := workflow.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save app settings: %w", err)
	}
	return nil
}
