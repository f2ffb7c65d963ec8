package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// DeviceInfo is what @capgo/capacitor-updater sends about itself with every
// request to updateUrl, statsUrl and channelUrl (spec §3). Plugin versions
// differ in how strictly they type these fields, so decoding is tolerant:
// strings may arrive as numbers, booleans as strings, and null means absent.
type DeviceInfo struct {
	Platform       string
	DeviceID       string
	AppID          string
	CustomID       string
	PluginVersion  string
	VersionBuild   string // native app version name, e.g. "1.4.0"
	VersionCode    string // native build number
	VersionName    string // current bundle version, or "builtin"
	VersionOS      string
	IsEmulator     bool
	IsProd         bool
	DefaultChannel string
	KeyID          string
	InstallSource  string
	Channel        string // channel_self POST only
}

// StatsEvent is one event sent to statsUrl: the device fields plus what
// happened.
type StatsEvent struct {
	DeviceInfo
	Action         string
	OldVersionName string
	Timestamp      int64 // milliseconds since the epoch, as the device saw it; 0 when absent
}

// Limits on what a device may send. Real values are far shorter; the limits
// keep a hostile client from filling the registry.
const (
	maxFieldLen    = 256
	maxDeviceIDLen = 128
	maxStatsEvents = 500
)

// errBadRequest marks a request body that is not what the plugin sends.
var errBadRequest = errors.New("bad request")

// wireDevice mirrors the JSON keys; every value is decoded loosely.
type wireDevice struct {
	Platform       looseString `json:"platform"`
	DeviceID       looseString `json:"device_id"`
	AppID          looseString `json:"app_id"`
	CustomID       looseString `json:"custom_id"`
	PluginVersion  looseString `json:"plugin_version"`
	VersionBuild   looseString `json:"version_build"`
	VersionCode    looseString `json:"version_code"`
	VersionName    looseString `json:"version_name"`
	VersionOS      looseString `json:"version_os"`
	IsEmulator     looseBool   `json:"is_emulator"`
	IsProd         looseBool   `json:"is_prod"`
	DefaultChannel looseString `json:"defaultChannel"`
	KeyID          looseString `json:"key_id"`
	InstallSource  looseString `json:"install_source"`
	Channel        looseString `json:"channel"`

	// stats only
	Action         looseString `json:"action"`
	OldVersionName looseString `json:"old_version_name"`
	Timestamp      looseInt    `json:"timestamp"`
}

func (w *wireDevice) device() DeviceInfo {
	d := DeviceInfo{
		Platform:       strings.ToLower(strings.TrimSpace(w.Platform.v)),
		DeviceID:       strings.ToLower(strings.TrimSpace(w.DeviceID.v)),
		AppID:          strings.TrimSpace(w.AppID.v),
		CustomID:       w.CustomID.v,
		PluginVersion:  strings.TrimSpace(w.PluginVersion.v),
		VersionBuild:   strings.TrimSpace(w.VersionBuild.v),
		VersionCode:    strings.TrimSpace(w.VersionCode.v),
		VersionName:    strings.TrimSpace(w.VersionName.v),
		VersionOS:      strings.TrimSpace(w.VersionOS.v),
		IsEmulator:     w.IsEmulator.v,
		IsProd:         true, // Capgo's default when the field is missing
		DefaultChannel: strings.TrimSpace(w.DefaultChannel.v),
		KeyID:          strings.TrimSpace(w.KeyID.v),
		InstallSource:  strings.TrimSpace(w.InstallSource.v),
		Channel:        strings.TrimSpace(w.Channel.v),
	}
	if w.IsProd.set {
		d.IsProd = w.IsProd.v
	}
	return d
}

