package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
)

// handleUpdates answers the plugin's update check (spec §3). Every protocol
// answer is HTTP 200 with a JSON object; only a body that is not JSON at all
// (400), too large (413) or a registry failure (503) gets another status.
func (s *Server) handleUpdates(w http.ResponseWriter, r *http.Request) {
	bp := bodyPool.Get().(*[]byte)
	defer func() { *bp = (*bp)[:0]; bodyPool.Put(bp) }()
	body, ok := readBody(w, r, s.cfg.MaxBodyBytes, (*bp)[:0])
	if !ok {
		return
	}
	*bp = body
	d, err := DecodeUpdateRequest(body)
	if err != nil {
		badRequest(w, err)
		return
	}
	note(w, d.AppID, d.DeviceID)
	ans, err := s.check(r.Context(), d)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	switch {
	case ans.Manifest:
		noteCode(w, "update_manifest")
		if gz := ans.Release.delta.gzip(); gz != nil && acceptsGzip(r) {
			// OkHttp and iOS's URLSession ask for gzip and inflate it
			// themselves; a manifest of thousands of 512-hex hashes
			// shrinks to about half.
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("Vary", "Accept-Encoding")
			writeJSON(w, http.StatusOK, gz)
			return
		}
	case ans.Release != nil:
		noteCode(w, "update")
	default:
		noteCode(w, ans.Code)
	}
	writeJSON(w, http.StatusOK, ans.JSON())
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (listed without q=0).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q, found := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !found {
				return true
			}
			if f, err := strconv.ParseFloat(q, 64); err == nil && f > 0 {
				return true
			}
		}
	}
	return false
}

// check decides one update check from the cached snapshot.
func (s *Server) check(ctx context.Context, d DeviceInfo) (answer, error) {
	app, err := s.apps.get(ctx, d.AppID)
	if app == nil || err != nil {
		return decide(app, d, ""), err
	}
	override, err := s.apps.overrideOf(ctx, app, d.DeviceID)
	if err != nil {
		return answer{}, err
	}
	return decide(app, d, override), nil
}

// unavailable answers a registry failure without leaking its details to
// the device (they go to the log).
func (s *Server) unavailable(w http.ResponseWriter, err error) {
	s.log.Error("registry failed", "err", err.Error())
	s.noteCorrupt(err)
	noteCode(w, "unavailable")
	w.Header().Set("Retry-After", "10")
	writeJSON(w, http.StatusServiceUnavailable, encodeError(codeUnavailable, "the update server cannot reach its registry; try again later"))
}
