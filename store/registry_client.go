package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// AdminReleasesPath is where the admin API of `capship serve` registers
// releases: POST a RegisterInput as JSON with "Authorization: Bearer
// TOKEN"; the answer is 201 with the Release as JSON, or 4xx/5xx with
// {"error": code, "message": text} (codes: ErrorCode).
const AdminReleasesPath = "/admin/v1/releases"

// ErrNoToken: a client for a server was asked for without an admin token.
// It is an ErrInvalid too.
var ErrNoToken error = &codeError{sentinel: ErrInvalid, message: "no admin token for the server"}

// RedirectError: the server answered with a redirect, which the client
// does not follow (the token would go along); Location is where to.
type RedirectError struct{ Host, Location string }

func (e *RedirectError) Error() string {
	return e.Host + " redirects to " + e.Location + "; the admin token is not sent through redirects: use the final https:// address"
}

// maxAdminAnswer bounds what the client reads from the server.
const maxAdminAnswer = 1 << 20

// Client talks to the admin API of a remote `capship serve`, for
// `release register --server`, `release list --server` and the wizard.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// NewClient returns a client for the server at baseURL (https://, or
// http:// on a loopback host, since the token travels with every request).
// httpClient may be nil.
func NewClient(baseURL, token string, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(baseURL), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, hinted(ErrInvalid, "server %q is not a URL like https://updates.example.com", baseURL)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, hinted(ErrInvalid, "server %s: use https:// (the admin token must not travel in clear text; http:// is only for 127.0.0.1, ::1 and localhost)", u.Host)
	}
	if token == "" {
		return nil, ErrNoToken
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: time.Minute}
	}
	// The token must reach only the server named here: net/http would send
	// it on through a redirect to the same host, even to plain http.
	hc := *httpClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, token: token, http: &hc}, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Register registers a release on the server; errors from the server
// errors.Is the same sentinels as Registry.Register's.
func (c *Client) Register(ctx context.Context, in RegisterInput) (*Release, error) {
	const verb = "register release"
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", verb, err)
	}
	var rel Release
	if err := c.do(ctx, verb, http.MethodPost, c.base.JoinPath(AdminReleasesPath), body, http.StatusCreated, &rel); err != nil {
		return nil, err
	}
	if rel.Version == "" {
		return nil, fmt.Errorf("%s: %s answered %d without a release: is it a capship server?", verb, c.base.Host, http.StatusCreated)
	}
	return &rel, nil
}

// Releases lists an app's releases on the server, newest registration
// first, as Registry.Releases does. A token made for another app gets an
// error saying so.
func (c *Client) Releases(ctx context.Context, appID string) ([]Release, error) {
	return get[[]Release](ctx, c, "list releases", appID, nil, AdminReleasesPath)
}

// Channels lists an app's channels on the server, sorted by name, as
// Registry.Channels does.
func (c *Client) Channels(ctx context.Context, appID string) ([]Channel, error) {
	return get[[]Channel](ctx, c, "list channels", appID, nil, AdminChannelsPath)
}

// do sends one admin API request (body nil for none) and decodes an answer
// with status want into out. Every error starts with verb; the server's
// error codes come back as the store's sentinels (CodeError).
func (c *Client) do(ctx context.Context, verb, method string, endpoint *url.URL, body []byte, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint.String(), rd)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "capship")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: reach %s: %w (is a capship server running there?)", verb, c.base.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return fmt.Errorf("%s: read answer of %s: %w", verb, c.base.Host, err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		return fmt.Errorf("%s: %w", verb, &RedirectError{Host: c.base.Host, Location: loc})
	}
	if resp.StatusCode == want {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s: %s answered %d with something else than capship's JSON: is it a capship server?", verb, c.base.Host, want)
		}
		return nil
	}
	var answer struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &answer) != nil || answer.Error == "" {
		endpoint.RawQuery = ""
		return fmt.Errorf("%s: %s answered HTTP %d %s: is it a capship server (%s)?",
			verb, c.base.Host, resp.StatusCode, http.StatusText(resp.StatusCode), endpoint)
	}
	// The server's message often repeats the verb this error starts with.
	msg := strings.TrimPrefix(answer.Message, verb+": ")
	return fmt.Errorf("%s on %s: %w", verb, c.base.Host, CodeError(answer.Error, msg))
}
