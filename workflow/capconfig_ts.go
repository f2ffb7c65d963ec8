package workflow

// Reading and editing capacitor.config.ts (and .js) without running them.
//
// A small lexer (strings, template literals, comments, identifiers,
// punctuation) finds the exported object literal and records the byte span
// of every member, so an edit replaces or inserts text at exact offsets and
// leaves every other byte alone. Shapes it understands: the one `npx cap
// init` writes (`const config: CapacitorConfig = {...}; export default
// config;`), `export default {...}`, and `module.exports = {...}`, with or
// without existing plugins / CapacitorUpdater objects. Anything else (a
// spread or computed key where a member would go, plugins built by a
// function call) is refused with the snippet to paste.

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// tsObject is an object literal with the spans of its members.
type tsObject struct {
	open, close int // offsets of '{' and '}'
	members     []tsMember
	opaque      bool // has a spread, computed key, method or accessor
	lastStart   int  // start of the last element (member or spread); -1 when empty
	lastEnd     int  // end of the last element's value
	lastComma   int  // end offset of a comma after the last element, or -1
}

type tsMember struct {
	key              string
	keyStart         int
	valStart, valEnd int
	obj              *tsObject // when the value is an object literal
	str              *string   // when the value is a plain string literal
}

func (o *tsObject) member(key string) *tsMember {
	var found *tsMember
	for i := range o.members {
		if o.members[i].key == key {
			found = &o.members[i]
		}
	}
	return found
}

type tsParser struct {
	src  []byte
	toks []tsTok
}

func (p *tsParser) is(i int, text string) bool {
	return i < len(p.toks) && p.toks[i].kind != 's' && p.toks[i].text == text
}

// configObject finds the token index of the exported config object's '{'.
func (p *tsParser) configObject() (int, error) {
	name := ""
	for i := 0; i+2 < len(p.toks); i++ {
		var j int
		switch {
		case p.is(i, "export") && p.is(i+1, "default"):
			j = i + 2
		case p.is(i, "module") && p.is(i+1, ".") && p.is(i+2, "exports") && p.is(i+3, "="):
			j = i + 4
		default:
			continue
		}
		for p.is(j, "(") { // export default ({ ... })
			j++
		}
		if p.is(j, "{") {
			return j, nil
		}
		if j < len(p.toks) && p.toks[j].kind == 'i' && !p.is(j+1, "(") && !p.is(j+1, ".") {
			name = p.toks[j].text
		}
		break
	}
	if name == "" {
		return 0, errors.New("found no `export default` of the config object")
	}
	for i := 0; i+1 < len(p.toks); i++ {
		if !(p.is(i, "const") || p.is(i, "let") || p.is(i, "var")) || !p.is(i+1, name) {
			continue
		}
		// skip a type annotation up to '='
		j, depth := i+2, 0
		for ; j < len(p.toks); j++ {
			t := p.toks[j].text
			if depth == 0 && (t == "=" || t == ";") {
				break
			}
			switch t {
			case "{", "(", "[", "<":
				depth++
			case "}", ")", "]", ">":
				depth--
			}
		}
		if !p.is(j, "=") {
			break
		}
		j++
		for p.is(j, "(") {
			j++
		}
		if p.is(j, "{") {
			return j, nil
		}
		break
	}
	return 0, fmt.Errorf("found no object literal assigned to %s", name)
}

// skipExpr returns the index of the token that ends the expression starting
// at i: a ',' or a closing bracket at depth 0.
func (p *tsParser) skipExpr(i int) (int, error) {
	depth := 0
	for ; i < len(p.toks); i++ {
		if p.toks[i].kind != 'p' {
			continue
		}
		switch p.toks[i].text {
		case "{", "(", "[":
			depth++
		case "}", ")", "]":
			if depth == 0 {
				return i, nil
			}
			depth--
		case ",":
			if depth == 0 {
				return i, nil
			}
		}
	}
	return i, errors.New("unbalanced brackets")
}

