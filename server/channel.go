package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"capship/store"
)

// Channel answers (spec §4), in the shapes the plugin decodes: the iOS
// plugin reads {status, error, message, unset} for set, {channel, status,
// error, message, allowSet} for get, and a bare array of {id, name, public,
// allow_self_set} (id a number) for list.
const (
	codeChannelNotFound  = "channel_not_found"
	codeMissingChannel   = "missing_channel"
	codeSelfSetDenied    = "channel_set_from_plugin_not_allowed"
	codeCannotOverride   = "cannot_override"
	codeChannelPlatform  = "channel_platform_not_allowed"
	codeChannelEmulator  = "channel_emulator_not_allowed"
	codeChannelDevBuild  = "channel_dev_build_not_allowed"
	codeTooManyOverrides = "too_many_overrides" // the app reached serve --max-overrides
	statusOverride       = "override"
	statusDefault        = "default"
	messageChannelSet    = "channel set"
	messageChannelUnset  = "channel override removed"
	messageNoOverrideSet = "no channel override to remove"
)

type channelGetBody struct {
	Channel  string `json:"channel"`
	Status   string `json:"status"`
	AllowSet bool   `json:"allowSet"`
}

type channelSetBody struct {
	Status  string `json:"status"`
	Channel string `json:"channel,omitempty"`
	Message string `json:"message"`
}

