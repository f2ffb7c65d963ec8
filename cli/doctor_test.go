package cli

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"capship/server/servertest"
	"capship/store"
	"capship/store/storetest"
	"capship/workflow"
)

// doctorRun runs capship doctor --json and returns its exit code and
// findings by check.
func doctorRun(t *testing.T, env map[string]string, args ...string) (int, map[string]workflow.Finding) {
	t.Helper()
	r := run(t, env, append([]string{"doctor", "--json"}, args...)...)
	var res struct {
		OK       bool               `json:"ok"`
		Findings []workflow.Finding `json:"findings"`
	}
	if err := jsonUnmarshal(r.out, &res); err != nil {
		t.Fatalf("doctor --json: %v\nstdout: %s\nstderr: %s", err, r.out, r.err)
	}
	if res.OK != (r.code == 0) {
		t.Errorf("doctor --json: ok is %v but the exit code is %d", res.OK, r.code)
	}
	byCheck := map[string]workflow.Finding{}
	for _, f := range res.Findings {
		byCheck[f.Check] = f
	}
	return r.code, byCheck
}

// registerShop builds version of the app in the current folder and
// registers it in reg onto production.
func registerShop(t *testing.T, app shop, reg store.Registry, version, minNative string) {
	t.Helper()
	h := newHosted(t)
	manifest, url := app.build(t, h, filepath.Join(t.TempDir(), "out"), version)
	m, err := workflow.ReadManifest(manifest)
	must(t, err)
	_, err = reg.Register(context.Background(), registration(m, url, minNative))
	must(t, err)
}

// The fixture app, pointed at a real capship server on loopback that
// serves it a release, passes every check (plain http on loopback is a
// warning); each misconfiguration is then found, with its fix.
func TestDoctorAgainstServer(t *testing.T) {
	otherKey := testKeyPath(t, "other.pem")
	app := shopApp(t)
	reg, api := servertest.Start(t)
	must(t, workflow.SetServer(filepath.Join(app.dir, "capacitor.config.json"), api.URL))
	key := []string{"--key-file", app.keyFile}

	// Before any release: the server is up, the device is turned away.
	code, f := doctorRun(t, nil, append(key, "-C", app.dir)...)
	if code != 0 || f[workflow.CheckServerLive].Status != workflow.StatusOK || f[workflow.CheckDeviceAnswer].Status != workflow.StatusWarn ||
		!strings.Contains(f[workflow.CheckDeviceAnswer].Message, "app_not_found") {
		t.Fatalf("no release yet: exit %d, %+v", code, f)
	}

	registerShop(t, app, reg, "1.0.1", "")
	code, f = doctorRun(t, nil, append(key, "-C", app.dir)...)
	if code != 0 {
		t.Fatalf("a good app: exit %d, %+v", code, f)
	}
	for check, finding := range f {
		want := workflow.StatusOK
		if strings.HasSuffix(check, "_url") {
			want = workflow.StatusWarn // http://127.0.0.1
		}
		if finding.Status != want {
			t.Errorf("a good app: %s is %s: %s", check, finding.Status, finding.Message)
		}
	}
	if d := f[workflow.CheckDeviceAnswer]; !strings.Contains(d.Message, "native 1.0.0 gets 1.0.1") {
		t.Fatalf("device answer: %+v", d)
	}
	if len(f) != 10 {
		t.Fatalf("%d findings, want 10: %+v", len(f), f)
	}

	// A release only for native 3.0.0 and later: a device on 1.0.0 is
	// turned away by policy, one on 3.0.0 gets it.
	registerShop(t, app, reg, "3.1.0", "3.0.0")
	if _, f = doctorRun(t, nil, key...); f[workflow.CheckDeviceAnswer].Status != workflow.StatusWarn ||
		!strings.Contains(f[workflow.CheckDeviceAnswer].Message, "min_native_version_not_met") || !strings.Contains(f[workflow.CheckDeviceAnswer].Fix, "native build") {
		t.Fatalf("native below the minimum: %+v", f[workflow.CheckDeviceAnswer])
	}
	if _, f = doctorRun(t, nil, append(key, "--native-version", "3.0.0", "--platform", "ios")...); f[workflow.CheckDeviceAnswer].Status != workflow.StatusOK ||
		!strings.Contains(f[workflow.CheckDeviceAnswer].Message, "an ios device on native 3.0.0 gets 3.1.0") {
		t.Fatalf("native at the minimum: %+v", f[workflow.CheckDeviceAnswer])
	}

	// The private key of another pair: devices would refuse every bundle.
	code, f = doctorRun(t, nil, "--key-file", otherKey)
	if code != 1 || f[workflow.CheckPublicKey].Status != workflow.StatusFail {
		t.Fatalf("another key: exit %d, %+v", code, f[workflow.CheckPublicKey])
	}
	// The same from $CAPSHIP_PRIVATE_KEY.
	otherPEM, err := osReadFile(otherKey)
	must(t, err)
	if code, f = doctorRun(t, map[string]string{envPrivateKey: otherPEM}); code != 1 || !strings.Contains(f[workflow.CheckPublicKey].Message, "$"+envPrivateKey) {
		t.Fatalf("another key from the environment: exit %d, %+v", code, f[workflow.CheckPublicKey])
	}

	// A server that is not there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	gone := "http://" + l.Addr().String()
	l.Close()
	code, f = doctorRun(t, nil, append(key, "--server", gone)...)
	if code != 1 || f[workflow.CheckServerLive].Status != workflow.StatusFail || !strings.Contains(f[workflow.CheckServerLive].Fix, "capship serve") {
		t.Fatalf("server down: exit %d, %+v", code, f)
	}
	if _, asked := f[workflow.CheckDeviceAnswer]; asked {
		t.Fatal("the device check ran against a server that is down")
	}
	// --offline asks no server.
	if code, f = doctorRun(t, nil, append(key, "--server", gone, "--offline")...); code != 0 || len(f) != 8 {
		t.Fatalf("--offline: exit %d, %+v", code, f)
	}

	// A person reads each failure with its fix, on stdout, and exit 1.
	r := run(t, nil, "doctor", "--key-file", otherKey, "--offline")
	if r.code != 1 || !strings.Contains(r.out, "FAIL  public_key") || !strings.Contains(r.out, "fix: ") || !strings.Contains(r.out, "1 failed") {
		t.Fatalf("human output: %+v", r)
	}
}

