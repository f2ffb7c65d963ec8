package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxFilePath bounds a delta file's path, in bytes.
const maxFilePath = 1024

// objectPattern is a delta object's name: flat (no '/') and made of URL
// characters that need no escaping, so FilesURL + "/" + Object is the URL
// as it stands; not starting with '.' (no "." or "..", no hidden names).
var objectPattern = regexp.MustCompile(`^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,254}$`)

// validFiles checks the delta form: FilesURL and Files come together; the
// paths are what the plugin accepts (spec §6: relative to the web root,
// forward slashes, no '\', NUL, '.' or '..' segments, no duplicates); the
// object names are flat and URL-safe; each file_hash has the form devices
// decrypt (512 hex with a session key, else 64); files sharing an object
// agree on what it is.
func (in *RegisterInput) validFiles() error {
	switch {
	case in.FilesURL == "" && len(in.Files) == 0:
		return nil
	case in.FilesURL == "":
		return hinted(ErrInvalid, "files without files_url: give the base URL the %d objects were uploaded to, or no files for a zip-only release", len(in.Files))
	case len(in.Files) == 0:
		return hinted(ErrInvalid, "files_url %q without files: a release with a files URL lists every file of the bundle", in.FilesURL)
	}
	if err := validBundleURL("files url", in.FilesURL); err != nil {
		return err
	}
	if u, _ := url.Parse(in.FilesURL); u.RawQuery != "" || u.ForceQuery {
		return hinted(ErrInvalid, "files url %q has a ?query: devices fetch FILES_URL/OBJECT, so give the folder's plain address", in.FilesURL)
	}
	if strings.HasSuffix(in.FilesURL, "/") {
		return hinted(ErrInvalid, "files url %q ends in '/': give the folder without it (devices fetch FILES_URL/OBJECT)", in.FilesURL)
	}
	hashLen, hashForm := 64, "64 lowercase hex digits (the SHA-256 of the file)"
	if in.SessionKey != "" {
		hashLen, hashForm = 512, "512 lowercase hex digits (the encrypted SHA-256 of the file, as the manifest holds it)"
	}
	paths := make(map[string]struct{}, len(in.Files))
	objects := make(map[string]*ReleaseFile, len(in.Files))
	for i := range in.Files {
		f := &in.Files[i]
		if problem := filePathProblem(f.Path); problem != "" {
			return hinted(ErrInvalid, "file %q: %s", f.Path, problem)
		}
		if _, dup := paths[f.Path]; dup {
			return hinted(ErrInvalid, "file %q is listed twice: each path of the bundle appears once", f.Path)
		}
		paths[f.Path] = struct{}{}
		switch {
		case !objectPattern.MatchString(f.Object):
			return hinted(ErrInvalid, "file %q: object name %q is not flat and URL-safe (letters, digits, '.', '_', '~' and '-', not starting with '.', up to 255)", f.Path, f.Object)
		case len(f.FileHash) != hashLen || !isLowerHex(f.FileHash):
			return hinted(ErrInvalid, "file %q: file_hash must be %s", f.Path, hashForm)
		case f.Size <= 0:
			return hinted(ErrInvalid, "file %q: object size %d must be positive (empty files cannot travel in a manifest)", f.Path, f.Size)
		case !f.Brotli && strings.HasSuffix(f.Path, ".br"):
			return hinted(ErrInvalid, "file %q: its name ends in .br but its object is not brotli-compressed; devices would try to decompress it", f.Path)
		}
		if first, ok := objects[f.Object]; ok {
			if first.FileHash != f.FileHash || first.Size != f.Size || first.Brotli != f.Brotli {
				return hinted(ErrInvalid, "files %q and %q share object %s but differ in file_hash, size or brotli: one object holds one content", first.Path, f.Path, f.Object)
			}
			continue
		}
		objects[f.Object] = f
	}
	return nil
}

// filePathProblem says what is wrong with a delta file's path, "" if
// nothing.
func filePathProblem(p string) string {
	switch {
	case p == "":
		return "the path is empty"
	case len(p) > maxFilePath:
		return fmt.Sprintf("the path is longer than %d bytes", maxFilePath)
	case !utf8.ValidString(p):
		return "the path is not UTF-8"
	case strings.ContainsRune(p, 0):
		return "the path contains a NUL byte"
	case strings.Contains(p, `\`):
		return `the path contains '\': use forward slashes`
	case strings.HasPrefix(p, "/"):
		return "the path is absolute: paths are relative to the web root"
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return "the path has an empty part ('//' or a trailing '/')"
		case ".", "..":
			return "the path has a '.' or '..' part"
		}
	}
	return ""
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// filesPerInsert bounds the rows of one INSERT into release_files on
// PostgreSQL (6 parameters each, well under its 65535). SQLite, in
// process, runs one prepared single-row INSERT per file instead.
const filesPerInsert = 1000

const insertFile = `INSERT INTO release_files (release_id, path, file_hash, object, size, brotli) VALUES `

// insertFiles stores the files of release id, in the caller's transaction.
func (r *sqlRegistry) insertFiles(ctx context.Context, tx *sql.Tx, id int64, files []ReleaseFile) error {
	if len(files) == 0 {
		return nil
	}
	if r.d.prepare {
		st, err := tx.PrepareContext(ctx, insertFile+`($1, $2, $3, $4, $5, $6)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, f := range files {
			if _, err := st.ExecContext(ctx, id, f.Path, f.FileHash, f.Object, f.Size, f.Brotli); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 6*min(len(files), filesPerInsert))
	for start := 0; start < len(files); start += filesPerInsert {
		b.Reset()
		b.WriteString(insertFile)
		args = args[:0]
		for i, f := range files[start:min(start+filesPerInsert, len(files))] {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, id, f.Path, f.FileHash, f.Object, f.Size, f.Brotli)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func (r *sqlRegistry) ReleaseFiles(ctx context.Context, appID, version string) ([]ReleaseFile, error) {
	var id int64
	err := r.db.QueryRowContext(ctx, `SELECT id FROM releases WHERE app_id = $1 AND version = $2`, appID, version).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hinted(ErrNotFound, "no release %s of %s", version, appID)
	}
	if err != nil {
		return nil, fmt.Errorf("read files of release %s: %w", version, err)
	}
	rows, err := r.db.QueryContext(ctx, `SELECT path, file_hash, object, size, brotli FROM release_files WHERE release_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("read files of release %s: %w", version, err)
	}
	defer rows.Close()
	var out []ReleaseFile
	for rows.Next() {
		var f ReleaseFile
		if err := rows.Scan(&f.Path, &f.FileHash, &f.Object, &f.Size, &f.Brotli); err != nil {
			return nil, fmt.Errorf("read files of release %s: %w", version, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read files of release %s: %w", version, err)
	}
	// Byte order, whatever the database's collation.
	slices.SortFunc(out, func(a, b ReleaseFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}
