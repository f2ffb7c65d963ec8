package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrBadURL means a bundle URL cannot be given to devices.
var ErrBadURL = errors.New("bad bundle url")

// ValidateBundleURL checks that raw is a URL devices can download a bundle
// from: absolute HTTPS, or plain HTTP on a loopback host (127.0.0.0/8, ::1,
// localhost), which is accepted with a warning for local testing.
func ValidateBundleURL(raw string) (u *url.URL, warning string, err error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, "", fmt.Errorf("%w: empty; paste the https:// address of the uploaded file", ErrBadURL)
	}
	u, err = url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, "", fmt.Errorf("%w: %q is not an absolute URL; it must start with https://", ErrBadURL, raw)
	}
	if u.User != nil {
		return nil, "", fmt.Errorf("%w: it contains a user name or password, which every device would receive; use a link that needs no credentials", ErrBadURL)
	}
	if u.Fragment != "" {
		return nil, "", fmt.Errorf("%w: it has a #fragment, which is never sent to the server; remove it", ErrBadURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u, "", nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return u, "plain HTTP on a loopback host: fine for local testing, but devices need an HTTPS URL", nil
		}
		return nil, "", fmt.Errorf("%w: devices require HTTPS; use an https:// URL (plain http is only accepted for 127.0.0.1, ::1 and localhost)", ErrBadURL)
	default:
		return nil, "", fmt.Errorf("%w: scheme %q is not supported; use an https:// URL", ErrBadURL, u.Scheme)
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// URLCheck is what capship found when it downloaded a hosted bundle back.
type URLCheck struct {
	URL         string   `json:"url"`       // the URL as given
	FinalURL    string   `json:"final_url"` // after redirects
	Status      int      `json:"status"`    // HTTP status of the final response
	ContentType string   `json:"content_type"`
	Size        int64    `json:"size"` // bytes received (capped at WantSize+1)
	WantSize    int64    `json:"want_size"`
	SHA256      string   `json:"sha256"` // of the bytes received; empty when the download was cut short
	WantSHA256  string   `json:"want_sha256"`
	Problems    []string `json:"problems"` // what differs, one sentence each; empty when the hosted file matches
}

// OK reports whether the hosted bytes are exactly the built ones.
func (c *URLCheck) OK() bool { return len(c.Problems) == 0 }

// CheckURL downloads rawURL and compares its size and SHA-256 with the
// built file's. It streams the body through the hash and reads at most one
// byte more than wantSize. Mismatches are reported in URLCheck.Problems;
// the error is only for URLs that cannot be fetched at all, and wraps
// ErrStalled when nothing arrives for 30 seconds.
func CheckURL(ctx context.Context, client *http.Client, rawURL string, wantSize int64, wantSHA256 string, report Reporter) (*URLCheck, error) {
	return checkURL(ctx, client, rawURL, wantSize, wantSHA256, report, defaultStallTimeout)
}

// checkURL is CheckURL with the stall timeout given.
func checkURL(ctx context.Context, client *http.Client, rawURL string, wantSize int64, wantSHA256 string, report Reporter, stallAfter time.Duration) (*URLCheck, error) {
	if _, _, err := ValidateBundleURL(rawURL); err != nil {
		return nil, err
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	if report == nil {
		report = func(Event) {}
	}
	check := &URLCheck{URL: rawURL, WantSize: wantSize, WantSHA256: strings.ToLower(wantSHA256)}
	reqCtx, stall, stopStall := watchStall(ctx, stallAfter)
	defer stopStall()
	stallErr := func(received int64) error {
		return fmt.Errorf("download bundle: %w: nothing arrived from %s for %v after %d bytes: try again, or check the storage", ErrStalled, check.URL, stallAfter, received)
	}
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, strings.TrimSpace(rawURL), nil)
	if err != nil {
		return nil, fmt.Errorf("download bundle: %w", err)
	}
	req.Header.Set("User-Agent", "capship")
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if stalled(reqCtx) {
			return nil, stallErr(0)
		}
		return nil, fmt.Errorf("download bundle: %w (check the address and that the server is reachable from here)", err)
	}
	defer resp.Body.Close()
	final := resp.Request.URL
	check.FinalURL = final.String()
	check.Status = resp.StatusCode
	check.ContentType = resp.Header.Get("Content-Type")
	if !strings.EqualFold(final.Scheme, "https") && !isLoopbackHost(final.Hostname()) {
		check.Problems = append(check.Problems, fmt.Sprintf("the URL redirects to plain http (%s), which devices refuse to download: use an address that stays on https", final.Redacted()))
	}

	if resp.StatusCode != http.StatusOK {
		check.Problems = append(check.Problems, statusProblem(resp.StatusCode))
		report(Event{Phase: PhaseDone})
		return check, nil
	}
	h := sha256.New()
	counter := &progressWriter{report: report, total: wantSize}
	n, err := io.Copy(io.MultiWriter(h, counter), io.LimitReader(stall.Reader(resp.Body), wantSize+1))
	check.Size = n
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if stalled(reqCtx) {
			return nil, stallErr(n)
		}
		return nil, fmt.Errorf("download bundle: connection broke after %d bytes: %w", n, err)
	}
	report(Event{Phase: PhaseDone, Bytes: n, TotalBytes: wantSize})
	switch {
	case n > wantSize:
		check.Problems = append(check.Problems, fmt.Sprintf("the hosted file is larger than the built one (%d bytes); upload the file capship built, unchanged", wantSize))
	case n < wantSize:
		check.Problems = append(check.Problems, fmt.Sprintf("the hosted file has %d bytes, the built one %d: the upload is incomplete or a different file", n, wantSize))
	default:
		check.SHA256 = hex.EncodeToString(h.Sum(nil))
		if check.SHA256 != check.WantSHA256 {
			check.Problems = append(check.Problems, "the hosted file has the same size but different bytes (its SHA-256 differs): upload the file capship built again")
		}
	}
	if !check.OK() {
		if mt, _, _ := mime.ParseMediaType(check.ContentType); mt == "text/html" {
			check.Problems = append(check.Problems, "the server answered with an HTML page: the link may be a sharing or login page rather than a direct download link")
		}
		if resp.Header.Get("Content-Encoding") != "" {
			check.Problems = append(check.Problems, fmt.Sprintf("the server re-encodes the file (Content-Encoding: %s); serve it as-is", resp.Header.Get("Content-Encoding")))
		}
	}
	return check, nil
}

func statusProblem(code int) string {
	msg := fmt.Sprintf("the server answered HTTP %d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusNotFound:
		return msg + ": the file is not at that address; check the path or finish the upload"
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return msg + ": the file is not public; devices download it without credentials, so make it publicly readable"
	case code >= 500:
		return msg + ": the storage server failed; try again in a moment"
	default:
		return msg + ": devices need a plain 200 answer with the file"
	}
}

// progressWriter counts bytes and reports PhaseDownload events.
type progressWriter struct {
	report Reporter
	total  int64
	n      int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	p.report(Event{Phase: PhaseDownload, Bytes: p.n, TotalBytes: p.total})
	return len(b), nil
}