// --db adds the local registry's integrity check.
func TestDoctorRegistry(t *testing.T) {
	app := shopApp(t)
	db := filepath.Join(t.TempDir(), "registry.db")
	reg, err := store.Open(context.Background(), db)
	must(t, err)
	registerShop(t, app, reg, "1.0.1", "")
	must(t, reg.Close())
	args := []string{"--key-file", app.keyFile, "--offline", "--db", db}
	if _, f := doctorRun(t, nil, args...); f[doctorCheckRegistry].Status != workflow.StatusOK {
		t.Fatalf("a sound registry: %+v", f[doctorCheckRegistry])
	}
	storetest.DamageTable(t, db, "releases")
	if code, f := doctorRun(t, nil, args...); code != 1 || f[doctorCheckRegistry].Status != workflow.StatusFail || f[doctorCheckRegistry].Fix == "" {
		t.Fatalf("a damaged registry: exit %d, %+v", code, f[doctorCheckRegistry])
	}
	if code, f := doctorRun(t, nil, "--offline", "--key-file", app.keyFile, "--db", db+".missing"); code != 1 || f[doctorCheckRegistry].Status != workflow.StatusFail {
		t.Fatalf("a missing registry: exit %d, %+v", code, f[doctorCheckRegistry])
	}
	// A key file that cannot be read is an error, not a finding.
	if r := run(t, nil, "doctor", "--offline", "--key-file", app.keyFile+".missing"); r.code != 1 || !strings.Contains(r.err, "load private key") || r.out != "" {
		t.Fatalf("a missing key file: %+v", r)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func osReadFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}
