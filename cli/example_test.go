package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/workflow"
)

// copyExample copies examples/hello into a temp folder, so that no test can
// change the committed example.
func copyExample(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "examples", "hello")
	dst := filepath.Join(t.TempDir(), "hello")
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == "node_modules" || d.Name() == workflowOutDir {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatalf("copy examples/hello: %v", err)
	}
	return dst
}

const workflowOutDir = "capship-out"

// The example app is what the README's first command runs on: a config
// the wizard completes, a plugin new enough, a build that passes the
// preflight.
func TestExampleAppIsReleasable(t *testing.T) {
	dir := copyExample(t)
	p, err := workflow.LoadProjectConfig(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.AppID != "com.example.hello" || p.WebDir != "www" || p.Version == "" {
		t.Fatalf("example project: app %q, webDir %q, version %q", p.AppID, p.WebDir, p.Version)
	}
	if p.PublicKey != "" || p.UpdateURL != "" {
		t.Fatalf("the example must leave publicKey and updateUrl to the wizard: %q %q", p.PublicKey, p.UpdateURL)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err == nil {
		err = json.Unmarshal(data, &pkg)
	}
	if err != nil {
		t.Fatal(err)
	}
	plugin := strings.TrimLeft(pkg.Dependencies["@capgo/capacitor-updater"], "^~>=")
	if plugin == "" || workflow.CompareVersions(plugin, "8.45.11") < 0 || !strings.HasPrefix(plugin, "8.") {
		t.Fatalf("@capgo/capacitor-updater %q: want 8.x at least 8.45.11", plugin)
	}
	if pkg.Dependencies["@capacitor/core"] == "" {
		t.Fatal("package.json does not name @capacitor/core")
	}
	tree, err := workflow.Scan(filepath.Join(dir, "www"), workflow.ScanOptions{})
	if err != nil {
		t.Fatalf("preflight of the example build: %v", err)
	}
	for _, pr := range tree.Problems {
		t.Errorf("preflight: %s: %s", pr.Path, pr.Message)
	}
}

// `capship -C examples/hello --no-input` prints the release as commands
// and succeeds, with or without the wizard command.
func TestExampleAppWithoutInput(t *testing.T) {
	dir := copyExample(t)
	for _, args := range [][]string{
		{"-C", dir, "--no-input"},
		{"wizard", "-C", dir, "--no-input"},
	} {
		r := run(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("capship %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.out, r.err)
		}
		all := r.out + r.err
		for _, want := range []string{"--app com.example.hello", "--dir www --version 1.0.0", "release register"} {
			if !strings.Contains(all, want) {
				t.Errorf("capship %s does not print %q:\n%s", strings.Join(args, " "), want, all)
			}
		}
	}
}
