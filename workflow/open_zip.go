package workflow

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"
)

// zipPlan is what checkZip learned about a zip that passed every check.
type zipPlan struct {
	files int
	bytes int64
	root  string // single top folder the plugin flattens, or ""
}

func (p *zipPlan) isDir(f *zip.File) bool { return strings.HasSuffix(f.Name, "/") }

const (
	sIFMT  = 0o170000
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFLNK = 0o120000
)

// checkZip applies the rules of spec §2 and the extraction limits to every
// entry of zr before anything is written.
func checkZip(ra io.ReaderAt, zr *zip.Reader, lim ExtractLimits) (*zipPlan, error) {
	if len(zr.File) == 0 {
		return nil, fmt.Errorf("%w: the zip is empty", ErrUnsafeZip)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries, more than the limit of %d", ErrUnsafeZip, len(zr.File), lim.MaxEntries)
	}
	plan := &zipPlan{}
	kinds := map[string]bool{} // name without trailing slash -> is a folder
	for _, f := range zr.File {
		if err := checkEntry(f, lim); err != nil {
			return nil, fmt.Errorf("%w: entry %q: %v", ErrUnsafeZip, f.Name, err)
		}
		name := strings.TrimSuffix(f.Name, "/")
		isDir := name != f.Name
		if _, dup := kinds[name]; dup {
			return nil, fmt.Errorf("%w: entry %q appears twice", ErrUnsafeZip, name)
		}
		kinds[name] = isDir
		if isDir {
			continue
		}
		plan.files++
		plan.bytes += int64(f.UncompressedSize64)
		if plan.bytes > lim.MaxTotalSize {
			return nil, fmt.Errorf("%w: more than %d bytes uncompressed in all", ErrUnsafeZip, lim.MaxTotalSize)
		}
	}
	// A file may not also be a parent folder of another entry.
	for name := range kinds {
		for dir := parentOf(name); dir != ""; dir = parentOf(dir) {
			if isDir, ok := kinds[dir]; ok && !isDir {
				return nil, fmt.Errorf("%w: %q is a file and also the folder of %q", ErrUnsafeZip, dir, name)
			}
		}
	}
	root, err := bundleRoot(kinds)
	if err != nil {
		return nil, err
	}
	plan.root = root
	if err := checkLocalHeaders(ra, zr.File); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsafeZip, err)
	}
	return plan, nil
}

