package workflow

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

func TestValidVersion(t *testing.T) {
	for _, ok := range []string{"0.0.0", "1.2.3", "10.20.30", "1.2.3-beta.1", "1.2.3-rc.1+build.5", "1.0.0+20130313144700", "1.0.0-alpha-a.b-c"} {
		if err := ValidVersion(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1", "1.2", "v1.2.3", "V1.2.3", "01.2.3", "1.02.3", "1.2.3-01", "1.2.3.4", "1.2.3-", "1.2.3+", " 1.2.3", "1.2.3 ", "latest", "1.2.x"} {
		err := ValidVersion(bad)
		if !errors.Is(err, ErrVersion) {
			t.Errorf("%q: %v, want ErrVersion", bad, err)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// SemVer 2.0.0 §11 precedence, lowest first.
	order := []string{"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	shuffled := append([]string(nil), order...)
	sort.Slice(shuffled, func(i, j int) bool { return shuffled[i] > shuffled[j] }) // some other order
	sort.SliceStable(shuffled, func(i, j int) bool { return CompareVersions(shuffled[i], shuffled[j]) < 0 })
	if strings.Join(shuffled, " ") != strings.Join(order, " ") {
		t.Fatalf("sorted %v\nwant   %v", shuffled, order)
	}
	if CompareVersions("1.0.0+a", "1.0.0+b") != 0 {
		t.Error("build metadata changed the order")
	}
	if CompareVersions("garbage", "0.0.0") != -1 || CompareVersions("0.0.0", "v1.0.0") != 1 {
		t.Error("invalid versions must sort first")
	}
}
