package server

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// An object's bytes reach the disk before the object is visible under its
// key, and its folder is synced after: a crash right after a 201 never
// leaves a key naming a short or empty file. Watched with strace on a
// child process that stores one object (the syscalls are the only place
// this shows without cutting the power).
func TestStorageSyncsBeforeLinking(t *testing.T) {
	if dir := os.Getenv("CAPSHIP_TEST_FSYNC_CHILD"); dir != "" {
		st, err := openObjectStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		o := newObject(8 << 10)
		if _, err := st.put("com.example.app/"+o.sum+".zip", int64(len(o.data)), o.sum, bytes.NewReader(o.data)); err != nil {
			t.Fatal(err)
		}
		st.close()
		return
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		if os.Getenv("CAPSHIP_TEST_STRICT") != "" {
			t.Fatal("strace is not installed (scripts/test installs it)")
		}
		t.Skip("strace is not installed")
	}
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd := exec.Command(strace, "-f", "-qq", "-o", log, "-e", "trace=openat,fsync,fdatasync,linkat,renameat,renameat2",
		os.Args[0], "-test.run=^TestStorageSyncsBeforeLinking$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CAPSHIP_TEST_FSYNC_CHILD="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child under strace: %v\n%s", err, out)
	}
	data, err := os.ReadFile(log)
	if os.Getenv("SHOW") != "" {
		t.Logf("%s", data)
	}
	if err != nil {
		t.Fatal(err)
	}
	var (
		tmpFD                   string // the upload's temp file
		synced, linked, dirSync bool
	)
	openTmp := regexp.MustCompile(`openat\(\d+, "put-[0-9a-f]+", [^)]*O_CREAT[^)]*\) = (\d+)`)
	fsync := regexp.MustCompile(`f(?:data)?sync\((\d+)\)\s+= 0`)
	link := regexp.MustCompile(`(?:linkat|renameat2?)\([^)]*"put-[0-9a-f]+"[^)]*"[0-9a-f]{64}\.zip"`)
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case openTmp.MatchString(line) && tmpFD == "":
			tmpFD = openTmp.FindStringSubmatch(line)[1]
		case fsync.MatchString(line):
			fd := fsync.FindStringSubmatch(line)[1]
			if !linked && fd == tmpFD {
				synced = true
			}
			if linked {
				dirSync = true
			}
		case link.MatchString(line) && !linked:
			linked = true
			if !synced {
				t.Errorf("the object was linked into place before its bytes were synced: %s", strings.TrimSpace(line))
			}
		}
	}
	if tmpFD == "" || !linked {
		t.Fatalf("strace did not show the temp file (fd %q) or its link into place (%v); log:\n%s", tmpFD, linked, data)
	}
	if !dirSync {
		t.Error("no folder was synced after the object was linked into place")
	}
}
