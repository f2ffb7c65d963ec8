package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

var _ Manager = (*Client)(nil)

// AdminChannelsPath and AdminStatsPath are the admin API's channel and
// stats endpoints (server/admin.go lists them all).
const (
	AdminChannelsPath = "/admin/v1/channels"
	AdminStatsPath    = "/admin/v1/stats"
)

// segment refuses a name that cannot be one path segment of an endpoint
// ("" or a dot segment, which a URL path would lose); others are escaped.
func segment(what, name string) (string, error) {
	if name == "" || name == "." || name == ".." {
		return "", hinted(ErrInvalid, "%s %q: give a %s", what, name, what)
	}
	return url.PathEscape(name), nil
}

// get reads path (below the server's base, with app_id and the extra query)
// into a new T.
func get[T any](ctx context.Context, c *Client, verb, appID string, query url.Values, path ...string) (T, error) {
	endpoint := c.base.JoinPath(path...)
	if query == nil {
		query = url.Values{}
	}
	query.Set("app_id", appID)
	endpoint.RawQuery = query.Encode()
	var v T
	err := c.do(ctx, verb, http.MethodGet, endpoint, nil, http.StatusOK, &v)
	return v, err
}

// getNamed reads path (whose last part before tail is name, a version or
// channel) into a new T.
func getNamed[T any](ctx context.Context, c *Client, verb, what, appID, base, name string, tail ...string) (T, error) {
	seg, err := segment(what, name)
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", verb, err)
	}
	return get[T](ctx, c, verb, appID, nil, append([]string{base, seg}, tail...)...)
}

// send sends body as JSON to path and reads the answer with status want.
func (c *Client) send(ctx context.Context, verb, method string, body any, want int, out any, path ...string) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	return c.do(ctx, verb, method, c.base.JoinPath(path...), data, want, out)
}

// Release returns one release of an app from the server. ErrNotFound
// when absent.
func (c *Client) Release(ctx context.Context, appID, version string) (*Release, error) {
	rel, err := getNamed[*Release](ctx, c, "read release", "version", appID, AdminReleasesPath, version)
	return nonNil(rel, err)
}

// ReleaseFiles lists the files of a release's delta form, sorted by path,
// as Registry.ReleaseFiles does. ErrNotFound when the release is absent.
func (c *Client) ReleaseFiles(ctx context.Context, appID, version string) ([]ReleaseFile, error) {
	files, err := getNamed[[]ReleaseFile](ctx, c, "read files of release", "version", appID, AdminReleasesPath, version, "files")
	return nilIfEmpty(files), err
}

// channelMove is the body of the promote and rollback endpoints.
type channelMove struct {
	AppID   string `json:"app_id"`
	Channel string `json:"channel"`
	Version string `json:"version,omitempty"`
}

// Promote points a channel at an existing, newer release on the server,
// as Registry.Promote does.
func (c *Client) Promote(ctx context.Context, appID, channel, version string) (*Channel, error) {
	var ch Channel
	err := c.send(ctx, "promote", http.MethodPost, channelMove{appID, channel, version}, http.StatusOK, &ch, AdminChannelsPath, "promote")
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// Rollback moves a channel back to its previous release on the server, as
// Registry.Rollback does.
func (c *Client) Rollback(ctx context.Context, appID, channel string) (*Channel, error) {
	var ch Channel
	err := c.send(ctx, "roll back", http.MethodPost, channelMove{AppID: appID, Channel: channel}, http.StatusOK, &ch, AdminChannelsPath, "rollback")
	if err != nil {
		return nil, err
	}
	return &ch, nil
}

// CreateChannel adds a channel on the server with set applied over
// DefaultChannelSettings. ErrDuplicateChannel if it exists.
func (c *Client) CreateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error) {
	body := struct {
		AppID string `json:"app_id"`
		Name  string `json:"name"`
		ChannelSettings
	}{appID, name, set}
	var ch Channel
	if err := c.send(ctx, "create channel", http.MethodPost, body, http.StatusCreated, &ch, AdminChannelsPath); err != nil {
		return nil, err
	}
	return &ch, nil
}

// UpdateChannel changes the settings that are non-nil in set, on the
// server, as Registry.UpdateChannel does.
func (c *Client) UpdateChannel(ctx context.Context, appID, name string, set ChannelSettings) (*Channel, error) {
	n, err := segment("channel", name)
	if err != nil {
		return nil, fmt.Errorf("change channel: %w", err)
	}
	body := struct {
		AppID string `json:"app_id"`
		ChannelSettings
	}{appID, set}
	var ch Channel
	if err := c.send(ctx, "change channel", http.MethodPatch, body, http.StatusOK, &ch, AdminChannelsPath, n); err != nil {
		return nil, err
	}
	return &ch, nil
}

// Channel returns one channel with its current and previous releases.
// ErrNotFound when the app has no such channel.
func (c *Client) Channel(ctx context.Context, appID, name string) (*Channel, error) {
	ch, err := getNamed[*Channel](ctx, c, "read channel", "channel", appID, AdminChannelsPath, name)
	return nonNil(ch, err)
}

// History lists what a channel pointed to and when, oldest first.
// ErrNotFound when the app has no such channel.
func (c *Client) History(ctx context.Context, appID, channel string) ([]HistoryEntry, error) {
	h, err := getNamed[[]HistoryEntry](ctx, c, "read history", "channel", appID, AdminChannelsPath, channel, "history")
	return nilIfEmpty(h), err
}

// Stats summarizes the devices' reports about an app since a time (zero:
// all), as Registry.Stats does.
func (c *Client) Stats(ctx context.Context, appID string, since time.Time) ([]ReleaseStats, error) {
	q := url.Values{}
	if !since.IsZero() {
		q.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	st, err := get[[]ReleaseStats](ctx, c, "read stats", appID, q, AdminStatsPath)
	return nilIfEmpty(st), err
}

// Close lets go of idle connections to the server; the client holds
// nothing else.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// nonNil returns v, or an error when the server answered JSON null.
func nonNil[T any](v *T, err error) (*T, error) {
	if err == nil && v == nil {
		return nil, errors.New("the server answered null: is it a capship server?")
	}
	return v, err
}

// nilIfEmpty makes the server's empty JSON array read as the registry's
// nil slice, so both Managers answer alike.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
