package server

import (
	"net/http"
	"strings"
	"time"

	"capship/store"
)

// The admin API's reads of one release, one channel, a channel's history
// and the stats, and its channel changes: what store.Client needs to be a
// store.Manager. Each is token-scoped as the others: a token bound to an
// app sees and changes only that app.

// adminGet answers GET …?app_id=A with what get returns for the request.
func adminGet[T any](s *Server, get func(r *http.Request, appID string) (T, error)) adminHandler {
	return func(w http.ResponseWriter, r *http.Request, tok *store.Token) {
		appID := r.URL.Query().Get("app_id")
		if !s.allowed(w, tok, appID) {
			return
		}
		v, err := get(r, appID)
		if err != nil {
			s.adminFail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, mustJSON(v))
	}
}

func (s *Server) adminRelease(r *http.Request, appID string) (*store.Release, error) {
	return s.reg.Release(r.Context(), appID, r.PathValue("version"))
}

func (s *Server) adminReleaseFiles(r *http.Request, appID string) ([]store.ReleaseFile, error) {
	files, err := s.reg.ReleaseFiles(r.Context(), appID, r.PathValue("version"))
	if files == nil && err == nil {
		files = []store.ReleaseFile{}
	}
	return files, err
}

func (s *Server) adminChannel(r *http.Request, appID string) (*store.Channel, error) {
	return s.reg.Channel(r.Context(), appID, r.PathValue("name"))
}

func (s *Server) adminHistory(r *http.Request, appID string) ([]store.HistoryEntry, error) {
	h, err := s.reg.History(r.Context(), appID, r.PathValue("name"))
	if h == nil && err == nil {
		h = []store.HistoryEntry{}
	}
	return h, err
}

// adminStats reads since (RFC 3339; omitted: every event) from the query.
// A "+02:00" offset sent unescaped arrives as " 02:00" and is read as meant.
func (s *Server) adminStats(r *http.Request, appID string) ([]store.ReleaseStats, error) {
	var since time.Time
	if v := strings.ReplaceAll(r.URL.Query().Get("since"), " ", "+"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return nil, store.CodeError("invalid", "since "+v+" is not an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		since = t
	}
	st, err := s.reg.Stats(r.Context(), appID, since)
	if st == nil && err == nil {
		st = []store.ReleaseStats{}
	}
	return st, err
}

// channelCreate is the body of POST /admin/v1/channels: the settings
// given are applied over store.DefaultChannelSettings.
type channelCreate struct {
	AppID string `json:"app_id"`
	Name  string `json:"name"`
	store.ChannelSettings
}

// channelUpdate is the body of PATCH /admin/v1/channels/{name}: only the
// settings given change.
type channelUpdate struct {
	AppID string `json:"app_id"`
	store.ChannelSettings
}

func (s *Server) adminCreateChannel(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	var in channelCreate
	if !s.decodeAdmin(w, r, &in) || !s.allowed(w, tok, in.AppID) {
		return
	}
	if in.Name == "" {
		adminError(w, http.StatusBadRequest, "invalid", "name is required")
		return
	}
	ch, err := s.reg.CreateChannel(r.Context(), in.AppID, in.Name, in.ChannelSettings)
	if err != nil {
		s.adminFail(w, err)
		return
	}
	s.apps.invalidate(in.AppID)
	s.log.Info("channel created", "app_id", in.AppID, "channel", in.Name, "token", tok.Name)
	writeJSON(w, http.StatusCreated, mustJSON(ch))
}

func (s *Server) adminUpdateChannel(w http.ResponseWriter, r *http.Request, tok *store.Token) {
	var in channelUpdate
	if !s.decodeAdmin(w, r, &in) || !s.allowed(w, tok, in.AppID) {
		return
	}
	name := r.PathValue("name")
	ch, err := s.reg.UpdateChannel(r.Context(), in.AppID, name, in.ChannelSettings)
	if err != nil {
		s.adminFail(w, err)
		return
	}
	s.apps.invalidate(in.AppID)
	s.log.Info("channel changed", "app_id", in.AppID, "channel", name, "token", tok.Name)
	writeJSON(w, http.StatusOK, mustJSON(ch))
}
