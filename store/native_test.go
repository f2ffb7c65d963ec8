package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNativeDiff(t *testing.T) {
	from := map[string]string{"@capacitor/camera": "6.0.0", "@capgo/gone": "2.0.0", "@capacitor/android": "6.1.2"}
	to := map[string]string{"@capacitor/camera": "6.1.0", "@capgo/foo": "1.0.0", "@capacitor/android": "6.1.2"}
	got := NativeDiff(from, to)
	want := []NativeChange{{"@capacitor/camera", "6.0.0", "6.1.0"}, {"@capgo/foo", "", "1.0.0"}, {"@capgo/gone", "2.0.0", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff %+v, want %+v", got, want)
	}
	var texts []string
	for _, c := range got {
		texts = append(texts, c.String())
	}
	if s := strings.Join(texts, ", "); s != "@capacitor/camera 6.0.0 → 6.1.0 changed, @capgo/foo 1.0.0 added, @capgo/gone 2.0.0 removed" {
		t.Fatalf("reads %q", s)
	}
	if d := NativeDiff(from, from); d != nil {
		t.Fatalf("same packages: %+v", d)
	}
}

// Register refuses a release whose native packages differ from the
// channel's, in its transaction, on both backends; a minimum native
// version, an explicit allowance, or a side without recorded packages
// lets it through.
func TestRegisterNativeGuard(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := b.open(t)
		const app = "com.example.native"
		v1 := input(app, "1.0.0", "production", 1)
		v1.NativePackages = map[string]string{"@capacitor/camera": "6.0.0", "@capacitor/android": "6.1.2"}
		mustRegister(t, r, v1)
		if got := mustChannel(t, r, app, "production").Release.NativePackages; !reflect.DeepEqual(got, v1.NativePackages) {
			t.Fatalf("the channel's release has native packages %v", got)
		}

		v2 := input(app, "1.1.0", "production", 1)
		v2.NativePackages = map[string]string{"@capacitor/camera": "6.1.0", "@capacitor/android": "6.1.2", "@capgo/foo": "1.0.0"}
		_, err := r.Register(ctxT(t), v2)
		var nc *NativeChangeError
		if !errors.As(err, &nc) || !errors.Is(err, ErrNativeChange) || ErrorCode(err) != "native_change" {
			t.Fatalf("a changed native plugin: %v", err)
		}
		if len(nc.Changes) != 2 || nc.Current != "1.0.0" || nc.Channel != "production" ||
			!strings.Contains(err.Error(), "@capacitor/camera 6.0.0 → 6.1.0 changed, @capgo/foo 1.0.0 added") {
			t.Fatalf("refusal %+v: %v", nc, err)
		}
		if strings.Contains(err.Error(), "--") {
			t.Fatalf("a store error names no flag: %v", err)
		}
		if _, err := r.Release(ctxT(t), app, "1.1.0"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the refused release was kept: %v", err)
		}

		// The same packages pass; so does a release registered without a
		// channel (nothing is served from it yet).
		same := input(app, "1.0.1", "production", 1)
		same.NativePackages = map[string]string{"@capacitor/android": "6.1.2", "@capacitor/camera": "6.0.0"}
		mustRegister(t, r, same)
		noChannel := v2
		noChannel.Channel = ""
		mustRegister(t, r, noChannel)

		withMin := input(app, "1.2.0", "production", 1)
		withMin.NativePackages, withMin.MinNative = v2.NativePackages, "2.0.0"
		if rel := mustRegister(t, r, withMin); rel.MinNative != "2.0.0" || len(rel.NativePackages) != 3 {
			t.Fatalf("registered %+v", rel)
		}
		allowed := input(app, "1.3.0", "production", 1)
		allowed.NativePackages, allowed.AllowNativeChange = map[string]string{"@capacitor/android": "7.0.0"}, true
		mustRegister(t, r, allowed)

		// An old manifest (nothing recorded) registers as before, and then
		// the channel serves a release without a record: the next passes.
		old := input(app, "1.4.0", "production", 1)
		mustRegister(t, r, old)
		if rel, err := r.Release(ctxT(t), app, "1.4.0"); err != nil || rel.NativePackages != nil {
			t.Fatalf("an old manifest's release: %+v, %v", rel, err)
		}
		next := input(app, "1.5.0", "production", 1)
		next.NativePackages = map[string]string{"@capgo/other": "9.9.9"}
		mustRegister(t, r, next)
	})
}

func TestRegisterNativeValidate(t *testing.T) {
	in := input("com.example.native", "1.0.0", "", 1)
	in.NativePackages = map[string]string{"bad\nname": "1.0.0"}
	if err := in.Validate(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a name with a line break: %v", err)
	}
}