// object parses the object literal whose '{' is token i and returns the
// index of the token after its '}'.
func (p *tsParser) object(i int) (*tsObject, int, error) {
	o := &tsObject{open: p.toks[i].start, lastStart: -1, lastComma: -1}
	i++
	for {
		if i >= len(p.toks) {
			return nil, i, errors.New("unbalanced braces")
		}
		tok := p.toks[i]
		if p.is(i, "}") {
			o.close = tok.start
			return o, i + 1, nil
		}
		if p.is(i, ",") {
			return nil, i, fmt.Errorf("unexpected ',' at byte %d", tok.start)
		}
		o.lastStart, o.lastComma = tok.start, -1
		m := tsMember{keyStart: tok.start}
		simpleKey := tok.kind == 'i' || tok.kind == 's' || tok.kind == 'n'
		if simpleKey && (p.is(i+1, ":") || p.is(i+1, ",") || p.is(i+1, "}")) {
			m.key = tok.text
			if tok.kind == 's' {
				k, err := tsDecode(p.src[tok.start:tok.end])
				if err != nil {
					return nil, i, err
				}
				m.key = k
			}
		} else {
			o.opaque = true // spread, computed key, method, accessor
		}
		end := i + 1
		if m.key != "" && p.is(i+1, ":") {
			j := i + 2
			if j >= len(p.toks) {
				return nil, j, errors.New("unbalanced braces")
			}
			m.valStart = p.toks[j].start
			if p.is(j, ",") || p.is(j, "}") {
				return nil, j, fmt.Errorf("missing value for %s at byte %d", m.key, tok.start)
			}
			if p.is(j, "{") {
				obj, next, err := p.object(j)
				if err != nil {
					return nil, next, err
				}
				m.obj = obj
				j = next
			} else if tk := p.toks[j]; (tk.kind == 's' || tk.kind == 't') && (p.is(j+1, ",") || p.is(j+1, "}")) {
				s, err := tsDecode(p.src[tk.start:tk.end])
				if err != nil {
					return nil, j, err
				}
				m.str = &s
				j++
			}
			stop, err := p.skipExpr(j)
			if err != nil {
				return nil, stop, err
			}
			if stop != j { // something follows the literal, such as `as const`
				m.obj, m.str = nil, nil
			}
			end = stop
		} else {
			stop, err := p.skipExpr(i)
			if err != nil {
				return nil, stop, err
			}
			end = stop
		}
		if end <= i || end > len(p.toks) {
			return nil, end, errors.New("unbalanced brackets")
		}
		m.valEnd = p.toks[end-1].end
		o.lastEnd = m.valEnd
		if m.key != "" {
			if m.valStart == 0 { // shorthand `{ appId }`
				m.valStart = m.keyStart
			}
			o.members = append(o.members, m)
		}
		if p.is(end, ",") {
			o.lastComma = p.toks[end].end
			end++
		} else if !p.is(end, "}") {
			return nil, end, fmt.Errorf("unexpected %q at byte %d", p.src[p.toks[end].start:p.toks[end].end], p.toks[end].start)
		}
		i = end
	}
}

// tsRoot lexes src and parses the exported config object.
func tsRoot(src []byte) (*tsParser, *tsObject, error) {
	toks, err := tsLex(src)
	if err != nil {
		return nil, nil, err
	}
	p := &tsParser{src: src, toks: toks}
	i, err := p.configObject()
	if err != nil {
		return nil, nil, err
	}
	root, _, err := p.object(i)
	if err != nil {
		return nil, nil, err
	}
	return p, root, nil
}

// tsLookup finds the member at keys; ok is false when it is absent.
func tsLookup(o *tsObject, keys []string) (*tsMember, bool) {
	for i, k := range keys {
		m := o.member(k)
		if m == nil {
			return nil, false
		}
		if i == len(keys)-1 {
			return m, true
		}
		if m.obj == nil {
			return nil, false
		}
		o = m.obj
	}
	return nil, false
}

func parseTSConfig(path string, data []byte) (*CapConfig, error) {
	_, root, err := tsRoot(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (capship understands `const config: CapacitorConfig = {...}; export default config;` and `export default {...}`)", path, err)
	}
	cfg := &CapConfig{}
	for _, f := range cfg.fields() {
		m, ok := tsLookup(root, f.keys)
		if !ok {
			continue
		}
		if m.str == nil {
			cfg.Dynamic = append(cfg.Dynamic, strings.Join(f.keys, "."))
			continue
		}
		*f.dst = *m.str
	}
	return cfg, nil
}

// tsStyle is how a .ts config is written, so inserted text blends in.
type tsStyle struct {
	nl, unit string
	quote    byte
	trailing bool // objects end with a trailing comma
}

func tsStyleOf(p *tsParser, root *tsObject) tsStyle {
	st := tsStyle{nl: newlineOf(p.src), unit: "  ", quote: '\''}
	if root.lastStart >= 0 {
		first := root.lastStart
		if len(root.members) > 0 {
			first = root.members[0].keyStart
		}
		if ws, own := lineIndent(p.src, first); own && ws != "" {
			st.unit = ws
		}
	}
	single, double := 0, 0
	for _, t := range p.toks {
		if t.kind == 's' {
			if p.src[t.start] == '"' {
				double++
			} else {
				single++
			}
		}
	}
	if double > single {
		st.quote = '"'
	}
	st.trailing = root.lastComma >= 0
	return st
}

