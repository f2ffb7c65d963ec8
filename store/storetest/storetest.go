// Package storetest damages registry files and folders for the tests of
// other packages (and of store itself): what a bad disk, a bad mount or a
// bad copy does to a real SQLite file.
package storetest

import (
	"bytes"
	"database/sql"
	"os"
	"testing"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// DamageTable overwrites the header of an SQLite table's root page,
// leaving the schema and the other tables readable.
func DamageTable(t testing.TB, path, table string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var root, size int
	err = db.QueryRow(`SELECT rootpage FROM sqlite_master WHERE name = ?`, table).Scan(&root)
	if err == nil {
		err = db.QueryRow(`PRAGMA page_size`).Scan(&size)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xa5}, 64), int64((root-1)*size)); err != nil {
		t.Fatal(err)
	}
}
