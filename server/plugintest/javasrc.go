package plugintest

import (
	"fmt"
	"strings"
)

// JavaMember returns the member of a Java class source that starts with
// decl (which must occur exactly once): from the start of its line to its
// closing brace, and a ';' right after it (a field holding a lambda), or
// to the ';' that ends a field without braces. decl may begin with "\n"
// and indentation to tell a class member from a same-named one nested
// deeper. Braces inside string and char literals and comments do not count.
func JavaMember(src, decl string) (string, error) {
	if n := strings.Count(src, decl); n != 1 {
		return "", fmt.Errorf("%q occurs %d times, want once", decl, n)
	}
	start := strings.Index(src, decl)
	start += len(decl) - len(strings.TrimLeft(decl, "\n"))
	start = strings.LastIndexByte(src[:start], '\n') + 1
	depth := 0
	for i := start; i < len(src); i++ {
		switch c := src[i]; {
		case c == '"' || c == '\'':
			for i++; i < len(src) && src[i] != c; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case strings.HasPrefix(src[i:], "//"):
			n := strings.IndexByte(src[i:], '\n')
			if n < 0 {
				return "", fmt.Errorf("%q: no end", decl)
			}
			i += n
		case strings.HasPrefix(src[i:], "/*"):
			n := strings.Index(src[i:], "*/")
			if n < 0 {
				return "", fmt.Errorf("%q: unterminated comment", decl)
			}
			i += n + 1
		case c == ';' && depth == 0:
			return src[start : i+1], nil
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				end := i + 1
				if rest := strings.TrimLeft(src[end:], " \t"); strings.HasPrefix(rest, ";") {
					end += strings.IndexByte(src[end:], ';') + 1
				}
				return src[start:end], nil
			}
			if depth < 0 {
				return "", fmt.Errorf("%q: the declaration closes its class", decl)
			}
		}
	}
	return "", fmt.Errorf("%q: no closing brace", decl)
}
