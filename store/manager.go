package store

import (
	"context"
	"time"
)

// Manager is what a release manager does to an app's releases and
// channels. Both the local registry (Registry) and a capship server's admin
// API (Client) implement it, so every command that changes or reads what
// devices are served works the same from the registry's machine and from a
// laptop with only the server's URL and a token.
type Manager interface {
	// Register records a release and, when in.Channel is not empty, points
	// that channel at it (creating the channel if the app has none of that
	// name; the app's first channel becomes its public default).
	// The first release of an app records the app and its key. Refused:
	// invalid input (ErrInvalid), a version already registered for the app
	// (ErrDuplicateVersion), an encrypted file or URL that another release
	// already has (ErrDuplicateBundle: a replay of an old bundle under a
	// new version or app, or an upload that overwrote an older release's
	// file), a version not greater than the channel's
	// current one (ErrVersionNotNewer), a bundle sealed with another key
	// than the app's (ErrKeyMismatch).
	Register(ctx context.Context, in RegisterInput) (*Release, error)

	// Promote points an existing channel at an existing release of the same
	// app. The version must be greater than the channel's current one
	// (ErrVersionNotNewer: going back is Rollback's job).
	Promote(ctx context.Context, appID, channel, version string) (*Channel, error)

	// Rollback moves the channel back to the release it served before its
	// current one, and marks the current one as rolled back in the history.
	// Repeated rollbacks walk further back. ErrNothingToRollBack when the
	// channel has no earlier release.
	Rollback(ctx context.Context, appID, channel string) (*Channel, error)

	// Release returns one release of an app. ErrNotFound when absent.
	Release(ctx context.Context, appID, version string) (*Release, error)
	// Releases lists an app's releases, newest registration first.
	Releases(ctx context.Context, appID string) ([]Release, error)
	// ReleaseFiles lists the files of a release's delta form, sorted by
	// path; none for a zip-only release. ErrNotFound when the release
	// does not exist.
	ReleaseFiles(ctx context.Context, appID, version string) ([]ReleaseFile, error)

	// CreateChannel adds a channel (no release yet) with the given settings
	// applied over DefaultChannelSettings. ErrDuplicateChannel if it exists.
	CreateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error)
	// UpdateChannel changes the settings that are non-nil in set. Making a
	// channel public takes the public flag from any other channel of the
	// app that serves one of the same platforms, so each platform has at
	// most one public default.
	UpdateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error)
	// Channel returns one channel with its current and previous releases.
	Channel(ctx context.Context, appID, name string) (*Channel, error)
	// Channels lists an app's channels, sorted by name.
	Channels(ctx context.Context, appID string) ([]Channel, error)
	// History lists what a channel pointed to and when, oldest first.
	History(ctx context.Context, appID, channel string) ([]HistoryEntry, error)
	// Stats summarizes an app's events since a time (zero: all), one entry
	// per bundle version the devices reported, newest version first. The
	// plugin reports a failed file of a delta download as "VERSION:FILE";
	// it counts under VERSION.
	Stats(ctx context.Context, appID string, since time.Time) ([]ReleaseStats, error)
	// Close releases the database (a Client: its idle connections).
	Close() error
}
