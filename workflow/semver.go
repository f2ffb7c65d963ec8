package workflow

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// ErrVersion means a bundle version is not a full semantic version.
var ErrVersion = errors.New("not a semantic version")

// ValidVersion checks that v is a full SemVer 2.0.0 version such as 1.2.3,
// 1.2.3-beta.1 or 1.2.3+build.5: what the plugin and the Capgo CLI accept.
// No leading "v", no shorthand like 1.2, no leading zeros.
func ValidVersion(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: the version is empty; give one like 1.2.3", ErrVersion)
	case strings.HasPrefix(v, "v") || strings.HasPrefix(v, "V"):
		return fmt.Errorf("%w: %q: drop the leading %q (write %s)", ErrVersion, v, v[:1], v[1:])
	}
	core, _, _ := strings.Cut(v, "-")
	core, _, _ = strings.Cut(core, "+")
	if !semver.IsValid("v"+v) || strings.Count(core, ".") != 2 {
		return fmt.Errorf("%w: %q: want MAJOR.MINOR.PATCH, e.g. 1.2.3 or 1.2.3-beta.1, numbers without leading zeros", ErrVersion, v)
	}
	return nil
}

// CompareVersions orders two versions by SemVer 2.0.0 precedence: -1 when
// a < b, 0 when equal (build metadata is ignored), +1 when a > b. An invalid
// version sorts before every valid one; check with ValidVersion first.
func CompareVersions(a, b string) int {
	va, vb := "v"+a, "v"+b
	if ValidVersion(a) != nil {
		va = ""
	}
	if ValidVersion(b) != nil {
		vb = ""
	}
	return semver.Compare(va, vb)
}
