package server

import (
	"strconv"
	"strings"
)

// version is a loosely parsed semantic version: native version names
// ("1.4", "2.0.1 (45)", "v3.1.0-beta.2") are coerced the way Capgo's backend
// coerces them, so that min-native and under-native checks compare numbers,
// not strings.
type version struct {
	nums [3]uint64
	pre  []string // pre-release identifiers; empty for a release
}

// parseVersion coerces s into a version. It fails when s holds no number.
func parseVersion(s string) (version, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	// find the first digit: "release-1.2.3" still compares as 1.2.3
	start := strings.IndexAny(s, "0123456789")
	if start < 0 {
		return version{}, false
	}
	s = s[start:]
	var v version
	i := 0
	for part := 0; part < 3; part++ {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			break
		}
		n, err := strconv.ParseUint(s[i:j], 10, 64)
		if err != nil {
			return version{}, false
		}
		v.nums[part] = n
		i = j
		if i < len(s) && s[i] == '.' && part < 2 {
			i++
			continue
		}
		break
	}
	rest := s[i:]
	if strings.HasPrefix(rest, "-") {
		pre := rest[1:]
		if k := strings.IndexAny(pre, "+ ("); k >= 0 {
			pre = pre[:k]
		}
		if pre != "" {
			v.pre = strings.Split(pre, ".")
		}
	}
	return v, true
}

// compare returns -1, 0 or +1 following semver precedence (build metadata
// ignored).
func (a version) compare(b version) int {
	for i := range a.nums {
		if a.nums[i] != b.nums[i] {
			if a.nums[i] < b.nums[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		if c := comparePreIdent(a.pre[i], b.pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

func comparePreIdent(a, b string) int {
	an, aErr := strconv.ParseUint(a, 10, 64)
	bn, bErr := strconv.ParseUint(b, 10, 64)
	switch {
	case aErr == nil && bErr == nil:
		switch {
		case an < bn:
			return -1
		case an > bn:
			return 1
		}
		return 0
	case aErr == nil: // numeric identifiers sort first
		return -1
	case bErr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// compareVersions compares two version strings; ok is false when either has
// no number in it.
func compareVersions(a, b string) (c int, ok bool) {
	va, okA := parseVersion(a)
	vb, okB := parseVersion(b)
	if !okA || !okB {
		return 0, false
	}
	return va.compare(vb), true
}
