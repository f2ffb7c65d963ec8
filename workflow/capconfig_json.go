package workflow

// capacitor.config.json: reading it, and editing it in place with every
// byte outside the edited values kept (key order, indentation, newlines).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

func parseJSONConfig(path string, data []byte) (*CapConfig, error) {
	// Decoded into maps, not a struct: encoding/json matches struct fields
	// case-insensitively, Capacitor (JavaScript) does not.
	var doc any
	if err := json.Unmarshal(bytes.TrimPrefix(data, utf8BOM), &doc); err != nil {
		return nil, fmt.Errorf("read %s: not valid JSON: %w", path, err)
	}
	cfg := &CapConfig{}
	for _, f := range cfg.fields() {
		v := doc
		for i, k := range f.keys {
			obj, ok := v.(map[string]any)
			if !ok {
				if i == 0 {
					return nil, fmt.Errorf("read %s: the top level is not an object", path)
				}
				return nil, fmt.Errorf("read %s: %s is not an object", path, strings.Join(f.keys[:i], "."))
			}
			if v, ok = obj[k]; !ok {
				break
			}
			if i < len(f.keys)-1 {
				continue
			}
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("read %s: %s is not a string", path, strings.Join(f.keys, "."))
			}
			*f.dst = str
		}
	}
	return cfg, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// jsonValue is a parsed JSON value with its byte span in the source.
type jsonValue struct {
	kind       byte // '{', '[', '"' or 'x' (number, true, false, null)
	start, end int
	members    []jsonMember // objects only, in source order
}

type jsonMember struct {
	key      string
	keyStart int
	val      *jsonValue
}

func (v *jsonValue) member(key string) *jsonMember {
	var found *jsonMember
	for i := range v.members {
		if v.members[i].key == key {
			found = &v.members[i] // the last duplicate wins, as in every decoder
		}
	}
	return found
}

type jsonParser struct {
	src []byte
	pos int
}

func (p *jsonParser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value parses the value at p.pos. The input was checked with json.Valid.
func (p *jsonParser) value() (*jsonValue, error) {
	p.ws()
	if p.pos >= len(p.src) {
		return nil, errors.New("unexpected end of JSON")
	}
	v := &jsonValue{start: p.pos}
	switch c := p.src[p.pos]; c {
	case '{', '[':
		v.kind = c
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.pos++
		for {
			p.ws()
			if p.src[p.pos] == closer {
				p.pos++
				break
			}
			if p.src[p.pos] == ',' {
				p.pos++
				continue
			}
			if c == '[' {
				if _, err := p.value(); err != nil {
					return nil, err
				}
				continue
			}
			keyStart := p.pos
			if err := p.skipString(); err != nil {
				return nil, err
			}
			var key string
			if err := json.Unmarshal(p.src[keyStart:p.pos], &key); err != nil {
				return nil, err
			}
			p.ws()
			p.pos++ // ':'
			val, err := p.value()
			if err != nil {
				return nil, err
			}
			v.members = append(v.members, jsonMember{key: key, keyStart: keyStart, val: val})
		}
	case '"':
		v.kind = '"'
		if err := p.skipString(); err != nil {
			return nil, err
		}
	default:
		v.kind = 'x'
		for p.pos < len(p.src) && !strings.ContainsRune(" \t\r\n,]}", rune(p.src[p.pos])) {
			p.pos++
		}
	}
	v.end = p.pos
	return v, nil
}

func (p *jsonParser) skipString() error {
	p.pos++ // opening quote
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case '\\':
			p.pos += 2
		case '"':
			p.pos++
			return nil
		default:
			p.pos++
		}
	}
	return errors.New("unterminated string")
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// lineIndent returns the white space from the start of the line holding
// pos up to pos, and whether only white space precedes pos on that line.
func lineIndent(src []byte, pos int) (string, bool) {
	start := bytes.LastIndexByte(src[:pos], '\n') + 1
	prefix := src[start:pos]
	trimmed := bytes.TrimLeft(prefix, " \t")
	ws := string(prefix[:len(prefix)-len(trimmed)])
	return ws, len(trimmed) == 0
}

