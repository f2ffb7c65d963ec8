package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// Request bodies as @capgo/capacitor-updater 8.51 builds them: Android's
// CapgoUpdater.createInfoObject (org.json: booleans are JSON booleans) and
// iOS's InfoObject.toParameters (JSONSerialization; identifierForVendor is
// an upper-case UUID).
const (
	androidUpdateBody = `{"platform":"android","device_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","app_id":"com.example.app","custom_id":"","version_build":"0.9.0","version_code":"10","version_os":"14","version_name":"builtin","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"install_source":"google_play","defaultChannel":"","key_id":"MIIBCgKCAQEAyRxnUWrb"}`
	iosUpdateBody     = `{"platform":"ios","device_id":"9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D","app_id":"com.example.app","custom_id":"","version_build":"0.9.0","version_code":"10","version_os":"17.5.1","version_name":"1.1.0","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"install_source":"app_store","defaultChannel":"beta","key_id":"MIIBCgKCAQEAyRxnUWrb"}`
	// Android sends stats in batches: a JSON array, each event with a timestamp and optional metadata.
	androidStatsBody = `[{"platform":"android","device_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","app_id":"com.example.app","custom_id":"","version_build":"1.0.0","version_code":"10","version_os":"14","version_name":"1.2.0","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"install_source":"","defaultChannel":"","key_id":"MIIBCgKCAQEAyRxnUWrb","old_version_name":"builtin","action":"download_complete","timestamp":1764250000000},{"platform":"android","device_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","app_id":"com.example.app","custom_id":"","version_build":"1.0.0","version_code":"10","version_os":"14","version_name":"1.2.0","plugin_version":"8.51.14","is_emulator":false,"is_prod":true,"install_source":"","defaultChannel":"","old_version_name":"builtin","action":"set","timestamp":1764250001000,"metadata":{"reason":"background"}}]`
	// Older plugins send one event object.
	legacyStatsBody = `{"platform":"ios","device_id":"9B1DEB4D-3B7D-4BAD-9BDD-2B0D7B3DCB6D","app_id":"com.example.app","version_build":"1.0.0","version_code":"10","version_os":"16.0","version_name":"1.1.0","plugin_version":"5.2.1","is_emulator":false,"is_prod":true,"action":"checksum_fail"}`
)

func TestDecodeUpdateRequestPluginBodies(t *testing.T) {
	d, err := DecodeUpdateRequest([]byte(androidUpdateBody))
	if err != nil {
		t.Fatal(err)
	}
	want := DeviceInfo{
		Platform: "android", DeviceID: "3f2504e0-4f89-41d3-9a0c-0305e82c3301", AppID: "com.example.app",
		VersionBuild: "0.9.0", VersionCode: "10", VersionOS: "14", VersionName: "builtin",
		PluginVersion: "8.51.14", IsProd: true, InstallSource: "google_play", KeyID: "MIIBCgKCAQEAyRxnUWrb",
	}
	if d != want {
		t.Fatalf("android body:\n got %+v\nwant %+v", d, want)
	}
	d, err = DecodeUpdateRequest([]byte(iosUpdateBody))
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceID != "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" {
		t.Errorf("ios device id not normalized to lower case: %q", d.DeviceID)
	}
	if d.Platform != "ios" || d.DefaultChannel != "beta" || d.VersionName != "1.1.0" || d.IsEmulator || !d.IsProd {
		t.Errorf("ios body decoded as %+v", d)
	}
}

func TestDecodeUpdateRequestTolerance(t *testing.T) {
	tests := []struct {
		name string
		body string
		want func(DeviceInfo) bool
	}{
		{"unknown fields ignored", `{"app_id":"a.b","device_id":"d","new_field":{"x":[1,2]},"manifest":true}`, func(d DeviceInfo) bool { return d.AppID == "a.b" }},
		{"booleans as strings", `{"app_id":"a.b","device_id":"d","is_emulator":"true","is_prod":"false"}`, func(d DeviceInfo) bool { return d.IsEmulator && !d.IsProd }},
		{"booleans as numbers", `{"app_id":"a.b","device_id":"d","is_emulator":1,"is_prod":0}`, func(d DeviceInfo) bool { return d.IsEmulator && !d.IsProd }},
		{"missing is_prod means production", `{"app_id":"a.b","device_id":"d"}`, func(d DeviceInfo) bool { return d.IsProd && !d.IsEmulator }},
		{"null is_prod means production", `{"app_id":"a.b","device_id":"d","is_prod":null}`, func(d DeviceInfo) bool { return d.IsProd }},
		{"version_code as a number", `{"app_id":"a.b","device_id":"d","version_code":42}`, func(d DeviceInfo) bool { return d.VersionCode == "42" }},
		{"null strings are empty", `{"app_id":"a.b","device_id":"d","key_id":null,"defaultChannel":null}`, func(d DeviceInfo) bool { return d.KeyID == "" && d.DefaultChannel == "" }},
		{"platform case", `{"app_id":"a.b","device_id":"d","platform":"Android"}`, func(d DeviceInfo) bool { return d.Platform == "android" }},
		// custom_id is the app's own (setCustomId): the server neither uses
		// nor stores it, so a value it could not store must not cost the
		// device its updates.
		{"long custom_id dropped", `{"app_id":"a.b","device_id":"d","custom_id":"` + strings.Repeat("c", 300) + `"}`, func(d DeviceInfo) bool { return d.CustomID == "" }},
		{"object custom_id dropped", `{"app_id":"a.b","device_id":"d","custom_id":{"user":1},"version_os":"\u0000"}`, func(d DeviceInfo) bool { return d.CustomID == "" && d.VersionOS == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := DecodeUpdateRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(d) {
				t.Fatalf("decoded %+v", d)
			}
		})
	}
}

