package vtl

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/wsgate/wsgate/localgateway/selection"
)

// call invokes a method on a value: Java String, List and Map methods
// templates use, or an Object's own.
func call(v any, name string, args []any) (any, error) {
	switch t := v.(type) {
	case Object:
		return t.Call(name, args)
	case string:
		return stringMethod(t, name, args)
	case []any:
		return listMethod(t, name, args)
	case map[string]any:
		return mapMethod(t, name, args)
	}
	if name == "toString" {
		return toString(v), nil
	}
	return nil, fmt.Errorf("template: no method %s on %q", name, toString(v))
}

func argString(args []any, i int) string {
	if i < len(args) {
		return toString(args[i])
	}
	return ""
}

func argInt(args []any, i int) int {
	if i < len(args) {
		if f, ok := number(args[i]); ok {
			return int(f)
		}
	}
	return 0
}

func wantArgs(name string, args []any, n int) error {
	if len(args) < n {
		return fmt.Errorf("template: %s needs %d argument(s), got %d", name, n, len(args))
	}
	return nil
}

func stringMethod(s, name string, args []any) (any, error) {
	switch name {
	case "length":
		return float64(utf8.RuneCountInString(s)), nil
	case "toString", "trim":
		if name == "trim" {
			return strings.TrimSpace(s), nil
		}
		return s, nil
	case "toLowerCase":
		return strings.ToLower(s), nil
	case "toUpperCase":
		return strings.ToUpper(s), nil
	case "isEmpty":
		return s == "", nil
	}
	if err := wantArgs(name, args, 1); err != nil {
		return nil, err
	}
	a := argString(args, 0)
	switch name {
	case "contains":
		return strings.Contains(s, a), nil
	case "startsWith":
		return strings.HasPrefix(s, a), nil
	case "endsWith":
		return strings.HasSuffix(s, a), nil
	case "equals":
		return s == a, nil
	case "indexOf":
		return float64(strings.Index(s, a)), nil
	case "replace":
		return strings.ReplaceAll(s, a, argString(args, 1)), nil
	case "replaceAll", "replaceFirst", "matches", "split":
		return regexMethod(s, name, a, args)
	case "substring":
		return substring(s, args)
	}
	return nil, fmt.Errorf("template: no method %s on a string", name)
}

func regexMethod(s, name, pattern string, args []any) (any, error) {
	re, err := compilePattern(pattern)
	if err != nil {
		return nil, fmt.Errorf("template: %s: bad pattern %q: %w", name, pattern, err)
	}
	switch name {
	case "matches":
		return re.FindString(s) == s && re.MatchString(s), nil
	case "split":
		parts := re.Split(s, -1)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	}
	repl := javaReplacement(argString(args, 1))
	if name == "replaceFirst" {
		done := false
		return re.ReplaceAllStringFunc(s, func(m string) string {
			if done {
				return m
			}
			done = true
			return re.ReplaceAllString(m, repl)
		}), nil
	}
	return re.ReplaceAllString(s, repl), nil
}

// maxPatterns bounds the compiled patterns kept. Templates name a handful of literal
// patterns, which are compiled on the first message and reused by every later one (a
// compile is most of a render's time); a template could also build patterns from what a
// client sent, and those must not grow memory, so past the bound patterns are compiled
// per use and not kept.
const maxPatterns = 64

var patterns struct {
	sync.RWMutex
	m map[string]*regexp.Regexp
}

// compilePattern returns pattern compiled, from the kept ones when it is there.
func compilePattern(pattern string) (*regexp.Regexp, error) {
	patterns.RLock()
	re := patterns.m[pattern]
	patterns.RUnlock()
	if re != nil {
		return re, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	patterns.Lock()
	if patterns.m == nil {
		patterns.m = map[string]*regexp.Regexp{}
	}
	if len(patterns.m) < maxPatterns {
		patterns.m[pattern] = re
	}
	patterns.Unlock()
	return re, nil
}

// patternCount is how many compiled patterns are kept.
func patternCount() int {
	patterns.RLock()
	defer patterns.RUnlock()
	return len(patterns.m)
}

// javaReplacement turns a Java replacement string (\x escapes a character,
// $1 a group) into Go's syntax.
func javaReplacement(r string) string {
	var b strings.Builder
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '\\' && i+1 < len(r):
			i++
			if r[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(r[i])
			}
		case r[i] == '$' && i+1 < len(r) && r[i+1] >= '0' && r[i+1] <= '9':
			b.WriteString("${" + string(r[i+1]) + "}")
			i++
		default:
			b.WriteByte(r[i])
		}
	}
	return b.String()
}

func substring(s string, args []any) (any, error) {
	runes := []rune(s)
	from, to := argInt(args, 0), len(runes)
	if len(args) > 1 {
		to = argInt(args, 1)
	}
	if from < 0 || to > len(runes) || from > to {
		return nil, fmt.Errorf("template: substring(%d, %d) out of range for length %d", from, to, len(runes))
	}
	return string(runes[from:to]), nil
}