func newlineOf(src []byte) string {
	if bytes.Contains(src, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// textEdit replaces src[start:end] with text.
type textEdit struct {
	start, end int
	text       string
}

func (e textEdit) apply(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(e.text))
	out = append(out, src[:e.start]...)
	out = append(out, e.text...)
	return append(out, src[e.end:]...)
}

func editJSONConfig(path string, data []byte, edits []configEdit) ([]byte, error) {
	refuse := func(reason string) ([]byte, error) {
		return nil, &ConfigEditError{Path: path, Reason: reason, Snippet: snippetFor(path, edits)}
	}
	bom := bytes.HasPrefix(data, utf8BOM)
	src := bytes.TrimPrefix(data, utf8BOM)
	if !json.Valid(src) {
		var v any
		err := json.Unmarshal(src, &v)
		return refuse(fmt.Sprintf("not valid JSON (%v)", err))
	}
	var before any
	if err := json.Unmarshal(src, &before); err != nil {
		return refuse(err.Error())
	}
	out := src
	for _, e := range edits {
		var err error
		out, err = jsonSet(out, append(append([]string(nil), updaterPath...), e.Key), jsonString(e.Value))
		if err != nil {
			return refuse(err.Error())
		}
	}
	// Prove the edit: the result must decode to the original document with
	// exactly the new values set, and nothing else changed.
	var after any
	if err := json.Unmarshal(out, &after); err != nil {
		return refuse("the edited file would not be valid JSON: " + err.Error())
	}
	want := before
	for _, e := range edits {
		want = setPath(want, append(append([]string(nil), updaterPath...), e.Key), e.Value)
	}
	if !reflect.DeepEqual(after, want) {
		return refuse("the edited file would not read back as expected")
	}
	if bom {
		out = append(append([]byte(nil), utf8BOM...), out...)
	}
	return out, nil
}

// setPath sets keys to value in a decoded JSON document, creating objects.
func setPath(doc any, keys []string, value string) any {
	obj, ok := doc.(map[string]any)
	if !ok {
		obj = map[string]any{}
	}
	if len(keys) == 1 {
		obj[keys[0]] = value
		return obj
	}
	obj[keys[0]] = setPath(obj[keys[0]], keys[1:], value)
	return obj
}

// jsonSet sets the member at keys to the JSON text value, keeping every
// other byte of src. New members follow the indentation of their siblings.
func jsonSet(src []byte, keys []string, value string) ([]byte, error) {
	p := &jsonParser{src: src}
	root, err := p.value()
	if err != nil {
		return nil, err
	}
	if root.kind != '{' {
		return nil, errors.New("the top level is not an object")
	}
	nl := newlineOf(src)
	unit := jsonIndentUnit(src, root)
	obj := root
	for i, key := range keys {
		m := obj.member(key)
		if m == nil {
			return insertMember(src, obj, keys[i:], value, nl, unit, jsonChain), nil
		}
		if i == len(keys)-1 {
			return textEdit{m.val.start, m.val.end, value}.apply(src), nil
		}
		if m.val.kind != '{' {
			return nil, fmt.Errorf("%q is not an object", strings.Join(keys[:i+1], "."))
		}
		obj = m.val
	}
	return src, nil
}

func jsonIndentUnit(src []byte, root *jsonValue) string {
	if len(root.members) > 0 {
		if ws, own := lineIndent(src, root.members[0].keyStart); own && ws != "" {
			return ws
		}
	}
	return "  "
}

// chainFunc renders `key: value` for keys[0], nesting objects for the other
// keys; indent is the indentation of the first line's member.
type chainFunc func(keys []string, value, indent, unit, nl string) string

func jsonChain(keys []string, value, indent, unit, nl string) string {
	if len(keys) == 1 {
		return jsonString(keys[0]) + ": " + value
	}
	inner := jsonChain(keys[1:], value, indent+unit, unit, nl)
	if nl == "" {
		return jsonString(keys[0]) + ": {" + inner + "}"
	}
	return jsonString(keys[0]) + ": {" + nl + indent + unit + inner + nl + indent + "}"
}

// insertMember adds keys (nested as needed) with value as the last member of
// the JSON object obj.
func insertMember(src []byte, obj *jsonValue, keys []string, value, nl, unit string, chain chainFunc) []byte {
	if n := len(obj.members); n > 0 {
		last := obj.members[n-1]
		indent, own := lineIndent(src, last.keyStart)
		if !own {
			return textEdit{last.val.end, last.val.end, ", " + chain(keys, value, "", "", "")}.apply(src)
		}
		return textEdit{last.val.end, last.val.end, "," + nl + indent + chain(keys, value, indent, unit, nl)}.apply(src)
	}
	outer, _ := lineIndent(src, obj.start)
	indent := outer + unit
	text := nl + indent + chain(keys, value, indent, unit, nl) + nl + outer
	return textEdit{obj.start + 1, obj.end - 1, text}.apply(src)
}
