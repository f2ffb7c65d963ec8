package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxPackageJSON bounds a package.json read for the native packages: real
// ones are a few KiB.
const maxPackageJSON = 4 << 20

// alwaysNative are the Capacitor platforms, native whatever their folder
// holds.
var alwaysNative = map[string]bool{"@capacitor/android": true, "@capacitor/ios": true}

// NativePackages says which of the app's direct dependencies (the
// "dependencies" and "devDependencies" of appDir/package.json, as the
// Capacitor CLI syncs both) carry native code, each with the
// version installed under appDir/node_modules (or a parent folder's, as
// Node finds it). A dependency is native when
// its installed folder has an android/ or ios/ folder or a plugin.xml (a
// Cordova plugin), or its package.json a "capacitor" field; @capacitor/android and @capacitor/ios always are.
// A web bundle that calls a native plugin the installed apps lack breaks
// them, so the manifest records these and the registry compares them.
//
// It returns nil, and no error, when appDir has no package.json. A
// dependency that is not installed is left out and named in the warnings
// (as is a missing node_modules: then nothing is recorded); a
// devDependency that is not installed is left out silently.
func NativePackages(appDir string) (map[string]string, []string, error) {
	pkgPath := filepath.Join(appDir, "package.json")
	var app struct {
		Dependencies    map[string]json.RawMessage `json:"dependencies"`
		DevDependencies map[string]json.RawMessage `json:"devDependencies"`
	}
	if err := readPackageJSON(pkgPath, &app); errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("read native packages: %w", err)
	}
	modules := filepath.Join(appDir, "node_modules")
	all := nodeModules(appDir)
	if len(app.Dependencies)+len(app.DevDependencies) > 0 {
		if len(all) == 0 {
			return nil, []string{fmt.Sprintf("native packages not recorded: %s is missing (run npm install before building), so 'release register' cannot compare them with what the channel serves", modules)}, nil
		}
	}
	names := make([]string, 0, len(app.Dependencies)+len(app.DevDependencies))
	for name := range app.Dependencies {
		names = append(names, name)
	}
	for name := range app.DevDependencies {
		if _, ok := app.Dependencies[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := map[string]string{}
	var warnings []string
	for _, name := range names {
		if !validPackageName(name) {
			warnings = append(warnings, fmt.Sprintf("package.json dependency %q is not an npm package name; skipped for the native packages", name))
			continue
		}
		var dir string
		var pkg struct {
			Version   string          `json:"version"`
			Capacitor json.RawMessage `json:"capacitor"`
		}
		err := fs.ErrNotExist
		for _, m := range all { // the first that holds it, as Node resolves it
			dir = filepath.Join(m, filepath.FromSlash(name))
			if err = readPackageJSON(filepath.Join(dir, "package.json"), &pkg); !errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
		if _, prod := app.Dependencies[name]; !prod && errors.Is(err, fs.ErrNotExist) {
			continue // npm install --omit=dev
		}
		if errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, fmt.Sprintf("%s is in package.json but not installed in %s (run npm install); not recorded as a native package", name, modules))
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read native packages: %w", err)
		}
		if alwaysNative[name] || isDir(filepath.Join(dir, "android")) || isDir(filepath.Join(dir, "ios")) || isFile(filepath.Join(dir, "plugin.xml")) ||
			len(pkg.Capacitor) > 0 && string(pkg.Capacitor) != "null" {
			out[name] = pkg.Version
		}
	}
	return out, warnings, nil
}

// nodeModules lists the node_modules folders Node looks for appDir's
// packages in: appDir's own, then each parent's (where an npm or yarn
// workspace hoists them).
func nodeModules(appDir string) []string {
	d, err := filepath.Abs(appDir)
	if err != nil {
		d = appDir
	}
	var out []string
	for {
		if m := filepath.Join(d, "node_modules"); isDir(m) {
			out = append(out, m)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return out
		}
		d = parent
	}
}

// readPackageJSON decodes a package.json of at most maxPackageJSON bytes.
func readPackageJSON(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPackageJSON+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxPackageJSON {
		return fmt.Errorf("read %s: larger than %d MiB", path, maxPackageJSON>>20)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: not valid JSON: %w", path, err)
	}
	return nil
}

// validPackageName accepts an npm name (name or @scope/name) that stays a
// folder or two below node_modules.
func validPackageName(name string) bool {
	parts := strings.Split(name, "/")
	if len(parts) > 2 || len(parts) == 2 && !strings.HasPrefix(parts[0], "@") || len(parts) == 1 && strings.HasPrefix(name, "@") {
		return false
	}
	for _, p := range parts {
		if p == "" || p == "." || p == ".." || p == "@" || strings.ContainsAny(p, `\:`) {
			return false
		}
	}
	return true
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
