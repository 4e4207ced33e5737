// Package selection evaluates API Gateway selection expressions (route,
// template and integration-response selection) and the JSONPath subset they
// and mapping templates use.
//
// An expression mixes static text with variables: "$request.body.action",
// "${request.body.service}/${request.body.action}", "\$default" (a literal
// dollar). Each variable is evaluated once, never recursively; a missing
// value becomes "".
package selection

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Lookup resolves one variable name without its "$", such as
// "request.body.action" or "integration.response.statuscode".
type Lookup func(name string) string

// Evaluate expands every variable of expr with lookup.
func Evaluate(expr string, lookup Lookup) string {
	var b strings.Builder
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr) && expr[i+1] == '$':
			b.WriteByte('$')
			i += 2
		case c == '$' && i+1 < len(expr) && expr[i+1] == '{':
			end := strings.IndexByte(expr[i+2:], '}')
			if end < 0 {
				b.WriteString(expr[i:])
				return b.String()
			}
			b.WriteString(lookup(expr[i+2 : i+2+end]))
			i += end + 3
		case c == '$':
			n := variableEnd(expr, i+1)
			if n == i+1 {
				b.WriteByte('$')
				i++
				continue
			}
			b.WriteString(lookup(expr[i+1 : n]))
			i = n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// variableEnd returns the index after an unbraced variable name starting at
// i: letters, digits, '_', '-', '.', and JSONPath brackets.
func variableEnd(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth > 0:
		case c == '_' || c == '-' || c == '.',
			'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return i
		}
	}
	return i
}

// BodyLookup returns a Lookup for route and template selection over a
// client message: "request.body.<path>" reads from the JSON body, any other
// name is "". ok is false when body is not JSON, which sends a message to the
// $default route.
func BodyLookup(body []byte) (lookup Lookup, ok bool) {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return func(string) string { return "" }, false
	}
	return func(name string) string {
		rest, found := strings.CutPrefix(name, "request.body")
		if !found {
			return ""
		}
		v, err := Path(doc, "$"+rest)
		if err != nil {
			return ""
		}
		return Stringify(v)
	}, true
}

// Stringify renders a selected JSON value as the service does: strings as
// they are, arrays as "[item1, item2]", null and missing values as "".
func Stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case json.Number:
		return t.String()
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = Stringify(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + Stringify(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	default:
		return fmt.Sprint(t)
	}
}

// Path selects a value from a decoded JSON document with a JSONPath of the
// form $, $.a.b, $['a'], $.a[0], $.a[*].b (wildcards collect into a list).
func Path(doc any, path string) (any, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, fmt.Errorf("JSONPath %q: must start with $", path)
	}
	steps, err := parsePath(path[1:])
	if err != nil {
		return nil, fmt.Errorf("JSONPath %q: %w", path, err)
	}
	values := []any{doc}
	wild := false
	for _, s := range steps {
		var next []any
		for _, v := range values {
			next = append(next, s.apply(v)...)
		}
		values = next
		wild = wild || s.wildcard
	}
	if wild {
		if values == nil {
			values = []any{}
		}
		return values, nil
	}
	if len(values) == 0 {
		return nil, nil
	}
	return values[0], nil
}

// step is one JSONPath segment: a key, an index or a wildcard.
type step struct {
	key      string
	index    int
	isIndex  bool
	wildcard bool
}

func (s step) apply(v any) []any {
	switch t := v.(type) {
	case map[string]any:
		if s.wildcard {
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			out := make([]any, len(keys))
			for i, k := range keys {
				out[i] = t[k]
			}
			return out
		}
		if e, ok := t[s.key]; ok && !s.isIndex {
			return []any{e}
		}
	case []any:
		if s.wildcard {
			return t
		}
		i := s.index
		if s.isIndex && i < 0 {
			i += len(t)
		}
		if s.isIndex && i >= 0 && i < len(t) {
			return []any{t[i]}
		}
	}
	return nil
}

// parsePath splits ".a['b'][0][*].*" into steps.
func parsePath(p string) ([]step, error) {
	var steps []step
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
			n := 0
			for n < len(p) && p[n] != '.' && p[n] != '[' {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("empty name after '.'")
			}
			name := p[:n]
			steps = append(steps, step{key: name, wildcard: name == "*"})
			p = p[n:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed '['")
			}
			inner := strings.TrimSpace(p[1:end])
			p = p[end+1:]
			s, err := bracketStep(inner)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s)
		default:
			return nil, fmt.Errorf("unexpected %q", p[0])
		}
	}
	return steps, nil
}

func bracketStep(inner string) (step, error) {
	switch {
	case inner == "*":
		return step{wildcard: true}, nil
	case len(inner) >= 2 && (inner[0] == '\'' && inner[len(inner)-1] == '\'' || inner[0] == '"' && inner[len(inner)-1] == '"'):
		return step{key: inner[1 : len(inner)-1]}, nil
	}
	n, err := strconv.Atoi(inner)
	if err != nil {
		return step{}, fmt.Errorf("bad subscript [%s]", inner)
	}
	return step{index: n, isIndex: true}, nil
}
