package server

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"capship/store"
)

// Admin API, version 1. Every request carries `Authorization: Bearer TOKEN`
// with a token from `capship token create`; a token bound to an app may only
// act on that app. Answers are JSON; failures are 4xx/5xx with
// {"error": code, "message": …}, code one of store.ErrorCode's.
//
//	POST /admin/v1/releases             body store.RegisterInput  -> 201 store.Release
//	GET  /admin/v1/releases?app_id=A                              -> 200 [store.Release]
//	GET  /admin/v1/channels?app_id=A                              -> 200 [store.Channel]
//	POST /admin/v1/channels/promote     {app_id, channel, version} -> 200 store.Channel
//	POST /admin/v1/channels/rollback    {app_id, channel}          -> 200 store.Channel
//	GET  /admin/v1/releases/{version}?app_id=A                    -> 200 store.Release
//	GET  /admin/v1/releases/{version}/files?app_id=A              -> 200 [store.ReleaseFile]
//	POST /admin/v1/channels             {app_id, name, settings…}  -> 201 store.Channel
//	PATCH /admin/v1/channels/{name}     {app_id, settings…}        -> 200 store.Channel
//	GET  /admin/v1/channels/{name}?app_id=A                       -> 200 store.Channel
//	GET  /admin/v1/channels/{name}/history?app_id=A               -> 200 [store.HistoryEntry]
//	GET  /admin/v1/stats?app_id=A[&since=RFC3339]                 -> 200 [store.ReleaseStats]
//
// Settings are store.ChannelSettings' fields (rollout, public, …); a
// PATCH changes only the fields it names.
func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /admin/v1/releases", s.admin(s.adminRegister))
	mux.HandleFunc("GET /admin/v1/releases", s.admin(adminList(s, s.reg.Releases)))
	mux.HandleFunc("GET /admin/v1/channels", s.admin(adminList(s, s.reg.Channels)))
	mux.HandleFunc("POST /admin/v1/channels/promote", s.admin(s.adminPromote))
	mux.HandleFunc("POST /admin/v1/channels/rollback", s.admin(s.adminRollback))
	mux.HandleFunc("GET /admin/v1/releases/{version}", s.admin(adminGet(s, s.adminRelease)))
	mux.HandleFunc("GET /admin/v1/releases/{version}/files", s.admin(adminGet(s, s.adminReleaseFiles)))
	mux.HandleFunc("POST /admin/v1/channels", s.admin(s.adminCreateChannel))
	mux.HandleFunc("PATCH /admin/v1/channels/{name}", s.admin(s.adminUpdateChannel))
	mux.HandleFunc("GET /admin/v1/channels/{name}", s.admin(adminGet(s, s.adminChannel)))
	mux.HandleFunc("GET /admin/v1/channels/{name}/history", s.admin(adminGet(s, s.adminHistory)))
	mux.HandleFunc("GET /admin/v1/stats", s.admin(adminGet(s, s.adminStats)))
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "not_found", "no such admin endpoint: see 'Admin API' in the README")
	})
}

type adminHandler func(w http.ResponseWriter, r *http.Request, tok *store.Token)

// admin authenticates the bearer token before calling h.
func (s *Server) admin(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="capship"`)
			adminError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer TOKEN with an admin token of this server")
			return
		}
		tok, err := s.reg.Authenticate(r.Context(), secret)
		if errors.Is(err, store.ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="capship", error="invalid_token"`)
			adminError(w, http.StatusUnauthorized, "unauthorized", store.ErrUnauthorized.Error())
			return
		}
		if err != nil {
			s.log.Error("authenticate token", "err", err.Error())
			adminError(w, http.StatusServiceUnavailable, "internal", "the server cannot reach its registry; try again later")
			return
		}
		h(w, r, tok)
	}
}

func bearer(h string) (string, bool) {
	scheme, secret, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	secret = strings.TrimSpace(secret)
	return secret, secret != ""
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	noteCode(w, code)
	writeJSON(w, status, encodeRefusal(code, "", msg)) // no kind: the admin API is not the plugin's
}

// adminFail maps a registry error to a status and the store's error code.
func (s *Server) adminFail(w http.ResponseWriter, err error) {
	code := store.ErrorCode(err)
	status := http.StatusInternalServerError
	switch code {
	case "invalid":
		status = http.StatusBadRequest
	case "not_found":
		status = http.StatusNotFound
	case "duplicate_version", "duplicate_bundle", "version_not_newer", "key_mismatch", "nothing_to_roll_back", "duplicate_channel", "native_change":
		status = http.StatusConflict
	case "unauthorized":
		status = http.StatusUnauthorized
	case "forbidden", "self_set_denied":
		status = http.StatusForbidden
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		s.log.Error("admin request failed", "err", msg)
		msg = "internal error; the server log has the details"
	}
	adminError(w, status, code, msg)
}

