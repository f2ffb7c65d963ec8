package release

import (
	"fmt"
	"strings"

	"capship/store"
	"capship/workflow"
)

// Registration is what a person adds to a built bundle to register it:
// `release register --url --files-url --channel --min-native` on the
// command line, the Register step's fields in the wizard.
type Registration struct {
	URL       string // where devices download the encrypted bundle
	FilesURL  string // where its per-file objects were uploaded; "" registers the zip only
	Channel   string // the channel to point at it; "" for none
	MinNative string // lowest native version_build that may get it; "" for any
	// AllowNativeChange registers even though the manifest's native
	// packages differ from the release the channel serves.
	AllowNativeChange bool
}

// NoDeltaError: a files URL was given for a bundle built without per-file
// objects. It errors.Is ErrNoDelta; Reason is the manifest's
// delta_skipped ("" when it was built without them on purpose).
type NoDeltaError struct{ Reason string }

func (e *NoDeltaError) Error() string {
	if e.Reason == "" {
		return ErrNoDelta.Error()
	}
	return ErrNoDelta.Error() + " (" + e.Reason + ")"
}

func (e *NoDeltaError) Is(target error) bool { return target == ErrNoDelta }

// RegistrationFromManifest maps a built manifest and what the person added
// to the store.RegisterInput that Manager.Register records, with the delta
// form when r.FilesURL is set, and checks it as the registry will
// (store.ErrInvalid), so that a bad input is refused before any download.
// Errors: *NoDeltaError (errors.Is ErrNoDelta), workflow.ErrBadURL for a
// files URL devices could not use, store.ErrInvalid. The CLI's `release
// register` and the wizard's Register step both call it.
func RegistrationFromManifest(m *workflow.Manifest, r Registration) (store.RegisterInput, error) {
	in := store.RegisterInput{
		AppID: m.AppID, Version: m.Version, URL: strings.TrimSpace(r.URL), SessionKey: m.SessionKey,
		Checksum: m.Checksum, Size: m.Size, SHA256: m.SHA256, ZipSHA256: m.ZipSHA256,
		KeyID: m.KeyID, KeyFingerprint: m.KeyFingerprint, Channel: r.Channel, MinNative: r.MinNative,
		NativePackages: m.NativePackages, AllowNativeChange: r.AllowNativeChange,
	}
	if r.FilesURL != "" {
		if m.Delta == nil {
			return in, fmt.Errorf("register %s %s: %w", m.AppID, m.Version, &NoDeltaError{Reason: m.DeltaSkipped})
		}
		if err := WithDelta(&in, m.Delta, r.FilesURL); err != nil {
			return in, fmt.Errorf("register %s %s: %w", m.AppID, m.Version, err)
		}
	}
	if err := in.Validate(); err != nil {
		return in, fmt.Errorf("register %s %s: %w", m.AppID, m.Version, err)
	}
	return in, nil
}