type channelListItem struct {
	ID           int64  `json:"id"`
	Name         string `json:"name"`
	Public       bool   `json:"public"`
	AllowSelfSet bool   `json:"allow_self_set"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// deviceRequest reads and decodes a channel_self body.
func (s *Server) deviceRequest(w http.ResponseWriter, r *http.Request) (DeviceInfo, *appSnapshot, bool) {
	body, ok := readBody(w, r, s.cfg.MaxBodyBytes, nil)
	if !ok {
		return DeviceInfo{}, nil, false
	}
	var d DeviceInfo
	var err error
	if len(body) == 0 && r.Method == http.MethodDelete {
		// older plugins send DELETE with the fields in the query
		d, err = DecodeQuery(r.URL.Query().Get)
		if err == nil && d.DeviceID == "" {
			err = fmt.Errorf("%w: device_id is missing", errBadRequest)
		}
	} else {
		d, err = DecodeUpdateRequest(body)
	}
	if err != nil {
		badRequest(w, err)
		return DeviceInfo{}, nil, false
	}
	app, ok := s.knownApp(w, r, d)
	return d, app, ok
}

// knownApp returns the snapshot of the device's app, or answers for it
// (registry down, app unknown) and returns false.
func (s *Server) knownApp(w http.ResponseWriter, r *http.Request, d DeviceInfo) (*appSnapshot, bool) {
	note(w, d.AppID, d.DeviceID)
	app, err := s.apps.get(r.Context(), d.AppID)
	if err != nil {
		s.unavailable(w, err)
		return nil, false
	}
	if app == nil {
		s.refuse(w, codeAppNotFound, fmt.Sprintf("app %s is not registered on this server", d.AppID))
		return nil, false
	}
	return app, true
}

func (s *Server) refuse(w http.ResponseWriter, code, msg string) {
	noteCode(w, code)
	writeJSON(w, http.StatusOK, encodeError(code, msg))
}

// channelRequest is a decoded channel_self request with the device's
// current override, read from the registry itself (not the cache):
// channel_self is rare and must see its own writes.
type channelRequest struct {
	d        DeviceInfo
	app      *appSnapshot
	override *channel // nil: none
}

func (s *Server) channelRequest(w http.ResponseWriter, r *http.Request) (*channelRequest, bool) {
	d, app, ok := s.deviceRequest(w, r)
	if !ok {
		return nil, false
	}
	req := &channelRequest{d: d, app: app}
	ov, err := s.reg.DeviceChannel(r.Context(), app.ID, d.DeviceID)
	if err == nil {
		req.override, err = s.findChannel(r, app, ov.Channel)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.unavailable(w, err)
		return nil, false
	}
	return req, true
}

// findChannel returns the named channel (nil when it does not exist), also
// one created after the snapshot was taken.
func (s *Server) findChannel(r *http.Request, app *appSnapshot, name string) (*channel, error) {
	if ch := app.channel(name); ch != nil {
		return ch, nil
	}
	c, err := s.reg.Channel(r.Context(), app.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return fromStoreChannel(c), nil
}

// handleChannelGet (PUT) tells the device which channel it is on.
func (s *Server) handleChannelGet(w http.ResponseWriter, r *http.Request) {
	req, ok := s.channelRequest(w, r)
	if !ok {
		return
	}
	if ov := req.override; ov != nil {
		noteCode(w, statusOverride)
		writeJSON(w, http.StatusOK, mustJSON(channelGetBody{Channel: ov.Name, Status: statusOverride, AllowSet: ov.AllowSelfSet}))
		return
	}
	// the cache's list may be stale; the registry said none
	ch, ans, found := chooseChannel(req.app, req.d, "")
	if !found {
		s.refuse(w, codeChannelNotFound, ans.Message)
		return
	}
	noteCode(w, statusDefault)
	writeJSON(w, http.StatusOK, mustJSON(channelGetBody{Channel: ch.Name, Status: statusDefault, AllowSet: ch.AllowSelfSet}))
}

// handleChannelSet (POST) lets a device move itself to a channel that
// allows it and serves it.
func (s *Server) handleChannelSet(w http.ResponseWriter, r *http.Request) {
	req, ok := s.channelRequest(w, r)
	if !ok {
		return
	}
	d, app := req.d, req.app
	if d.Channel == "" {
		s.refuse(w, codeMissingChannel, "the request names no channel")
		return
	}
	if ov := req.override; ov != nil && !ov.AllowSelfSet {
		s.refuse(w, codeCannotOverride, fmt.Sprintf("this device was put on channel %s by an operator; it cannot move itself", ov.Name))
		return
	}
	target, err := s.findChannel(r, app, d.Channel)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	if target == nil {
		s.refuse(w, codeChannelNotFound, fmt.Sprintf("channel %s does not exist", d.Channel))
		return
	}
	if code, msg := selfSetRefusal(target, d); code != "" {
		s.refuse(w, code, msg)
		return
	}
	// The override sequence this write raises tells every instance's
	// cache, this one's too, to read the device's override afresh; the
	// app's snapshot stays.
	err = s.reg.SetDeviceChannel(r.Context(), app.ID, d.DeviceID, target.Name, true, s.cfg.MaxOverrides)
	switch {
	case errors.Is(err, store.ErrTooManyOverrides):
		s.log.Warn("device channel override refused: the app has as many as --max-overrides allows", "app_id", app.ID, "max", s.cfg.MaxOverrides)
		s.refuse(w, codeTooManyOverrides, fmt.Sprintf("app %s has as many device channel overrides as this server allows; try again later", app.ID))
		return
	case errors.Is(err, store.ErrSelfSetDenied):
		s.refuse(w, codeSelfSetDenied, fmt.Sprintf("channel %s does not allow devices to choose it", target.Name))
		return
	case errors.Is(err, store.ErrNotFound):
		s.refuse(w, codeChannelNotFound, fmt.Sprintf("channel %s does not exist", target.Name))
		return
	case err != nil:
		s.unavailable(w, err)
		return
	}
	noteCode(w, "ok")
	writeJSON(w, http.StatusOK, mustJSON(channelSetBody{Status: "ok", Channel: target.Name, Message: messageChannelSet}))
}

// selfSetRefusal says why a device may not pick a channel ("" when it may).
func selfSetRefusal(ch *channel, d DeviceInfo) (code, msg string) {
	switch {
	case !ch.AllowSelfSet:
		return codeSelfSetDenied, fmt.Sprintf("channel %s does not allow devices to choose it", ch.Name)
	case !platformOK(ch, d.Platform):
		return codeChannelPlatform, fmt.Sprintf("channel %s does not serve %s devices", ch.Name, d.Platform)
	case d.IsEmulator && !ch.AllowEmulator:
		return codeChannelEmulator, fmt.Sprintf("channel %s does not serve emulators", ch.Name)
	case !d.IsProd && !ch.AllowDev:
		return codeChannelDevBuild, fmt.Sprintf("channel %s does not serve development builds", ch.Name)
	}
	return "", ""
}

func platformOK(ch *channel, platform string) bool {
	ok, _ := ch.allows(platform)
	return ok
}

// handleChannelUnset (DELETE) removes a device's own override.
func (s *Server) handleChannelUnset(w http.ResponseWriter, r *http.Request) {
	req, ok := s.channelRequest(w, r)
	if !ok {
		return
	}
	ov, app := req.override, req.app
	if ov == nil {
		noteCode(w, "ok")
		writeJSON(w, http.StatusOK, mustJSON(channelSetBody{Status: "ok", Message: messageNoOverrideSet}))
		return
	}
	if !ov.AllowSelfSet {
		s.refuse(w, codeCannotOverride, fmt.Sprintf("this device was put on channel %s by an operator; it cannot leave it itself", ov.Name))
		return
	}
	if err := s.reg.UnsetDeviceChannel(r.Context(), app.ID, req.d.DeviceID); err != nil {
		s.unavailable(w, err)
		return
	}
	noteCode(w, "ok")
	writeJSON(w, http.StatusOK, mustJSON(channelSetBody{Status: "ok", Message: messageChannelUnset}))
}

// handleChannelList (GET) lists the channels this device could be on: the
// public ones and those it may choose, that serve its platform and kind of
// build.
func (s *Server) handleChannelList(w http.ResponseWriter, r *http.Request) {
	d, err := DecodeQuery(r.URL.Query().Get)
	if err != nil {
		badRequest(w, err)
		return
	}
	app, ok := s.knownApp(w, r, d)
	if !ok {
		return
	}
	list := make([]channelListItem, 0, len(app.Channels))
	for _, ch := range app.Channels {
		if !ch.Public && !ch.AllowSelfSet {
			continue
		}
		if d.Platform != "" && !platformOK(ch, d.Platform) {
			continue
		}
		if (d.IsEmulator && !ch.AllowEmulator) || (!d.IsProd && !ch.AllowDev) {
			continue
		}
		list = append(list, channelListItem{ID: ch.ID, Name: ch.Name, Public: ch.Public, AllowSelfSet: ch.AllowSelfSet})
	}
	noteCode(w, "list")
	writeJSON(w, http.StatusOK, mustJSON(list))
}