// decodeAdmin reads a strict JSON body: unknown fields are refused so that
// a typo in a client is an error, not a silently ignored setting.
func (s *Server) decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := readBody(w, r, s.cfg.MaxAdminBodyBytes, nil)
	if !ok {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, "invalid", "request body: "+jsonProblem(err))
		return false
	}
	if dec.More() {
		adminError(w, http.StatusBadRequest, "invalid", "request body: more than one JSON value")
		return false
	}
	return true
}

// jsonProblem says what is wrong with a request body in the words of the
// JSON a client sends (field names, JSON types), never Go's.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value)
		}
		return fmt.Sprintf("%s must be %s, not %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(syntaxErr.Error(), "json: "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case errors.Is(err, io.EOF):
		return "empty; send a JSON object"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// jsonKind names the JSON value that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string" // times, for example
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

func (s *Server) allowed(w http.ResponseWriter, tok *store.Token, appID string) bool {
	if appID == "" {
		adminError(w, http.StatusBadRequest, "invalid", "app_id is missing")
		return false
	}
	note(w, appID, "")
	if !tok.Allows(appID) {
		adminError(w, http.StatusForbidden, store.ErrorCode(store.ErrForbidden), fmt.Sprintf("token %q may only act on app %s", tok.Name, tok.AppID))
		return false
	}
	return true
}

// adminRegisterTimeout is how long a registration may take to arrive and
// be answered: a release with files is a large body (about 11 MB for
// 15,000 files), which the ReadTimeout meant for device requests would cut.
const adminRegisterTimeout = 5 * time.Minute

func (s *Server) adminRegister(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	// Only an authenticated client gets here. Not every connection can
	// move its deadlines (then the server's own stay).
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(adminRegisterTimeout)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)
	var in store.RegisterInput
	if !s.decodeAdmin(w, r, &in) || !s.allowed(w, tok, in.AppID) {
		return
	}
	rel, err := s.reg.Register(r.Context(), in)
	if err != nil {
		s.adminFail(w, err)
		return
	}
	s.apps.invalidate(in.AppID)
	s.log.Info("release registered", "app_id", rel.AppID, "version", rel.Version, "channel", in.Channel, "token", tok.Name)
	noteCode(w, "registered")
	writeJSON(w, http.StatusCreated, mustJSON(rel))
}

// adminList answers GET …?app_id=A with one of the registry's lists (an
// empty JSON array, never null).
func adminList[T any](s *Server, list func(ctx context.Context, appID string) ([]T, error)) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, tok *store.Token) {
		appID := r.URL.Query().Get("app_id")
		if !s.allowed(w, tok, appID) {
			return
		}
		items, err := list(r.Context(), appID)
		if err != nil {
			s.adminFail(w, err)
			return
		}
		if items == nil {
			items = []T{}
		}
		writeJSON(w, http.StatusOK, mustJSON(items))
	}
}

type channelMove struct {
	AppID   string `json:"app_id"`
	Channel string `json:"channel"`
	Version string `json:"version,omitempty"`
}

func (s *Server) adminPromote(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	var in channelMove
	if !s.decodeAdmin(w, r, &in) || !s.allowed(w, tok, in.AppID) {
		return
	}
	if in.Channel == "" || in.Version == "" {
		adminError(w, http.StatusBadRequest, "invalid", "channel and version are required")
		return
	}
	ch, err := s.reg.Promote(r.Context(), in.AppID, in.Channel, in.Version)
	if err != nil {
		s.adminFail(w, err)
		return
	}
	s.apps.invalidate(in.AppID)
	s.log.Info("release promoted", "app_id", in.AppID, "version", in.Version, "channel", in.Channel, "token", tok.Name)
	writeJSON(w, http.StatusOK, mustJSON(ch))
}

func (s *Server) adminRollback(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	var in channelMove
	if !s.decodeAdmin(w, r, &in) || !s.allowed(w, tok, in.AppID) {
		return
	}
	if in.Channel == "" {
		adminError(w, http.StatusBadRequest, "invalid", "channel is required")
		return
	}
	ch, err := s.reg.Rollback(r.Context(), in.AppID, in.Channel)
	if err != nil {
		s.adminFail(w, err)
		return
	}
	s.apps.invalidate(in.AppID)
	s.log.Info("channel rolled back", "app_id", in.AppID, "channel", in.Channel, "token", tok.Name)
	writeJSON(w, http.StatusOK, mustJSON(ch))
}