func TestDecodeUpdateRequestRefuses(t *testing.T) {
	tests := []struct{ name, body, msg string }{
		{"not JSON", `app_id=x`, "not valid JSON"},
		{"array", `[1,2]`, "not a JSON object"},
		{"truncated", `{"app_id":"a.b"`, "not valid JSON"},
		{"two values", `{"app_id":"a.b","device_id":"d"} {}`, "not valid JSON"},
		{"NUL in a field", `{"app_id":"a.b","device_id":"d\u0000x"}`, "device_id is not valid text"},
		{"invalid UTF-8", "{\"app_id\":\"a.b\",\"device_id\":\"d\",\"version_name\":\"\xff\"}", "version_name is not valid text"},
		{"no app id", `{"device_id":"d"}`, "app_id is missing"},
		{"no device id", `{"app_id":"a.b"}`, "device_id is missing"},
		{"object as a string field", `{"app_id":{"$ne":1},"device_id":"d"}`, "wrong type"},
		{"bad boolean", `{"app_id":"a.b","device_id":"d","is_prod":"maybe"}`, "wrong type"},
		{"huge device id", `{"app_id":"a.b","device_id":"` + strings.Repeat("d", 200) + `"}`, "device_id is longer"},
		{"huge field", `{"app_id":"a.b","device_id":"d","plugin_version":"` + strings.Repeat("c", 300) + `"}`, "plugin_version is longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeUpdateRequest([]byte(tt.body))
			if !errors.Is(err, errBadRequest) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want errBadRequest mentioning %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), strings.Repeat("d", 50)) {
				t.Fatal("error echoes the request body")
			}
		})
	}
}

func TestDecodeStats(t *testing.T) {
	events, err := DecodeStats([]byte(androidStatsBody))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Action != "download_complete" || events[1].Action != "set" ||
		events[0].VersionName != "1.2.0" || events[0].OldVersionName != "builtin" || events[0].Timestamp != 1764250000000 {
		t.Fatalf("android batch decoded as %+v", events)
	}
	events, err = DecodeStats([]byte(legacyStatsBody))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "checksum_fail" || events[0].DeviceID != "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d" {
		t.Fatalf("single event decoded as %+v", events)
	}
	for _, bad := range []string{`[{"app_id":"a.b","device_id":"d"}]`, `{"app_id":"a.b","action":"set"}`, `[` + strings.Repeat(`{"app_id":"a","device_id":"d","action":"set"},`, maxStatsEvents) + `{"app_id":"a","device_id":"d","action":"set"}]`} {
		if _, err := DecodeStats([]byte(bad)); !errors.Is(err, errBadRequest) {
			t.Errorf("DecodeStats(%.60s…) = %v, want errBadRequest", bad, err)
		}
	}
}

func TestDecodeQuery(t *testing.T) {
	q := map[string]string{"app_id": "com.example.app", "platform": "ios", "is_emulator": "false", "is_prod": "true", "device_id": "ABC"}
	d, err := DecodeQuery(func(k string) string { return q[k] })
	if err != nil {
		t.Fatal(err)
	}
	if d.AppID != "com.example.app" || d.Platform != "ios" || d.IsEmulator || !d.IsProd || d.DeviceID != "abc" {
		t.Fatalf("decoded %+v", d)
	}
	q["is_prod"] = "perhaps"
	if _, err := DecodeQuery(func(k string) string { return q[k] }); !errors.Is(err, errBadRequest) {
		t.Fatalf("bad boolean accepted: %v", err)
	}
}

// FuzzDecodeUpdateRequest: the decoder never panics, and whatever it
// accepts satisfies the limits the rest of the server relies on.
func FuzzDecodeUpdateRequest(f *testing.F) {
	for _, seed := range []string{androidUpdateBody, iosUpdateBody, legacyStatsBody, `{}`, `null`, `[]`, `{"app_id":1e999,"device_id":true}`,
		`{"app_id":"a","device_id":"d","is_prod":"1","version_code":-0.5e3}`, `{"app_id":"a","device_id":"d","timestamp":"1e30"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeUpdateRequest(body)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("error %v is not errBadRequest", err)
			}
			return
		}
		if d.AppID == "" || d.DeviceID == "" || len(d.DeviceID) > maxDeviceIDLen || len(d.AppID) > maxFieldLen || len(d.KeyID) > maxFieldLen {
			t.Fatalf("accepted out-of-limit request %+v", d)
		}
		// Only JSON is accepted (encoding/json agrees it is valid), and only
		// text the registry can store.
		if !json.Valid(body) {
			t.Fatalf("accepted a body encoding/json calls invalid: %q", body)
		}
		for _, v := range []string{d.Platform, d.DeviceID, d.AppID, d.CustomID, d.VersionName, d.KeyID} {
			if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("accepted invalid text %q", v)
			}
		}
		ans := decide(fixture(), d, fixtureOverrides[d.DeviceID])
		if ans.Release == nil && ans.Code == "" {
			t.Fatalf("decide gave neither an update nor a code for %+v", d)
		}
		if _, err := DecodeStats(body); err != nil && !errors.Is(err, errBadRequest) {
			t.Fatalf("DecodeStats error %v is not errBadRequest", err)
		}
	})
}