func tsKey(k string) string {
	ident := k != ""
	for i, r := range k {
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			ident = false
		}
	}
	if ident {
		return k
	}
	return tsString(k, '\'')
}

func (st tsStyle) chain(keys []string, value, indent, unit, nl string) string {
	if len(keys) == 1 {
		return tsKey(keys[0]) + ": " + value
	}
	inner := st.chain(keys[1:], value, indent+unit, unit, nl)
	if nl == "" {
		return tsKey(keys[0]) + ": { " + inner + " }"
	}
	comma := ""
	if st.trailing {
		comma = ","
	}
	return tsKey(keys[0]) + ": {" + nl + indent + unit + inner + comma + nl + indent + "}"
}

// tsSet sets keys to the literal text lit in the object root of src.
func tsSet(src []byte, root *tsObject, keys []string, lit string, st tsStyle) ([]byte, error) {
	o := root
	for i, key := range keys {
		m := o.member(key)
		if m == nil {
			if o.opaque {
				where := "the config object"
				if i > 0 {
					where = strings.Join(keys[:i], ".")
				}
				return nil, fmt.Errorf("%s uses a spread, computed key or method, so capship cannot tell whether it already sets %s", where, key)
			}
			return tsInsert(src, o, keys[i:], lit, st), nil
		}
		if i == len(keys)-1 {
			return textEdit{m.valStart, m.valEnd, lit}.apply(src), nil
		}
		if m.obj == nil {
			return nil, fmt.Errorf("%s is not a plain object literal", strings.Join(keys[:i+1], "."))
		}
		o = m.obj
	}
	return src, nil
}

func tsInsert(src []byte, o *tsObject, keys []string, lit string, st tsStyle) []byte {
	comma := ""
	if st.trailing {
		comma = ","
	}
	if o.lastStart >= 0 {
		indent, own := lineIndent(src, o.lastStart)
		if !own {
			text := ", " + st.chain(keys, lit, "", "", "")
			if o.lastComma >= 0 {
				return textEdit{o.lastComma, o.lastComma, " " + st.chain(keys, lit, "", "", "") + ","}.apply(src)
			}
			return textEdit{o.lastEnd, o.lastEnd, text}.apply(src)
		}
		if o.lastComma >= 0 {
			return textEdit{o.lastComma, o.lastComma, st.nl + indent + st.chain(keys, lit, indent, st.unit, st.nl) + ","}.apply(src)
		}
		return textEdit{o.lastEnd, o.lastEnd, "," + st.nl + indent + st.chain(keys, lit, indent, st.unit, st.nl)}.apply(src)
	}
	outer, _ := lineIndent(src, o.open)
	indent := outer + st.unit
	text := st.nl + indent + st.chain(keys, lit, indent, st.unit, st.nl) + comma + st.nl + outer
	return textEdit{o.open + 1, o.close, text}.apply(src)
}

// tsLeaves maps the dotted path of every member that is not an object
// literal to its source text, to prove an edit changed nothing else.
func tsLeaves(src []byte, o *tsObject, prefix string, into map[string]string) {
	for _, m := range o.members {
		path := prefix + m.key
		if m.obj != nil {
			tsLeaves(src, m.obj, path+".", into)
			continue
		}
		into[path] = string(src[m.valStart:m.valEnd])
	}
}

func editTSConfig(path string, data []byte, edits []configEdit) ([]byte, error) {
	refuse := func(reason string) ([]byte, error) {
		return nil, &ConfigEditError{Path: path, Reason: reason, Snippet: snippetFor(path, edits)}
	}
	p, root, err := tsRoot(data)
	if err != nil {
		return refuse(err.Error())
	}
	st := tsStyleOf(p, root)
	before := map[string]string{}
	tsLeaves(data, root, "", before)
	out := data
	for _, e := range edits {
		keys := append(updaterPath[:2:2], e.Key)
		next, err := tsSet(out, root, keys, tsString(e.Value, st.quote), st)
		if err != nil {
			return refuse(err.Error())
		}
		out = next
		if _, root, err = tsRoot(out); err != nil {
			return refuse("the edited file would not parse: " + err.Error())
		}
	}
	// Prove the edit: every new value reads back, every other member is
	// byte-identical.
	after := map[string]string{}
	tsLeaves(out, root, "", after)
	for _, e := range edits {
		keys := append(updaterPath[:2:2], e.Key)
		m, ok := tsLookup(root, keys)
		if !ok || m.str == nil || *m.str != e.Value {
			return refuse("the edited file would not read back as expected")
		}
		delete(after, strings.Join(keys, "."))
		delete(before, strings.Join(keys, "."))
	}
	if !mapsEqual(before, after) {
		return refuse("the edit would change other settings")
	}
	return out, nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