func parentOf(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// checkEntry checks one entry's name, kind, flags and sizes.
func checkEntry(f *zip.File, lim ExtractLimits) error {
	if err := checkEntryName(f.Name); err != nil {
		return err
	}
	if f.Flags&0x1 != 0 {
		return fmt.Errorf("is encrypted with zip encryption, which devices cannot read")
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return fmt.Errorf("uses compression method %d; devices read only STORED (0) and DEFLATED (8)", f.Method)
	}
	if f.Method == zip.Store && f.Flags&0x8 != 0 {
		return fmt.Errorf("is STORED with a data descriptor, which Android rejects (only DEFLATED entries can have EXT descriptor)")
	}
	if !isPlainASCII(f.Name) && f.Flags&0x800 == 0 {
		return fmt.Errorf("has a non-ASCII name without the UTF-8 flag; iOS would garble it")
	}
	isDir := strings.HasSuffix(f.Name, "/")
	if f.CreatorVersion>>8 == 3 { // Unix: mode bits in the high half
		switch mode := f.ExternalAttrs >> 16 & sIFMT; {
		case mode == sIFLNK:
			return fmt.Errorf("is a symbolic link; bundles may hold only files and folders")
		case mode == 0:
		case isDir && mode != sIFDIR:
			return fmt.Errorf("is a folder whose mode says it is not; iOS would create a file")
		case !isDir && mode != sIFREG:
			return fmt.Errorf("is not a regular file (mode %o); bundles may hold only files and folders", mode)
		}
	}
	if isDir {
		if f.UncompressedSize64 != 0 {
			return fmt.Errorf("is a folder with %d bytes of content", f.UncompressedSize64)
		}
		return nil
	}
	size := int64(f.UncompressedSize64)
	if f.UncompressedSize64 > uint64(lim.MaxFileSize) {
		return fmt.Errorf("is %d bytes uncompressed, more than the limit of %d", f.UncompressedSize64, lim.MaxFileSize)
	}
	if size > 1<<20 && (f.CompressedSize64 == 0 || size/int64(f.CompressedSize64) > lim.MaxRatio) {
		return fmt.Errorf("expands %d bytes to %d, more than %d times: looks like a zip bomb", f.CompressedSize64, size, lim.MaxRatio)
	}
	return nil
}

// checkEntryName applies the plugin's name rules (spec §2.1) to a file or
// folder entry.
func checkEntryName(name string) error {
	if name == "/" {
		return fmt.Errorf("empty name")
	}
	return CheckEntryName(strings.TrimSuffix(name, "/"))
}

// bundleRoot applies the layout rule devices apply: index.html at the root,
// or everything inside exactly one top folder that has index.html (names
// starting with "." and __MACOSX aside on Android; iOS needs the folder to
// be the only item). It returns that folder, or "".
func bundleRoot(kinds map[string]bool) (string, error) {
	if isDir, ok := kinds["index.html"]; ok && !isDir {
		return "", nil
	}
	tops := map[string]bool{}
	hidden := false
	for name := range kinds {
		top, _, _ := strings.Cut(name, "/")
		if strings.HasPrefix(top, ".") || top == "__MACOSX" {
			hidden = true
			continue
		}
		tops[top] = true
	}
	if len(tops) == 1 {
		for top := range tops {
			if isDir, ok := kinds[top+"/index.html"]; ok && !isDir {
				if hidden {
					return "", fmt.Errorf("%w: the bundle is inside the folder %q, but other items sit beside it; iOS flattens only a lone folder: put index.html at the root", ErrUnsafeZip, top)
				}
				return top, nil
			}
		}
	}
	return "", fmt.Errorf("%w: no index.html at the root of the zip (or inside its single top folder); devices refuse the bundle", ErrUnsafeZip)
}

// checkLocalHeaders reads the zip front to back as Android's ZipInputStream
// does and checks that it sees exactly the entries of the central directory
// (which iOS and archive/zip read): same names, same methods, no gaps and no
// hidden entries.
func checkLocalHeaders(ra io.ReaderAt, files []*zip.File) error {
	type entry struct {
		f    *zip.File
		data int64
	}
	entries := make([]entry, 0, len(files))
	for _, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			return fmt.Errorf("entry %q: bad local header: %v", f.Name, err)
		}
		entries = append(entries, entry{f, off})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].data < entries[j].data })
	var pos int64
	var hdr [30]byte
	for _, e := range entries {
		f := e.f
		if _, err := ra.ReadAt(hdr[:], pos); err != nil {
			return fmt.Errorf("entry %q: read local header at %d: %v", f.Name, pos, err)
		}
		if binary.LittleEndian.Uint32(hdr[0:]) != 0x04034b50 {
			return fmt.Errorf("no local header at offset %d where entry %q should start: the zip has gaps or overlapping entries", pos, f.Name)
		}
		flags := binary.LittleEndian.Uint16(hdr[6:])
		method := binary.LittleEndian.Uint16(hdr[8:])
		nameLen := int64(binary.LittleEndian.Uint16(hdr[26:]))
		extraLen := int64(binary.LittleEndian.Uint16(hdr[28:]))
		if pos+30+nameLen+extraLen != e.data {
			return fmt.Errorf("entry %q: local header at %d does not lead to its data: the zip has gaps or overlapping entries", f.Name, pos)
		}
		name := make([]byte, nameLen)
		extra := make([]byte, extraLen)
		if _, err := ra.ReadAt(name, pos+30); err != nil {
			return fmt.Errorf("entry %q: read local name: %v", f.Name, err)
		}
		if _, err := ra.ReadAt(extra, pos+30+nameLen); err != nil {
			return fmt.Errorf("entry %q: read local extra field: %v", f.Name, err)
		}
		if string(name) != f.Name {
			return fmt.Errorf("entry %q is named %q in its local header; Android and iOS would disagree", f.Name, name)
		}
		if method != f.Method {
			return fmt.Errorf("entry %q: local method %d differs from the central directory's %d", f.Name, method, f.Method)
		}
		if method == zip.Store && flags&0x8 != 0 {
			return fmt.Errorf("entry %q is STORED with a data descriptor in its local header, which Android rejects", f.Name)
		}
		pos = e.data + int64(f.CompressedSize64)
		if flags&0x8 != 0 {
			var sig [4]byte
			if _, err := ra.ReadAt(sig[:], pos); err != nil {
				return fmt.Errorf("entry %q: read data descriptor: %v", f.Name, err)
			}
			if binary.LittleEndian.Uint32(sig[:]) == 0x08074b50 {
				pos += 4
			}
			pos += 4 + 8 // CRC-32, then two sizes of 4 bytes...
			if hasZip64Extra(extra) {
				pos += 8 // ...or of 8 bytes for a Zip64 entry
			}
		}
	}
	var sig [4]byte
	if _, err := ra.ReadAt(sig[:], pos); err != nil {
		return fmt.Errorf("read central directory at %d: %v", pos, err)
	}
	switch binary.LittleEndian.Uint32(sig[:]) {
	case 0x02014b50, 0x06064b50, 0x06054b50: // central header, Zip64 end, end of directory
		return nil
	case 0x04034b50:
		return fmt.Errorf("a local entry at offset %d is missing from the central directory: Android would extract a file that iOS does not", pos)
	default:
		return fmt.Errorf("unexpected bytes at offset %d between the last entry and the central directory", pos)
	}
}

// hasZip64Extra reports whether a local extra field holds a Zip64 record.
func hasZip64Extra(extra []byte) bool {
	for len(extra) >= 4 {
		id := binary.LittleEndian.Uint16(extra)
		size := int(binary.LittleEndian.Uint16(extra[2:]))
		if id == 0x0001 {
			return true
		}
		if 4+size > len(extra) {
			return false
		}
		extra = extra[4+size:]
	}
	return false
}
