package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"capship/store"
)

// TestRegistryRolloutReachesUpdates: a rollout below 100 set in the
// registry decides /updates: about that share of devices get the current
// release, the rest the previous one.
func TestRegistryRolloutReachesUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{})
		h.register("1.0.0", "production")
		h.register("1.1.0", "production")
		pct := 30
		if _, err := reg.UpdateChannel(context.Background(), h.app, "production", store.ChannelSettings{Rollout: &pct}); err != nil {
			t.Fatal(err)
		}
		const devices = 600
		got := map[string]int{}
		for i := range devices {
			id := fmt.Sprintf("3f2504e0-4f89-41d3-9a0c-%012x", i)
			ans := h.check(h.deviceBody(func(m map[string]any) { m["device_id"] = id }))
			v, _ := ans["version"].(string)
			if v == "" {
				v = fmt.Sprint("error:", ans["error"])
			}
			got[v]++
		}
		if got["1.0.0"]+got["1.1.0"] != devices {
			t.Fatalf("rollout 30%%: answers %v, want only 1.1.0 and 1.0.0", got)
		}
		share := float64(got["1.1.0"]) / devices * 100
		if share < 22 || share > 38 {
			t.Fatalf("rollout 30%% over %d devices: %.1f%% got 1.1.0 (%v), want about 30%%", devices, share, got)
		}
	})
}

// TestFromStoreMappingFieldByField sets every store field to a distinct
// value (each bool alone) and checks the server field it must reach; a
// store or server field that the table does not name fails the test, so a
// new field cannot be forgotten.
func TestFromStoreMappingFieldByField(t *testing.T) {
	// store.Channel field -> server channel field ("" : deliberately not carried).
	chanMap := map[string]string{
		"AppID": "", "Name": "Name", "Release": "Current", "Previous": "Previous",
		"Rollout": "RolloutPercent", "Public": "Public", "AllowSelfSet": "AllowSelfSet",
		"IOS": "IOS", "Android": "Android", "Electron": "Electron",
		"AllowEmulator": "AllowEmulator", "AllowDev": "AllowDev",
		"DisableUnderNative": "DisableUnderNative", "Delta": "Delta", "UpdatedAt": "",
	}
	relMap := map[string]string{
		"AppID": "", "Version": "Version", "URL": "URL", "SessionKey": "SessionKey",
		"Checksum": "Checksum", "Size": "", "SHA256": "SHA256", "ZipSHA256": "",
		"KeyID": "KeyID", "KeyFingerprint": "", "MinNative": "MinNative",
		"FilesURL": "FilesURL", "FileCount": "FileCount", "CreatedAt": "",
		"NativePackages": "", // for register's guard; devices never see it
	}
	// server fields filled from elsewhere than a same-level store field.
	chanDerived := map[string]bool{"ID": true}
	relDerived := map[string]bool{"answer": true, "delta": true}
	coverage(t, reflect.TypeOf(store.Channel{}), reflect.TypeOf(channel{}), chanMap, chanDerived)
	coverage(t, reflect.TypeOf(store.Release{}), reflect.TypeOf(release{}), relMap, relDerived)

	mkRel := func(tag string) *store.Release {
		r := &store.Release{}
		fill(reflect.ValueOf(r).Elem(), tag)
		return r
	}
	// Strings and numbers: all at once, each distinct.
	sc := &store.Channel{}
	fill(reflect.ValueOf(sc).Elem(), "c")
	sc.Release, sc.Previous = mkRel("cur"), mkRel("prev")
	got := fromStoreChannel(sc)
	checkMapped(t, "channel", reflect.ValueOf(sc).Elem(), reflect.ValueOf(got).Elem(), chanMap)
	if got.ID != channelNumber(sc.AppID, sc.Name) {
		t.Errorf("channel ID = %d, want channelNumber(app, name) = %d", got.ID, channelNumber(sc.AppID, sc.Name))
	}
	for name, r := range map[string][2]*store.Release{"Current": {sc.Release, nil}, "Previous": {sc.Previous, nil}} {
		sr := reflect.ValueOf(got).Elem().FieldByName(name).Interface().(*release)
		if sr == nil {
			t.Fatalf("channel %s is nil", name)
		}
		checkMapped(t, "release "+name, reflect.ValueOf(r[0]).Elem(), reflect.ValueOf(sr).Elem(), relMap)
	}
	if fromStoreRelease(nil) != nil {
		t.Error("fromStoreRelease(nil) is not nil")
	}
	if c := fromStoreChannel(&store.Channel{Name: "x"}); c.Current != nil || c.Previous != nil {
		t.Errorf("channel without releases = %+v, want nil Current and Previous", c)
	}

	// Bools: one at a time, so that two swapped bools cannot pass.
	st := reflect.TypeOf(store.Channel{})
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Type.Kind() != reflect.Bool {
			continue
		}
		var one store.Channel
		reflect.ValueOf(&one).Elem().Field(i).SetBool(true)
		out := reflect.ValueOf(fromStoreChannel(&one)).Elem()
		for j := range out.NumField() {
			of := out.Type().Field(j)
			if of.Type.Kind() != reflect.Bool {
				continue
			}
			if want := of.Name == chanMap[f.Name]; out.Field(j).Bool() != want {
				t.Errorf("store %s alone true: server %s = %v, want %v", f.Name, of.Name, out.Field(j).Bool(), want)
			}
		}
	}
}

