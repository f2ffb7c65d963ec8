package workflow_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"capship/workflow"
)

// The Capacitor CLI syncs the plugins of devDependencies into the native
// app as it does those of dependencies: they are native packages too. A
// devDependency left out by 'npm install --omit=dev' is no warning.
func TestNativePackagesDevDependencies(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"package.json": `{"dependencies":{"@capacitor/core":"^6"},"devDependencies":{"@capacitor/ios":"^6","@capacitor/cli":"^6","@capgo/bar":"^2"}}`,
		"node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`,
		"node_modules/@capacitor/ios/package.json":  `{"version":"6.1.2"}`,
		"node_modules/@capgo/bar/package.json":      `{"version":"2.0.1","capacitor":{"android":{"src":"android"}}}`,
	})
	got, warnings, err := workflow.NativePackages(dir)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	if want := map[string]string{"@capacitor/ios": "6.1.2", "@capgo/bar": "2.0.1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, want %v", got, want)
	}
}

// A Cordova plugin (plugin.xml, its native code under src/) is native, as
// the Capacitor CLI counts it.
func TestNativePackagesCordova(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"package.json": `{"dependencies":{"cordova-plugin-inappbrowser":"^6","lodash":"^4"}}`,
		"node_modules/cordova-plugin-inappbrowser/package.json":                  `{"version":"6.0.0","cordova":{"id":"cordova-plugin-inappbrowser"}}`,
		"node_modules/cordova-plugin-inappbrowser/plugin.xml":                    `<plugin id="cordova-plugin-inappbrowser" version="6.0.0"/>`,
		"node_modules/cordova-plugin-inappbrowser/src/android/InAppBrowser.java": "class InAppBrowser {}",
		"node_modules/lodash/package.json":                                       `{"version":"4.17.21"}`,
	})
	got, warnings, err := workflow.NativePackages(dir)
	if err != nil || len(warnings) > 0 {
		t.Fatalf("err %v, warnings %q", err, warnings)
	}
	if want := map[string]string{"cordova-plugin-inappbrowser": "6.0.0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, want %v", got, want)
	}
}

// In an npm or yarn workspace the packages are hoisted to the
// workspace's node_modules, where Node (and the Capacitor CLI) find
// them: so does NativePackages, with or without the app's own folder.
func TestNativePackagesHoisted(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"package.json": `{"private":true,"workspaces":["apps/*"]}`,
		"node_modules/@capacitor/camera/package.json":  `{"version":"6.0.0"}`,
		"node_modules/@capacitor/camera/android/x":     "",
		"node_modules/@capacitor/android/package.json": `{"version":"6.1.2"}`,
		"apps/shop/package.json":                       `{"dependencies":{"@capacitor/android":"^6","@capacitor/camera":"^6","@capacitor/core":"^6"}}`,
		// The app's own folder holds one package; the rest is hoisted.
		"apps/shop/node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`,
	})
	app := filepath.Join(root, "apps", "shop")
	want := map[string]string{"@capacitor/android": "6.1.2", "@capacitor/camera": "6.0.0"}
	got, warnings, err := workflow.NativePackages(app)
	if err != nil || len(warnings) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("native packages %v, %q, %v; want %v", got, warnings, err, want)
	}
	if err := os.RemoveAll(filepath.Join(app, "node_modules")); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"node_modules/@capacitor/core/package.json": `{"version":"6.1.2"}`})
	if got, warnings, err = workflow.NativePackages(app); err != nil || len(warnings) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("all hoisted: %v, %q, %v; want %v", got, warnings, err, want)
	}
}

// In a workspace the updater plugin is hoisted to the root's
// node_modules too: the doctor judges the version installed there, not
// the lowest the range allows.
func TestDoctorPluginHoisted(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"node_modules/@capgo/capacitor-updater/package.json": `{"version":"8.46.0"}`,
		"apps/shop/package.json":                             `{"version":"1.0.0","dependencies":{"@capgo/capacitor-updater":"^8.40.0"}}`,
	})
	p := &workflow.Project{Dir: filepath.Join(root, "apps", "shop"), ConfigPath: "capacitor.config.json", AppID: "com.example.shop"}
	var got workflow.Finding
	for _, f := range workflow.DoctorOffline(workflow.DoctorFacts{Project: p}) {
		if f.Check == workflow.CheckPluginVersion {
			got = f
		}
	}
	if got.Status != workflow.StatusOK || !strings.Contains(got.Message, "installed: 8.46.0") {
		t.Fatalf("%+v; want ok, installed 8.46.0", got)
	}
}
