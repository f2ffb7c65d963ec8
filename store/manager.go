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
	Register(ctx context.Context, in RegisterInput) (*Release, error)
	Promote(ctx context.Context, appID, channel, version string) (*Channel, error)
	Rollback(ctx context.Context, appID, channel string) (*Channel, error)

	Release(ctx context.Context, appID, version string) (*Release, error)
	Releases(ctx context.Context, appID string) ([]Release, error)
	ReleaseFiles(ctx context.Context, appID, version string) ([]ReleaseFile, error)

	CreateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error)
	UpdateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error)
	Channel(ctx context.Context, appID, name string) (*Channel, error)
	Channels(ctx context.Context, appID string) ([]Channel, error)
	History(ctx context.Context, appID, channel string) ([]HistoryEntry, error)

	Stats(ctx context.Context, appID string, since time.Time) ([]ReleaseStats, error)

	Close() error
}

var _ Manager = Registry(nil)
