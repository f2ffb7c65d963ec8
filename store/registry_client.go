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

// maxAdminAnswer bounds what the client reads from the server.
const maxAdminAnswer = 1 << 20

// Client talks to the admin API of a remote `capship serve`, for
// `release register --server`.
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
		return nil, hinted(ErrInvalid, "no admin token: pass --token or set $CAPSHIP_TOKEN (create one on the server with 'capship token create')")
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
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	endpoint := c.base.JoinPath(AdminReleasesPath).String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("register release: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "capship")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("register release: reach %s: %w (is 'capship serve' running there?)", c.base.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswer))
	if err != nil {
		return nil, fmt.Errorf("register release: read answer of %s: %w", c.base.Host, err)
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		return nil, fmt.Errorf("register release: %s redirects to %s: pass the server's final https:// address as --server (the token is not sent through redirects)", c.base.Host, loc)
	}
	if resp.StatusCode == http.StatusCreated {
		var rel Release
		if err := json.Unmarshal(data, &rel); err != nil || rel.Version == "" {
			return nil, fmt.Errorf("register release: %s answered 201 without a release: is it a capship server?", c.base.Host)
		}
		return &rel, nil
	}
	var answer struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &answer) != nil || answer.Error == "" {
		return nil, fmt.Errorf("register release: %s answered HTTP %d %s: is it a capship server (%s)?",
			c.base.Host, resp.StatusCode, http.StatusText(resp.StatusCode), endpoint)
	}
	// The server's message repeats the verb this error already starts with.
	msg := strings.TrimPrefix(answer.Message, "register release: ")
	return nil, fmt.Errorf("register release on %s: %w", c.base.Host, CodeError(answer.Error, msg))
}
