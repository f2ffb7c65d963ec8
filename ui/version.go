package ui

import (
	"fmt"
	"strings"

	"capship/workflow"
)

// checkVersion validates v as a full semantic version, which is what the
// plugin compares. latest, when set, is the newest version already
// registered; a version not above it gets a warning (the registry refuses it
// on a channel that already serves the newer one).
func checkVersion(v, latest string) (warning string, err error) {
	v = strings.TrimSpace(v)
	if err := workflow.ValidVersion(v); err != nil {
		return "", err
	}
	if latest != "" && workflow.CompareVersions(v, latest) <= 0 {
		return fmt.Sprintf("%s is not newer than %s, the newest registered version", v, latest), nil
	}
	return "", nil
}
