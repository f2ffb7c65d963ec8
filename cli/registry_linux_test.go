package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/store/storetest"
)

func TestReadCommandsOnReadOnlyRegistry(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ro", "registry.db")
	env := map[string]string{"CAPSHIP_DB": db}
	h := newHosted(t)
	m, b := writeBundle(t, dir, "1.0.0", testKey(t, 0))
	if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/b/1.0.0", b)); r.code != 0 {
		t.Fatalf("register: exit %d: %s", r.code, r.err)
	}
	storetest.ReadOnlyFolder(t, filepath.Dir(db))

	for _, args := range [][]string{
		{"release", "list", "--app", testApp},
		{"channel", "list", "--app", testApp},
		{"channel", "history", "production", "--app", testApp},
		{"stats", "--app", testApp},
		{"token", "list"},
		{"registry", "check"},
	} {
		r := run(t, env, args...)
		if r.code != 0 {
			t.Errorf("%s on a read-only registry: exit %d: %s", strings.Join(args, " "), r.code, r.err)
		}
	}
	// Writing commands still say why they cannot.
	r := run(t, env, "channel", "create", "beta", "--app", testApp)
	if r.code == 0 || !strings.Contains(r.err, "read-only") {
		t.Errorf("channel create on a read-only registry: exit %d: %s", r.code, r.err)
	}
}

func TestRegistryCheck(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "registry.db")
	env := map[string]string{"CAPSHIP_DB": db}
	h := newHosted(t)
	for _, v := range []string{"1.0.0", "1.0.1"} {
		m, b := writeBundle(t, dir, v, testKey(t, 0))
		if r := run(t, env, "release", "register", "--manifest", m, "--url", h.put("/b/"+v, b)); r.code != 0 {
			t.Fatalf("register: exit %d: %s", r.code, r.err)
		}
	}
	var res registryCheckResult
	run(t, env, "registry", "check", "--json").decode(t, &res)
	if !res.OK || len(res.Problems) != 0 || res.DB != db {
		t.Fatalf("sound registry: %+v", res)
	}

	// Damage the releases table's root page.
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(data); i += 4096 {
		copy(data[i:], strings.Repeat("\xa5", 64))
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "registry", "check", "--json")
	if r.code != 1 || json.Unmarshal([]byte(r.out), &res) != nil || res.OK || len(res.Problems) == 0 {
		t.Fatalf("damaged registry: exit %d, %+v: %s", r.code, res, r.err)
	}
	r = run(t, env, "registry", "check")
	if r.code != 1 || !strings.Contains(r.err, "damaged") {
		t.Fatalf("damaged registry: exit %d: %s", r.code, r.err)
	}
	if r := run(t, map[string]string{"CAPSHIP_DB": filepath.Join(dir, "typo.db")}, "registry", "check"); r.code != 1 || !strings.Contains(r.err, "no registry at") || strings.Contains(r.err, "--server") {
		t.Fatalf("missing registry: exit %d: %s", r.code, r.err)
	}
}
