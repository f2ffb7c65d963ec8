package workflow

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// capshipObjectsPath is where a capship server takes uploads, below its
// admin API.
const capshipObjectsPath = "/admin/v1/objects/"

// CapshipStore uploads to the storage of 'capship serve --storage' with an
// admin token. Make one with NewCapshipStore.
type CapshipStore struct {
	base   *url.URL
	token  string
	client *http.Client

	// stallAfter is how long a request may move no bytes (the upload's
	// body, or the answer) before it fails with ErrStalled; 0 is 30 s.
	stallAfter time.Duration

	mu         sync.Mutex
	publicBase string // learnt from the first upload's answer
}

// NewCapshipStore returns a store for the capship server at serverURL
// (https://, or http:// on a loopback host); client nil for a default.
func NewCapshipStore(serverURL, token string, client *http.Client) (*CapshipStore, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(serverURL), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("server url %q: %w: give the capship server's address, e.g. https://updates.example.com", serverURL, ErrBadURL)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return nil, fmt.Errorf("server url %q: %w: the token would travel in plain text; use https://", serverURL, ErrBadURL)
	}
	if token == "" {
		return nil, errors.New("capship server: no admin token")
	}
	if client == nil {
		client = &http.Client{}
	}
	hc := *client
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &CapshipStore{base: u, token: token, client: &hc}, nil
}

// Describe names the server.
func (c *CapshipStore) Describe() string { return c.base.String() }

func (c *CapshipStore) endpoint(key string) string {
	return c.base.String() + capshipObjectsPath + key
}

// statusError is an HTTP answer that is not the one wanted.
type statusError struct {
	status  int
	code    string // the server's error code, if it said one
	message string
}

func (e *statusError) Error() string {
	if e.message != "" {
		return fmt.Sprintf("HTTP %d: %s", e.status, e.message)
	}
	return fmt.Sprintf("HTTP %d %s", e.status, http.StatusText(e.status))
}

func (e *statusError) Unwrap() error {
	switch e.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAccessDenied
	case http.StatusConflict:
		return ErrObjectConflict
	case http.StatusNotFound:
		return ErrObjectMissing
	}
	return nil
}

// Stat asks the server with HEAD what key holds.
func (c *CapshipStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	after := cmp.Or(c.stallAfter, defaultStallTimeout)
	sctx, _, stop := watchStall(ctx, after)
	defer stop()
	resp, err := c.do(sctx, http.MethodHead, key, nil, nil)
	if err != nil {
		if stalled(sctx) {
			return ObjectInfo{}, fmt.Errorf("ask %s for %s: %w: no answer for %v: try again, or check the server", c.base.Host, key, ErrStalled, after)
		}
		return ObjectInfo{}, err
	}
	resp.Body.Close()
	return ObjectInfo{Size: resp.ContentLength, SHA256: strings.ToLower(resp.Header.Get("X-Capship-Sha256"))}, nil
}

// Put streams body to the server, which checks the size and SHA-256 while
// writing and answers with the key's public URL.
// A request that moves no bytes for 30 seconds (the server stops reading
// the body, or does not answer) fails with ErrStalled, which is retried.
func (c *CapshipStore) Put(ctx context.Context, o UploadObject, body io.ReadSeeker, sent func(int64)) error {
	after := cmp.Or(c.stallAfter, defaultStallTimeout)
	sctx, stall, stop := watchStall(ctx, after)
	defer stop()
	var moved atomic.Int64
	counted := &countingReader{r: body, sent: func(n int64) {
		moved.Add(n)
		if sent != nil {
			sent(n)
		}
	}}
	resp, err := c.do(sctx, http.MethodPut, o.Key, &o, stall.Reader(counted))
	if err != nil {
		if n := moved.Load(); stalled(sctx) && n == o.Size {
			return fmt.Errorf("upload %s: %w: all %d bytes sent, and no answer for %v: try again, or check the server", c.endpoint(o.Key), ErrStalled, n, after)
		} else if stalled(sctx) {
			return fmt.Errorf("upload %s: %w: nothing moved for %v after %d of %d bytes: try again, or check the server", c.endpoint(o.Key), ErrStalled, after, n, o.Size)
		}
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		Key    string `json:"key"`
		URL    string `json:"url"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	if err := json.NewDecoder(io.LimitReader(stall.Reader(resp.Body), 64<<10)).Decode(&answer); err != nil {
		if stalled(sctx) {
			return fmt.Errorf("upload %s: %w: the answer stopped coming for %v: try again, or check the server", c.endpoint(o.Key), ErrStalled, after)
		}
		return fmt.Errorf("%s answered HTTP %d without capship's JSON: is it a capship server?", c.base.Host, resp.StatusCode)
	}
	if answer.Size != o.Size || answer.SHA256 != o.SHA256 {
		return fmt.Errorf("the server stored %d bytes with sha256 %s, not the %d bytes sent (sha256 %s)", answer.Size, answer.SHA256, o.Size, o.SHA256)
	}
	base, ok := strings.CutSuffix(answer.URL, "/"+o.Key)
	if !ok {
		return fmt.Errorf("the server's public URL %q does not end in the key %s: is it a capship server?", answer.URL, o.Key)
	}
	c.mu.Lock()
	c.publicBase = base
	c.mu.Unlock()
	return nil
}

// PublicURL is the server's public base, as its last upload answer said,
// "/" key.
func (c *CapshipStore) PublicURL(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.publicBase == "" {
		return "", false
	}
	return c.publicBase + "/" + key, true
}

// Retryable is true for a dropped connection, HTTP 5xx but 507 (a full
// disk stays full) and HTTP 429.
func (c *CapshipStore) Retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.status == http.StatusTooManyRequests || se.status >= 500 && se.status != http.StatusInsufficientStorage
	}
	if isCertError(err) {
		return false
	}
	if errors.Is(err, ErrStalled) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// isCertError reports whether err is a TLS certificate that is not
// trusted: retrying does not help.
func isCertError(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify)
}

// do sends one request; an answer other than 2xx comes back as a
// *statusError with the server's code and message.
func (c *CapshipStore) do(ctx context.Context, method, key string, o *UploadObject, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(key), body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "capship")
	if o != nil {
		req.ContentLength = o.Size
		req.Header.Set("X-Capship-Sha256", o.SHA256)
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	se := &statusError{status: resp.StatusCode}
	var answer struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&answer) == nil {
		se.code, se.message = answer.Error, answer.Message
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		se.message = fmt.Sprintf("%s redirects to %s: give the server's final address (the token is not sent through redirects)", c.base.Host, loc)
	}
	if se.message == "" {
		se.message = capshipStatusHint(resp.StatusCode, c.base.Host)
	}
	return nil, se
}

// capshipStatusHint says what to do about an answer without capship's JSON.
func capshipStatusHint(status int, host string) string {
	switch status {
	case http.StatusUnauthorized:
		return "the server refused the admin token"
	case http.StatusForbidden:
		return "the admin token may not upload for this app: use a token of this app"
	case http.StatusRequestEntityTooLarge, http.StatusLengthRequired:
		return "the server refused the size of the upload: raise its limit"
	case http.StatusInsufficientStorage:
		return "the server's disk is full: free space there"
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return host + " does not take uploads: is it 'capship serve --storage DIR'?"
	}
	return strconv.Itoa(status) + " " + http.StatusText(status)
}