// check validates what every device request must carry.
func (d *DeviceInfo) check() error {
	switch {
	case d.AppID == "":
		return fmt.Errorf("%w: app_id is missing", errBadRequest)
	case d.DeviceID == "":
		return fmt.Errorf("%w: device_id is missing", errBadRequest)
	case len(d.DeviceID) > maxDeviceIDLen:
		return fmt.Errorf("%w: device_id is longer than %d characters", errBadRequest, maxDeviceIDLen)
	}
	for _, f := range []struct{ name, v string }{
		{"app_id", d.AppID}, {"custom_id", d.CustomID}, {"platform", d.Platform},
		{"plugin_version", d.PluginVersion}, {"version_build", d.VersionBuild},
		{"version_code", d.VersionCode}, {"version_name", d.VersionName},
		{"version_os", d.VersionOS}, {"defaultChannel", d.DefaultChannel},
		{"key_id", d.KeyID}, {"install_source", d.InstallSource}, {"channel", d.Channel},
	} {
		if len(f.v) > maxFieldLen {
			return fmt.Errorf("%w: %s is longer than %d characters", errBadRequest, f.name, maxFieldLen)
		}
	}
	return nil
}

// typedDevice is the body as current plugins type it. Decoding into plain
// Go types is several times faster than the loose decoders, so it is tried
// first; a body that does not fit it falls back to wireDevice.
type typedDevice struct {
	Platform       string `json:"platform"`
	DeviceID       string `json:"device_id"`
	AppID          string `json:"app_id"`
	CustomID       string `json:"custom_id"`
	PluginVersion  string `json:"plugin_version"`
	VersionBuild   string `json:"version_build"`
	VersionCode    string `json:"version_code"`
	VersionName    string `json:"version_name"`
	VersionOS      string `json:"version_os"`
	IsEmulator     *bool  `json:"is_emulator"`
	IsProd         *bool  `json:"is_prod"`
	DefaultChannel string `json:"defaultChannel"`
	KeyID          string `json:"key_id"`
	InstallSource  string `json:"install_source"`
	Channel        string `json:"channel"`
}

func (t *typedDevice) wire() wireDevice {
	w := wireDevice{
		Platform: looseString{t.Platform}, DeviceID: looseString{t.DeviceID}, AppID: looseString{t.AppID},
		CustomID: looseString{t.CustomID}, PluginVersion: looseString{t.PluginVersion},
		VersionBuild: looseString{t.VersionBuild}, VersionCode: looseString{t.VersionCode},
		VersionName: looseString{t.VersionName}, VersionOS: looseString{t.VersionOS},
		DefaultChannel: looseString{t.DefaultChannel}, KeyID: looseString{t.KeyID},
		InstallSource: looseString{t.InstallSource}, Channel: looseString{t.Channel},
	}
	if t.IsEmulator != nil {
		w.IsEmulator = looseBool{v: *t.IsEmulator, set: true}
	}
	if t.IsProd != nil {
		w.IsProd = looseBool{v: *t.IsProd, set: true}
	}
	return w
}

// DecodeUpdateRequest parses the body the plugin POSTs to updateUrl (and
// PUT/POST/DELETE to channelUrl). Unknown fields are ignored; app_id and
// device_id are required.
func DecodeUpdateRequest(body []byte) (DeviceInfo, error) {
	var w wireDevice
	var t typedDevice
	if err := json.Unmarshal(body, &t); err == nil {
		w = t.wire()
	} else if err := json.Unmarshal(body, &w); err != nil {
		return DeviceInfo{}, fmt.Errorf("%w: body is not a JSON object: %s", errBadRequest, jsonProblem(err))
	}
	d := w.device()
	if err := d.check(); err != nil {
		return DeviceInfo{}, err
	}
	return d, nil
}

// DecodeStats parses a statsUrl body: current plugins send a JSON array of
// events (batched, at most 200), older ones a single object.
func DecodeStats(body []byte) ([]StatsEvent, error) {
	body = bytes.TrimSpace(body)
	var wires []wireDevice
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &wires); err != nil {
			return nil, fmt.Errorf("%w: body is not a JSON array of events: %s", errBadRequest, jsonProblem(err))
		}
	} else {
		var w wireDevice
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, fmt.Errorf("%w: body is not a JSON object: %s", errBadRequest, jsonProblem(err))
		}
		wires = []wireDevice{w}
	}
	if len(wires) > maxStatsEvents {
		return nil, fmt.Errorf("%w: %d events in one request (at most %d)", errBadRequest, len(wires), maxStatsEvents)
	}
	events := make([]StatsEvent, 0, len(wires))
	for i := range wires {
		e := StatsEvent{
			DeviceInfo:     wires[i].device(),
			Action:         strings.TrimSpace(wires[i].Action.v),
			OldVersionName: strings.TrimSpace(wires[i].OldVersionName.v),
			Timestamp:      wires[i].Timestamp.v,
		}
		if err := e.check(); err != nil {
			return nil, err
		}
		if e.Action == "" {
			return nil, fmt.Errorf("%w: action is missing", errBadRequest)
		}
		if len(e.Action) > maxFieldLen || len(e.OldVersionName) > maxFieldLen {
			return nil, fmt.Errorf("%w: action or old_version_name is longer than %d characters", errBadRequest, maxFieldLen)
		}
		events = append(events, e)
	}
	return events, nil
}