func listMethod(l []any, name string, args []any) (any, error) {
	switch name {
	case "size":
		return float64(len(l)), nil
	case "isEmpty":
		return len(l) == 0, nil
	case "get":
		i := argInt(args, 0)
		if i < 0 || i >= len(l) {
			return nil, fmt.Errorf("template: get(%d) out of range for size %d", i, len(l))
		}
		return l[i], nil
	case "contains":
		for _, e := range l {
			if eq, _ := arithmetic("==", e, argAt(args, 0)); eq.(bool) {
				return true, nil
			}
		}
		return false, nil
	case "toString":
		return toString(l), nil
	}
	return nil, fmt.Errorf("template: no method %s on a list", name)
}

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func mapMethod(m map[string]any, name string, args []any) (any, error) {
	switch name {
	case "size":
		return float64(len(m)), nil
	case "isEmpty":
		return len(m) == 0, nil
	case "get":
		return m[argString(args, 0)], nil
	case "containsKey":
		_, ok := m[argString(args, 0)]
		return ok, nil
	case "put":
		old := m[argString(args, 0)]
		m[argString(args, 0)] = argAt(args, 1)
		return old, nil
	case "keySet":
		keys := sortedKeys(m)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case "toString":
		return toString(m), nil
	}
	return nil, fmt.Errorf("template: no method %s on a map", name)
}

// Input is $input: the raw message body and, on $connect, the request's
// headers, query string and path parameters.
type Input struct {
	Body        string
	Header      map[string]string
	QueryString map[string]string
	Path        map[string]string
}

// Property returns $input.body.
func (in *Input) Property(name string) (any, bool) {
	if name == "body" {
		return in.Body, true
	}
	return nil, false
}

// Call implements $input.json(path), $input.path(path) and $input.params().
func (in *Input) Call(name string, args []any) (any, error) {
	switch name {
	case "json", "path":
		if err := wantArgs("$input."+name, args, 1); err != nil {
			return nil, err
		}
		var doc any
		if err := json.Unmarshal([]byte(in.Body), &doc); err != nil {
			doc = nil
		}
		v, err := selection.Path(doc, argString(args, 0))
		if err != nil {
			return nil, fmt.Errorf("template: $input.%s: %w", name, err)
		}
		if name == "path" {
			return v, nil
		}
		out, _ := json.Marshal(v)
		return string(out), nil
	case "params":
		return in.params(args), nil
	}
	return nil, fmt.Errorf("template: no method $input.%s", name)
}

func (in *Input) params(args []any) any {
	if len(args) == 0 {
		return map[string]any{"header": toAny(in.Header), "querystring": toAny(in.QueryString), "path": toAny(in.Path)}
	}
	name := argString(args, 0)
	for _, m := range []map[string]string{in.Path, in.QueryString, in.Header} {
		if v, ok := m[name]; ok {
			return v
		}
	}
	for k, v := range in.Header {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Util is $util.
type Util struct{}

// Property has no $util properties.
func (Util) Property(string) (any, bool) { return nil, false }

// Call implements escapeJavaScript, parseJson, urlEncode, urlDecode,
// base64Encode and base64Decode.
func (Util) Call(name string, args []any) (any, error) {
	if err := wantArgs("$util."+name, args, 1); err != nil {
		return nil, err
	}
	s := argString(args, 0)
	switch name {
	case "escapeJavaScript":
		return EscapeJavaScript(s), nil
	case "parseJson":
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			return nil, fmt.Errorf("template: $util.parseJson: %w", err)
		}
		return v, nil
	case "urlEncode":
		return url.QueryEscape(s), nil
	case "urlDecode":
		d, err := url.QueryUnescape(s)
		if err != nil {
			return nil, fmt.Errorf("template: $util.urlDecode: %w", err)
		}
		return d, nil
	case "base64Encode":
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "base64Decode":
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("template: $util.base64Decode: %w", err)
		}
		return string(d), nil
	}
	return nil, fmt.Errorf("template: no method $util.%s", name)
}

// EscapeJavaScript escapes like Apache Commons' escapeJavaScript, which the
// service uses: quotes, backslash, '/', control characters and every
// non-ASCII character as \uXXXX. It turns ' into \', which JSON rejects;
// templates undo that with .replaceAll("\\'","'").
func EscapeJavaScript(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\'':
			b.WriteString(`\'`)
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20 || r > 0x7e && r <= 0xffff:
				fmt.Fprintf(&b, `\u%04X`, r)
			case r > 0xffff:
				r1, r2 := utf16Pair(r)
				fmt.Fprintf(&b, `\u%04X\u%04X`, r1, r2)
			default:
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
