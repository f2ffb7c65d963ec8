package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// withFiles is in with a delta form of n files (objects shared by every
// tenth pair, as files of one content are), at a files URL of its own.
func withFiles(in RegisterInput, n int) RegisterInput {
	in.FilesURL = "https://cdn.example.com/" + in.AppID + "/" + in.Version + ".files"
	in.Files = make([]ReleaseFile, n)
	for i := range in.Files {
		content := i
		if i%10 == 1 {
			content = i - 1 // same content as the file before: one object
		}
		in.Files[i] = ReleaseFile{
			Path:     fmt.Sprintf("assets/chunk-%05d.js", i),
			FileHash: strings.Repeat(sha(fmt.Sprint(in.Version, content)), 8),
			Object:   sha(fmt.Sprint("object", in.Version, content)) + ".br",
			Size:     int64(100 + content),
			Brotli:   true,
		}
	}
	return in
}

func TestReleaseFiles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.0.0", "production", 1))

		in := withFiles(input(app, "1.1.0", "production", 1), 4)
		// Byte order, whatever the database's collation: upper case before
		// lower case, '-' and '.' before '/'.
		in.Files[0].Path, in.Files[1].Path, in.Files[2].Path, in.Files[3].Path = "index.html", "assets/a.js", "Assets/z.js", "assets-x/b.js"
		in.Files[3].Brotli = false
		rel := mustRegister(t, r, in)
		if rel.FilesURL != in.FilesURL || rel.FileCount != 4 {
			t.Fatalf("registered %+v, want files URL and 4 files", rel)
		}
		files, err := r.ReleaseFiles(ctx, app, "1.1.0")
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range files {
			paths = append(paths, f.Path)
		}
		if want := []string{"Assets/z.js", "assets-x/b.js", "assets/a.js", "index.html"}; !reflect.DeepEqual(paths, want) {
			t.Fatalf("paths %v, want %v (byte order)", paths, want)
		}
		byPath := map[string]ReleaseFile{}
		for _, f := range in.Files {
			byPath[f.Path] = f
		}
		for _, f := range files {
			if f != byPath[f.Path] {
				t.Fatalf("file %s read back as %+v, registered %+v", f.Path, f, byPath[f.Path])
			}
		}

		// Every read of a release carries its files URL and count.
		got, err := r.Release(ctx, app, "1.1.0")
		if err != nil || got.FilesURL != in.FilesURL || got.FileCount != 4 {
			t.Fatalf("release = %+v, %v", got, err)
		}
		all, err := r.Releases(ctx, app)
		if err != nil || len(all) != 2 || all[0].FileCount != 4 || all[0].FilesURL != in.FilesURL || all[1].FileCount != 0 || all[1].FilesURL != "" {
			t.Fatalf("releases = %+v, %v", all, err)
		}
		prod := mustChannel(t, r, app, "production")
		if prod.Release.FileCount != 4 || prod.Release.FilesURL != in.FilesURL || prod.Previous.FileCount != 0 {
			t.Fatalf("production = %+v / %+v", prod.Release, prod.Previous)
		}
		chans, err := r.Channels(ctx, app)
		if err != nil || len(chans) != 1 || chans[0].Release.FileCount != 4 {
			t.Fatalf("channels = %+v, %v", chans, err)
		}

		// A zip-only release has none; an unknown one is not found.
		if files, err := r.ReleaseFiles(ctx, app, "1.0.0"); err != nil || len(files) != 0 {
			t.Fatalf("files of a zip-only release: %+v, %v", files, err)
		}
		for _, q := range [][2]string{{app, "9.9.9"}, {"com.unknown", "1.0.0"}} {
			if _, err := r.ReleaseFiles(ctx, q[0], q[1]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("files of %s %s: %v, want ErrNotFound", q[0], q[1], err)
			}
		}

		// A files URL belongs to one release, like a bundle URL.
		again := withFiles(input(app, "1.2.0", "production", 1), 3)
		again.FilesURL = in.FilesURL
		_, err = r.Register(ctx, again)
		if !errors.Is(err, ErrDuplicateBundle) || !strings.Contains(err.Error(), "files URL of "+app+" 1.1.0") {
			t.Fatalf("files URL of another release: %v, want ErrDuplicateBundle naming 1.1.0", err)
		}
		// A refused registration leaves no files behind (the version is
		// free again, and registers with its own files).
		dup := withFiles(input(app, "1.1.0", "", 1), 2)
		dup.FilesURL += "-again"
		if _, err := r.Register(ctx, dup); !errors.Is(err, ErrDuplicateVersion) {
			t.Fatalf("duplicate version with files: %v", err)
		}
		if files, _ := r.ReleaseFiles(ctx, app, "1.1.0"); len(files) != 4 {
			t.Fatalf("a refused registration changed the files of 1.1.0: %d files", len(files))
		}
		notNewer := withFiles(input(app, "1.0.5", "production", 1), 2)
		if _, err := r.Register(ctx, notNewer); !errors.Is(err, ErrVersionNotNewer) {
			t.Fatalf("older version with files: %v", err)
		}
		if _, err := r.ReleaseFiles(ctx, app, "1.0.5"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a refused release is readable: %v", err)
		}
		sr := r.(*sqlRegistry)
		var rows int
		if err := sr.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM release_files`).Scan(&rows); err != nil || rows != 4 {
			t.Fatalf("release_files has %d rows (%v), want only 1.1.0's 4", rows, err)
		}
		mustRegister(t, r, withFiles(input(app, "1.0.5", "", 1), 2))
	})
}

func TestRegisterRefusesInvalidFiles(t *testing.T) {
	r := backend{name: "sqlite", dsn: t.TempDir() + "/r.db"}.open(t)
	cases := map[string]func(in *RegisterInput){
		"files without url":       func(in *RegisterInput) { in.FilesURL = "" },
		"url without files":       func(in *RegisterInput) { in.Files = nil },
		"plain http files url":    func(in *RegisterInput) { in.FilesURL = "http://cdn.example.com/x" },
		"ftp files url":           func(in *RegisterInput) { in.FilesURL = "ftp://cdn.example.com/x" },
		"relative files url":      func(in *RegisterInput) { in.FilesURL = "/x/files" },
		"files url with password": func(in *RegisterInput) { in.FilesURL = "https://u:p@cdn.example.com/x" },
		"files url with fragment": func(in *RegisterInput) { in.FilesURL = "https://cdn.example.com/x#y" },
		"files url with query":    func(in *RegisterInput) { in.FilesURL = "https://cdn.example.com/x?sig=1" },
		"files url trailing /":    func(in *RegisterInput) { in.FilesURL = "https://cdn.example.com/x/" },
		"empty path":              func(in *RegisterInput) { in.Files[0].Path = "" },
		"absolute path":           func(in *RegisterInput) { in.Files[0].Path = "/index.html" },
		"dot-dot path":            func(in *RegisterInput) { in.Files[0].Path = "assets/../../etc/passwd" },
		"leading dot-dot":         func(in *RegisterInput) { in.Files[0].Path = "../index.html" },
		"dot segment":             func(in *RegisterInput) { in.Files[0].Path = "./index.html" },
		"backslash":               func(in *RegisterInput) { in.Files[0].Path = `assets\app.js` },
		"NUL":                     func(in *RegisterInput) { in.Files[0].Path = "index\x00.html" },
		"double slash":            func(in *RegisterInput) { in.Files[0].Path = "assets//app.js" },
		"trailing slash":          func(in *RegisterInput) { in.Files[0].Path = "assets/" },
		"not UTF-8":               func(in *RegisterInput) { in.Files[0].Path = "a\xffb.js" },
		"too long":                func(in *RegisterInput) { in.Files[0].Path = strings.Repeat("a/", 600) + "x" },
		"duplicate path":          func(in *RegisterInput) { in.Files[1].Path = in.Files[0].Path },
		"object with slash":       func(in *RegisterInput) { in.Files[0].Object = "a/b" },
		"object dot-dot":          func(in *RegisterInput) { in.Files[0].Object = ".." },
		"object with space":       func(in *RegisterInput) { in.Files[0].Object = "a b" },
		"object with percent":     func(in *RegisterInput) { in.Files[0].Object = "a%2Fb" },
		"empty object":            func(in *RegisterInput) { in.Files[0].Object = "" },
		"plain hash when encrypted": func(in *RegisterInput) {
			in.Files[0].FileHash = in.Files[0].FileHash[:64]
		},
		"upper-case hash": func(in *RegisterInput) { in.Files[0].FileHash = strings.ToUpper(in.Files[0].FileHash) },
		"zero size":       func(in *RegisterInput) { in.Files[0].Size = 0 },
		".br name, not brotli": func(in *RegisterInput) {
			in.Files[0].Path, in.Files[0].Brotli = "assets/font.woff2.br", false
		},
		"shared object, other size": func(in *RegisterInput) { in.Files[1].Size++ }, // files 0 and 1 share an object
		"shared object, other hash": func(in *RegisterInput) { in.Files[1].FileHash = strings.Repeat("ab", 256) },
	}
	for name, mutate := range cases {
		in := withFiles(input(app, "1.0.0", "production", 1), 3)
		mutate(&in)
		if _, err := r.Register(ctxT(t), in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	if apps, _ := r.Apps(ctxT(t)); len(apps) != 0 {
		t.Fatalf("invalid registrations left apps behind: %+v", apps)
	}
	// What is fine: a name ending in .br whose object is brotli (devices
	// get NAME.br.br and decode it once), loopback http, unusual but
	// legal characters.
	ok := withFiles(input(app, "1.0.0", "production", 1), 3)
	ok.FilesURL = "http://127.0.0.1:8000/files"
	ok.Files[0].Path, ok.Files[0].Brotli = "assets/font.woff2.br", true
	ok.Files[2].Path, ok.Files[2].Object = "assets/ünïcode file (1).js", "A_b-c~d.0"
	if _, err := r.Register(ctxT(t), ok); err != nil {
		t.Fatalf("valid files refused: %v", err)
	}
}

// TestRegisterManyFiles: a bundle of 15,000 files registers in one
// transaction, quickly, on both backends.
func TestRegisterManyFiles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.0.0", "production", 1)) // the app exists: time the files, not the first open
		in := withFiles(input(app, "1.1.0", "production", 1), 15000)
		start := time.Now()
		rel := mustRegister(t, r, in)
		took := time.Since(start)
		t.Logf("%s: registered %d files in %v", b.name, rel.FileCount, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s: registering 15,000 files took %v, want well under a few seconds", b.name, took)
		}
		start = time.Now()
		files, err := r.ReleaseFiles(ctx, app, "1.1.0")
		if err != nil || len(files) != 15000 {
			t.Fatalf("read back %d files, %v", len(files), err)
		}
		t.Logf("%s: read them back in %v", b.name, time.Since(start).Round(time.Millisecond))
		if files[0] != in.Files[0] || files[14999] != in.Files[14999] {
			t.Fatalf("first/last file read back as %+v / %+v", files[0], files[14999])
		}
	})
}

func TestChannelDelta(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		c, err := r.CreateChannel(ctx, app, "production", ChannelSettings{})
		if err != nil || !c.Delta {
			t.Fatalf("new channel: %+v, %v; want delta on by default", c, err)
		}
		c, err = r.CreateChannel(ctx, app, "zip-only", ChannelSettings{Delta: ptr(false)})
		if err != nil || c.Delta {
			t.Fatalf("created with delta false: %+v, %v", c, err)
		}
		c, err = r.UpdateChannel(ctx, app, "production", ChannelSettings{Delta: ptr(false)})
		if err != nil || c.Delta || c.Rollout != 100 {
			t.Fatalf("set delta false: %+v, %v", c, err)
		}
		// Other changes leave it alone.
		if c, err = r.UpdateChannel(ctx, app, "production", ChannelSettings{Rollout: ptr(40)}); err != nil || c.Delta {
			t.Fatalf("rollout change turned delta back on: %+v, %v", c, err)
		}
		if c, err = r.UpdateChannel(ctx, app, "zip-only", ChannelSettings{Delta: ptr(true)}); err != nil || !c.Delta {
			t.Fatalf("set delta true: %+v, %v", c, err)
		}
		// A channel that registration creates gets the default.
		mustRegister(t, r, input(app, "1.0.0", "beta", 1))
		chans, err := r.Channels(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range chans {
			got[c.Name] = c.Delta
		}
		if want := map[string]bool{"beta": true, "production": false, "zip-only": true}; !reflect.DeepEqual(got, want) {
			t.Fatalf("delta by channel %v, want %v", got, want)
		}
	})
}

// TestMigrateToReleaseFiles: a registry of the previous schema (up to
// migration 3) gains the delta columns with their defaults and keeps its
// data; releases with files register next to the old zip-only ones.
func TestMigrateToReleaseFiles(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db, d := schemaUpTo(t, b, 3)
		in := input(app, "1.0.0", "production", 1)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO apps (id, key_id, key_fingerprint, created_at, revision) VALUES ($1, $2, $3, 1, 7)`, []any{app, in.KeyID, in.KeyFingerprint}},
			{`INSERT INTO releases (app_id, version, url, session_key, checksum, size, sha256, zip_sha256, key_id, key_fingerprint, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`,
				[]any{app, in.Version, in.URL, in.SessionKey, in.Checksum, in.Size, in.SHA256, in.ZipSHA256, in.KeyID, in.KeyFingerprint}},
			{`INSERT INTO channels (app_id, name, release_id, public, updated_at) SELECT $1, 'production', id, TRUE, 1 FROM releases WHERE app_id = $1`, []any{app}},
			{`INSERT INTO channel_history (channel_id, release_id, action, created_at) SELECT c.id, c.release_id, 'register', 1 FROM channels c WHERE c.app_id = $1`, []any{app}},
		} {
			if _, err := db.ExecContext(ctxT(t), q.sql, q.args...); err != nil {
				t.Fatalf("schema 3: %v", err)
			}
		}
		r := b.open(t)
		c := mustChannel(t, r, app, "production")
		if c.Release == nil || c.Release.Version != "1.0.0" || c.Release.FilesURL != "" || c.Release.FileCount != 0 || !c.Delta {
			t.Fatalf("after upgrade production = %+v serving %+v; want 1.0.0 zip-only, delta on", c, c.Release)
		}
		if files, err := r.ReleaseFiles(ctxT(t), app, "1.0.0"); err != nil || len(files) != 0 {
			t.Fatalf("files of an old release: %+v, %v", files, err)
		}
		if rev, err := r.Revision(ctxT(t), app); err != nil || rev != 7 {
			t.Fatalf("revision after upgrade: %d, %v; want 7 kept", rev, err)
		}
		rel := mustRegister(t, r, withFiles(input(app, "1.1.0", "production", 1), 5))
		if rel.FileCount != 5 {
			t.Fatalf("registered %+v", rel)
		}
		if rev, err := r.Revision(ctxT(t), app); err != nil || rev != 8 {
			t.Fatalf("revision after a register with files: %d, %v; want 8", rev, err)
		}
		if c := mustChannel(t, r, app, "production"); c.Release.FileCount != 5 || c.Previous.FileCount != 0 {
			t.Fatalf("production after upgrade and register: %+v / %+v", c.Release, c.Previous)
		}
		all, err := migrations(d)
		if err != nil {
			t.Fatal(err)
		}
		var version int
		if err := db.QueryRowContext(ctxT(t), `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != all[len(all)-1].version {
			t.Fatalf("schema version %d, %v; want %d, the latest", version, err, all[len(all)-1].version)
		}
	})
}

func TestStatsOfDeltaDownloads(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		ctx := ctxT(t)
		mustRegister(t, r, input(app, "1.1.0", "production", 1))
		ev := func(device, action, version string) StatEvent {
			return StatEvent{AppID: app, DeviceID: device, Action: action, VersionName: version, Platform: "android"}
		}
		// What plugin 8.51 sends (DownloadService): start and complete
		// under the version, a failed file under VERSION:FILE.
		if _, err := r.RecordEvents(ctx, []StatEvent{
			ev("a", "download_manifest_start", "1.1.0"),
			ev("a", "download_manifest_complete", "1.1.0"),
			ev("a", "set", "1.1.0"),
			ev("b", "download_manifest_start", "1.1.0"),
			ev("b", "download_manifest_checksum_fail", "1.1.0:assets/app.js"),
			ev("c", "download_manifest_file_fail", "1.1.0:index.html"),
			ev("c", "manifest_path_fail", "1.1.0:../x"),
		}); err != nil {
			t.Fatal(err)
		}
		stats, err := r.Stats(ctx, app, time.Time{})
		if err != nil || len(stats) != 1 {
			t.Fatalf("stats %+v, %v; want one version", stats, err)
		}
		s := stats[0]
		if s.Version != "1.1.0" || s.Devices != 3 || s.Installs != 1 || s.Failures != 3 ||
			s.ByAction["download_manifest_start"] != 2 || s.ByAction["download_manifest_complete"] != 1 ||
			s.ByAction["download_manifest_checksum_fail"] != 1 || s.ByAction["manifest_path_fail"] != 1 {
			t.Fatalf("stats of 1.1.0 = %+v", s)
		}
	})
}

// FuzzFilePath: a path the registry accepts is one the plugin takes as a
// file below the web root.
func FuzzFilePath(f *testing.F) {
	for _, p := range []string{"index.html", "assets/app.js", "../x", "a//b", "/abs", `a\b`, "a/./b", "a/..", "a\x00b", ".hidden/x", "a/b/"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if filePathProblem(p) != "" {
			return
		}
		if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") || !utf8.ValidString(p) {
			t.Fatalf("accepted %q", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("accepted %q (part %q)", p, seg)
			}
		}
		if clean := path.Clean(p); clean != p || !fs.ValidPath(p) {
			t.Fatalf("accepted %q, which cleans to %q", p, clean)
		}
	})
}