// DecodeQuery reads device fields from a GET query (channel list).
func DecodeQuery(get func(string) string) (DeviceInfo, error) {
	w := wireDevice{}
	for key, dst := range map[string]*looseString{
		"platform": &w.Platform, "device_id": &w.DeviceID, "app_id": &w.AppID,
		"custom_id": &w.CustomID, "plugin_version": &w.PluginVersion,
		"version_build": &w.VersionBuild, "version_code": &w.VersionCode,
		"version_name": &w.VersionName, "version_os": &w.VersionOS,
		"defaultChannel": &w.DefaultChannel, "key_id": &w.KeyID,
		"install_source": &w.InstallSource, "channel": &w.Channel,
	} {
		dst.v = get(key)
	}
	for key, dst := range map[string]*looseBool{"is_emulator": &w.IsEmulator, "is_prod": &w.IsProd} {
		if v := get(key); v != "" {
			b, ok := parseLooseBool(v)
			if !ok {
				return DeviceInfo{}, fmt.Errorf("%w: %s must be true or false", errBadRequest, key)
			}
			dst.v, dst.set = b, true
		}
	}
	d := w.device()
	if d.AppID == "" {
		return DeviceInfo{}, fmt.Errorf("%w: app_id is missing", errBadRequest)
	}
	if len(d.AppID) > maxFieldLen || len(d.DeviceID) > maxDeviceIDLen {
		return DeviceInfo{}, fmt.Errorf("%w: app_id or device_id is too long", errBadRequest)
	}
	return d, nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s has the wrong type", typ.Field)
		}
		return fmt.Sprintf("a field has the wrong type (%s, expected %s)", typ.Value, typ.Type)
	default:
		return "unexpected end of input"
	}
}

// looseString accepts a JSON string, number or boolean (as its text), or null.
type looseString struct{ v string }

func (s *looseString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		return json.Unmarshal(b, &s.v)
	case 'n':
		s.v = ""
		return nil
	case 't', 'f':
		s.v = string(b)
		return nil
	case '{', '[':
		return &json.UnmarshalTypeError{Value: "object or array", Type: stringType}
	default: // a number
		s.v = string(b)
		return nil
	}
}

// looseBool accepts true/false, "true"/"false" (any case), 1/0, "1"/"0", or null.
type looseBool struct {
	v   bool
	set bool
}

func (l *looseBool) UnmarshalJSON(b []byte) error {
	text := string(b)
	if text == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	}
	v, ok := parseLooseBool(text)
	if !ok {
		return &json.UnmarshalTypeError{Value: "non-boolean", Type: boolType}
	}
	l.v, l.set = v, true
	return nil
}

func parseLooseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no", "":
		return false, true
	}
	return false, false
}

// looseInt accepts a JSON number or a numeric string, or null.
type looseInt struct{ v int64 }

func (l *looseInt) UnmarshalJSON(b []byte) error {
	text := string(b)
	if text == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "non-number", Type: int64Type}
	}
	switch {
	case math.IsNaN(f):
		l.v = 0
	case f >= math.MaxInt64:
		l.v = math.MaxInt64
	case f <= math.MinInt64:
		l.v = math.MinInt64
	default:
		l.v = int64(f)
	}
	return nil
}

var (
	stringType = reflect.TypeFor[string]()
	boolType   = reflect.TypeFor[bool]()
	int64Type  = reflect.TypeFor[int64]()
)
