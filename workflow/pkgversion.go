package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// NextPatch returns the smallest plain X.Y.Z version newer than v: v
// without its pre-release when it has one (1.4.0-beta.2 -> 1.4.0), else
// v with its patch number raised by one (1.4.0 -> 1.4.1). Build metadata
// is dropped.
func NextPatch(v string) (string, error) {
	if err := ValidVersion(v); err != nil {
		return "", err
	}
	core, _, _ := strings.Cut(v, "+")
	core, pre, _ := strings.Cut(core, "-")
	if pre != "" {
		return core, nil
	}
	parts := strings.SplitN(core, ".", 3)
	patch, err := strconv.ParseUint(parts[2], 10, 63)
	if err != nil {
		return "", fmt.Errorf("next patch of %s: %w", v, err)
	}
	return parts[0] + "." + parts[1] + "." + strconv.FormatUint(patch+1, 10), nil
}

// SetPackageVersion writes version as the "version" of the package.json in
// dir, editing the file in place: every other byte (indentation, key order,
// line endings) stays as it was. The result is read back before an atomic
// rename that keeps the file's mode.
func SetPackageVersion(dir, version string) error {
	if err := ValidVersion(version); err != nil {
		return fmt.Errorf("set package version: %w", err)
	}
	path := filepath.Join(dir, "package.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("set package version: %w", err)
	}
	src := bytes.TrimPrefix(data, utf8BOM)
	var before map[string]any
	if err := json.Unmarshal(src, &before); err != nil {
		return fmt.Errorf("set package version: read %s: %w", path, err)
	}
	out, err := jsonSet(src, []string{"version"}, jsonString(version))
	if err != nil {
		return fmt.Errorf("set package version in %s: %w", path, err)
	}
	var after map[string]any
	before["version"] = version
	if err := json.Unmarshal(out, &after); err != nil || !reflect.DeepEqual(after, before) {
		return fmt.Errorf("set package version in %s: the edited file would not read back as expected; the file was not changed", path)
	}
	if bytes.HasPrefix(data, utf8BOM) {
		out = append(append([]byte(nil), utf8BOM...), out...)
	}
	return writeFileAtomic(path, out)
}