// coverage fails when a field of either struct is missing from the table.
func coverage(t *testing.T, from, to reflect.Type, m map[string]string, derived map[string]bool) {
	t.Helper()
	targets := map[string]bool{}
	for i := range from.NumField() {
		name := from.Field(i).Name
		dst, ok := m[name]
		if !ok {
			t.Errorf("store %s.%s is new: say in this test where it goes on the server (or that it does not)", from.Name(), name)
			continue
		}
		if dst != "" {
			targets[dst] = true
		}
	}
	for i := range to.NumField() {
		name := to.Field(i).Name
		if !targets[name] && !derived[name] {
			t.Errorf("server %s.%s is filled from no store field in this test's table", to.Name(), name)
		}
	}
}

// fill gives every string, int and time field a value unique to it.
func fill(v reflect.Value, tag string) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString(tag + "-" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(len(tag)*1000 + i*7 + 3))
		}
		if f.Type() == reflect.TypeOf(time.Time{}) {
			f.Set(reflect.ValueOf(time.Unix(int64(1700000000+i), 0)))
		}
	}
}

// checkMapped compares each mapped string or number field.
func checkMapped(t *testing.T, what string, from, to reflect.Value, m map[string]string) {
	t.Helper()
	for i := range from.NumField() {
		name := from.Type().Field(i).Name
		dst := m[name]
		f := from.Field(i)
		if dst == "" || f.Kind() == reflect.Bool || f.Kind() == reflect.Pointer {
			continue
		}
		g := to.FieldByName(dst)
		if fmt.Sprint(g.Interface()) != fmt.Sprint(f.Interface()) {
			t.Errorf("%s: store %s = %v but server %s = %v", what, name, f.Interface(), dst, g.Interface())
		}
	}
}

// TestAdminRegisterKeyIDAndFingerprintBothChecked: the admin API refuses
// (409 key_mismatch) a release whose key id matches the app's but whose
// fingerprint does not, and the converse.
func TestAdminRegisterKeyIDAndFingerprintBothChecked(t *testing.T) {
	forEachBackend(t, func(t *testing.T, reg store.Registry) {
		h := newHarness(t, reg, Config{})
		h.register("1.0.0", "production")
		other := newTestKey()
		for _, c := range []struct {
			name string
			key  testKey
		}{
			{"same key id, other fingerprint", testKey{id: h.key.id, fingerprint: other.fingerprint}},
			{"other key id, same fingerprint", testKey{id: other.id, fingerprint: h.key.fingerprint}},
		} {
			body, _ := json.Marshal(releaseInput(h.app, "1.1.0", "production", c.key))
			status, out := h.do("POST", "/admin/v1/releases", h.token, body)
			if status != http.StatusConflict || !bytes.Contains(out, []byte(`"error":"key_mismatch"`)) {
				t.Fatalf("%s: HTTP %d %s, want 409 key_mismatch", c.name, status, out)
			}
		}
		if got := h.check(h.deviceBody(nil)); got["version"] != "1.0.0" {
			t.Fatalf("after refused registrations devices get %v, want 1.0.0", got)
		}
		h.register("1.1.0", "production")
	})
}
