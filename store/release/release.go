// Package release is the operations layer the command line and the wizard
// share, written once below both: where releases go (Open a Target: the
// local registry or a capship server, one store.Manager either way), a
// built manifest as a registration (RegistrationFromManifest), an app's
// key made or brought into the keychain with its public half in the
// Capacitor config (CreateKey, ImportKey), the delta form a registration
// carries, and what a phone on a registered release downloads of a new
// one. It returns typed errors and facts; the caller words the advice
// (the CLI in flags, each wizard step in keys).
package release

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"

	"capship/store"
	"capship/workflow"
)

// ErrNoDelta means a files URL was given for a bundle built without
// per-file objects.
var ErrNoDelta = errors.New("the bundle has no per-file objects")

// Files lists a delta's files as the registry keeps them: what devices
// get in an update answer's manifest.
func Files(d *workflow.Delta) []store.ReleaseFile {
	out := make([]store.ReleaseFile, len(d.Files))
	for i, f := range d.Files {
		out[i] = store.ReleaseFile{Path: f.Path, FileHash: f.FileHash, Object: f.Object, Size: f.Size, Brotli: f.Brotli}
	}
	return out
}

// WithDelta gives in the delta form of d, whose objects were uploaded
// below filesURL: devices then fetch FILES_URL/OBJECT for the files they
// lack. It refuses a URL devices could not use (workflow.ErrBadURL) and a
// bundle without a delta (ErrNoDelta).
func WithDelta(in *store.RegisterInput, d *workflow.Delta, filesURL string) error {
	if d == nil {
		return ErrNoDelta
	}
	base, _, err := workflow.ValidateFilesURL(filesURL)
	if err != nil {
		return err
	}
	in.FilesURL, in.Files = base, Files(d)
	return nil
}

// Download is what a phone running a release whose files are current
// fetches of the new delta d: the files whose content the release does
// not hold. The registry keeps each file's hash as devices get it, so
// pub (the app's public key) opens the V3 form; a hash that does not
// open counts as a file the phone lacks.
func Download(pub *rsa.PublicKey, d *workflow.Delta, current []store.ReleaseFile) workflow.DeltaDownload {
	held := make(map[string]bool, len(current))
	for _, f := range current {
		if sum, err := workflow.FileDigest(pub, f.FileHash); err == nil {
			held[sum] = true
		}
	}
	return d.Download(held)
}

// ChannelDownload is what a phone on one channel's current release
// downloads of a new delta.
type ChannelDownload struct {
	Channel string
	Current string // the version the channel serves now
	// Zip: the channel sends zips (delta off), so phones download the
	// whole bundle; Download is then zero.
	Zip bool
	// NoFileList: the current release went as a zip only, so the registry
	// has no file list to compare with; Download then counts every file.
	NoFileList bool
	Download   workflow.DeltaDownload
}

// Channels says, for each of appID's channels that serves a release (in
// the registry's order), what a phone on it downloads of the new delta d.
// pub is the app's public key (see Download). An app the registry does
// not know yet has no channels.
func Channels(ctx context.Context, reg store.Manager, appID string, pub *rsa.PublicKey, d *workflow.Delta) ([]ChannelDownload, error) {
	channels, err := reg.Channels(ctx, appID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	var out []ChannelDownload
	files := map[string][]store.ReleaseFile{} // by version: channels often share one
	for _, ch := range channels {
		cur := ch.Release
		if cur == nil {
			continue
		}
		cd := ChannelDownload{Channel: ch.Name, Current: cur.Version, Zip: !ch.Delta, NoFileList: cur.FilesURL == ""}
		switch {
		case cd.Zip:
		case cd.NoFileList:
			cd.Download = d.Download(nil)
		default:
			fs, ok := files[cur.Version]
			if !ok {
				if fs, err = reg.ReleaseFiles(ctx, appID, cur.Version); err != nil {
					return nil, fmt.Errorf("compare with %s on %s: %w", cur.Version, ch.Name, err)
				}
				files[cur.Version] = fs
			}
			cd.Download = Download(pub, d, fs)
		}
		out = append(out, cd)
	}
	return out, nil
}
