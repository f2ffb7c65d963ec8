package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fastjson"
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

// parsers are reused: fastjson parses a body without allocating once a
// parser is warm, the largest cost of an update check otherwise.
var parsers fastjson.ParserPool

// fieldSource reads device fields from a JSON object or a query string.
type fieldSource interface {
	text(key string) (string, error)            // "" when absent
	flag(key string, absent bool) (bool, error) // absent when missing or null
}

// readDevice assembles the device fields every plugin request carries.
func readDevice(src fieldSource) (DeviceInfo, error) {
	var d DeviceInfo
	for _, f := range []struct {
		key  string
		dst  *string
		norm func(string) string
		// informational: the server neither uses nor stores the field, so
		// a value it could not store is dropped rather than refusing the
		// device (custom_id is whatever the app set with setCustomId).
		informational bool
	}{
		{"platform", &d.Platform, lowerTrim, false},
		{"device_id", &d.DeviceID, lowerTrim, false}, // iOS sends upper case, Android lower case
		{"app_id", &d.AppID, strings.TrimSpace, false},
		{"custom_id", &d.CustomID, nil, true},
		{"plugin_version", &d.PluginVersion, strings.TrimSpace, false},
		{"version_build", &d.VersionBuild, strings.TrimSpace, false},
		{"version_code", &d.VersionCode, strings.TrimSpace, true},
		{"version_name", &d.VersionName, strings.TrimSpace, false},
		{"version_os", &d.VersionOS, strings.TrimSpace, true},
		{"defaultChannel", &d.DefaultChannel, strings.TrimSpace, false},
		{"key_id", &d.KeyID, strings.TrimSpace, false},
		{"install_source", &d.InstallSource, strings.TrimSpace, true},
		{"channel", &d.Channel, strings.TrimSpace, false},
	} {
		v, err := src.text(f.key)
		if err == nil {
			err = checkText(f.key, v)
		}
		switch {
		case err != nil && f.informational:
			v = ""
		case err != nil:
			return DeviceInfo{}, err
		}
		if f.norm != nil {
			v = f.norm(v)
		}
		*f.dst = v
	}
	var err error
	if d.IsEmulator, err = src.flag("is_emulator", false); err != nil {
		return DeviceInfo{}, err
	}
	// Capgo's default when the field is missing: a production build.
	if d.IsProd, err = src.flag("is_prod", true); err != nil {
		return DeviceInfo{}, err
	}
	return d, nil
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkText refuses values the registry could not store faithfully (NUL
// bytes and invalid UTF-8 are refused by PostgreSQL) and oversized ones.
func checkText(key, v string) error {
	limit := maxFieldLen
	if key == "device_id" {
		limit = maxDeviceIDLen
	}
	switch {
	case len(v) > limit:
		return fmt.Errorf("%w: %s is longer than %d characters", errBadRequest, key, limit)
	case strings.IndexByte(v, 0) >= 0 || !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not valid text", errBadRequest, key)
	}
	return nil
}

// check validates what every device request must carry.
func (d *DeviceInfo) check() error {
	switch {
	case d.AppID == "":
		return fmt.Errorf("%w: app_id is missing", errBadRequest)
	case d.DeviceID == "":
		return fmt.Errorf("%w: device_id is missing", errBadRequest)
	}
	return nil
}

// jsonFields reads loosely typed fields from a JSON object: strings may
// arrive as numbers or booleans, booleans as strings or 0/1, and null means
// absent. Objects and arrays where a value belongs are refused.
type jsonFields struct{ o *fastjson.Object }

func (j jsonFields) text(key string) (string, error) {
	v := j.o.Get(key)
	if v == nil {
		return "", nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes()), nil // a copy: the parser's buffer is reused
	case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
		return v.String(), nil
	case fastjson.TypeNull:
		return "", nil
	}
	return "", wrongType(key)
}

func (j jsonFields) flag(key string, absent bool) (bool, error) {
	v := j.o.Get(key)
	if v == nil {
		return absent, nil
	}
	var text string
	switch v.Type() {
	case fastjson.TypeTrue:
		return true, nil
	case fastjson.TypeFalse:
		return false, nil
	case fastjson.TypeNull:
		return absent, nil
	case fastjson.TypeString:
		text = string(v.GetStringBytes())
	case fastjson.TypeNumber:
		text = v.String()
	default:
		return false, wrongType(key)
	}
	b, ok := parseLooseBool(text)
	if !ok {
		return false, wrongType(key)
	}
	return b, nil
}

// number reads an integer (a number or a numeric string); 0 when absent.
func (j jsonFields) number(key string) (int64, error) {
	v := j.o.Get(key)
	if v == nil {
		return 0, nil
	}
	var text string
	switch v.Type() {
	case fastjson.TypeNull:
		return 0, nil
	case fastjson.TypeNumber:
		text = v.String()
	case fastjson.TypeString:
		text = strings.TrimSpace(string(v.GetStringBytes()))
	default:
		return 0, wrongType(key)
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, wrongType(key)
	}
	switch {
	case math.IsNaN(f):
		return 0, nil
	case f >= math.MaxInt64:
		return math.MaxInt64, nil
	case f <= math.MinInt64:
		return math.MinInt64, nil
	}
	return int64(f), nil
}

func wrongType(key string) error {
	return fmt.Errorf("%w: field %s has the wrong type", errBadRequest, key)
}

// parseObject parses body as one JSON value. The parser is lenient about
// number syntax, so the body is validated strictly first (as fast again).
// Parse errors are described without quoting the body back.
func parseObject(p *fastjson.Parser, body []byte) (*fastjson.Value, error) {
	if fastjson.ValidateBytes(body) != nil {
		return nil, fmt.Errorf("%w: body is not valid JSON", errBadRequest)
	}
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, fmt.Errorf("%w: body is not valid JSON", errBadRequest)
	}
	return v, nil
}

