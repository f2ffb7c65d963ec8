package workflow

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNextPatch(t *testing.T) {
	for in, want := range map[string]string{
		"1.4.0":          "1.4.1",
		"0.0.9":          "0.0.10",
		"2.0.0-beta.3":   "2.0.0",
		"1.2.3+build.7":  "1.2.4",
		"1.2.3-rc.1+b.2": "1.2.3",
	} {
		got, err := NextPatch(in)
		if err != nil || got != want {
			t.Errorf("NextPatch(%q) = %q, %v; want %q", in, got, err, want)
		}
		if CompareVersions(got, in) <= 0 {
			t.Errorf("NextPatch(%q) = %q is not newer", in, got)
		}
	}
	if _, err := NextPatch("1.2"); err == nil {
		t.Error("NextPatch(1.2) did not fail")
	}
}

func TestSetPackageVersion(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"two spaces",
			"{\n  \"name\": \"shop\",\n  \"version\": \"1.4.0\",\n  \"private\": true\n}\n",
			"{\n  \"name\": \"shop\",\n  \"version\": \"1.4.1\",\n  \"private\": true\n}\n"},
		{"tabs and CRLF",
			"{\r\n\t\"version\" : \"1.4.0\",\r\n\t\"scripts\": {\"build\": \"vite build\"}\r\n}\r\n",
			"{\r\n\t\"version\" : \"1.4.1\",\r\n\t\"scripts\": {\"build\": \"vite build\"}\r\n}\r\n"},
		{"no version yet",
			"{\n    \"name\": \"shop\"\n}\n",
			"{\n    \"name\": \"shop\",\n    \"version\": \"1.4.1\"\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "package.json")
			if err := os.WriteFile(path, []byte(tc.in), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := SetPackageVersion(dir, "1.4.1"); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640", st.Mode().Perm())
			}
			var p Project
			if err := readPackageVersion(path, &p); err != nil || p.Version != "1.4.1" {
				t.Errorf("reads back as %q, %v", p.Version, err)
			}
		})
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "package.json")
	bad := "{\"version\": \"1.4.0\",}"
	os.WriteFile(path, []byte(bad), 0o644)
	if err := SetPackageVersion(dir, "1.4.1"); err == nil {
		t.Fatal("invalid JSON was edited")
	}
	if err := SetPackageVersion(dir, "v1.4.1"); err == nil || !strings.Contains(err.Error(), "leading") {
		t.Fatalf("a bad version: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != bad {
		t.Fatal("a refused edit changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
}

// A package.json or config that is a symlink (shared by several apps of a
// monorepo) stays a symlink: the file it names gets the new content.
func TestWritesKeepSymlinks(t *testing.T) {
	dir, shared := t.TempDir(), t.TempDir()
	real := filepath.Join(shared, "package.json")
	if err := os.WriteFile(real, []byte("{\n  \"version\": \"1.4.0\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "package.json")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := SetPackageVersion(dir, "1.4.1"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("package.json is no longer a symlink: %v, %v", st.Mode(), err)
	}
	if got, _ := os.ReadFile(real); !strings.Contains(string(got), `"1.4.1"`) {
		t.Fatalf("the linked file holds %q", got)
	}
	if entries, _ := os.ReadDir(shared); len(entries) != 1 {
		t.Errorf("the shared folder holds %d entries, want the file only (no temp left)", len(entries))
	}
}