// DecodeUpdateRequest parses the body the plugin POSTs to updateUrl (and
// PUT/POST/DELETE to channelUrl). Unknown fields are ignored; app_id and
// device_id are required.
func DecodeUpdateRequest(body []byte) (DeviceInfo, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body)
	if err != nil {
		return DeviceInfo{}, err
	}
	o, err := v.Object()
	if err != nil {
		return DeviceInfo{}, fmt.Errorf("%w: body is not a JSON object", errBadRequest)
	}
	d, err := readDevice(jsonFields{o})
	if err != nil {
		return DeviceInfo{}, err
	}
	if err := d.check(); err != nil {
		return DeviceInfo{}, err
	}
	return d, nil
}

// DecodeStats parses a statsUrl body: current plugins send a JSON array of
// events (batched, at most 200), older ones a single object.
func DecodeStats(body []byte) ([]StatsEvent, error) {
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parseObject(p, body)
	if err != nil {
		return nil, err
	}
	items := []*fastjson.Value{v}
	if v.Type() == fastjson.TypeArray {
		items, _ = v.Array()
	}
	if len(items) > maxStatsEvents {
		return nil, fmt.Errorf("%w: %d events in one request (at most %d)", errBadRequest, len(items), maxStatsEvents)
	}
	events := make([]StatsEvent, 0, len(items))
	for _, item := range items {
		o, err := item.Object()
		if err != nil {
			return nil, fmt.Errorf("%w: an event is not a JSON object", errBadRequest)
		}
		e, err := readEvent(jsonFields{o})
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

func readEvent(f jsonFields) (StatsEvent, error) {
	d, err := readDevice(f)
	if err != nil {
		return StatsEvent{}, err
	}
	if err := d.check(); err != nil {
		return StatsEvent{}, err
	}
	e := StatsEvent{DeviceInfo: d}
	for key, dst := range map[string]*string{"action": &e.Action, "old_version_name": &e.OldVersionName} {
		v, err := f.text(key)
		if err == nil {
			err = checkText(key, v)
		}
		if err != nil {
			return StatsEvent{}, err
		}
		*dst = strings.TrimSpace(v)
	}
	if e.Action == "" {
		return StatsEvent{}, fmt.Errorf("%w: action is missing", errBadRequest)
	}
	if e.Timestamp, err = f.number("timestamp"); err != nil {
		return StatsEvent{}, err
	}
	return e, nil
}

// queryFields reads device fields from a GET query (channel list; DELETE
// from older plugins).
type queryFields func(string) string

func (q queryFields) text(key string) (string, error) { return q(key), nil }

func (q queryFields) flag(key string, absent bool) (bool, error) {
	v := q(key)
	if v == "" {
		return absent, nil
	}
	b, ok := parseLooseBool(v)
	if !ok {
		return false, fmt.Errorf("%w: %s must be true or false", errBadRequest, key)
	}
	return b, nil
}

// DecodeQuery reads device fields from a query; only app_id is required.
func DecodeQuery(get func(string) string) (DeviceInfo, error) {
	d, err := readDevice(queryFields(get))
	if err != nil {
		return DeviceInfo{}, err
	}
	if d.AppID == "" {
		return DeviceInfo{}, fmt.Errorf("%w: app_id is missing", errBadRequest)
	}
	return d, nil
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
