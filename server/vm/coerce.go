package vm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// coerce converts a JSON value from the client to t, following dotNetify's rules: strings
// convert to numbers and booleans ("2" → 2, "true" → true), scalars convert to strings,
// null is the zero value, and other types decode as JSON (also from a string holding JSON).
func coerce(raw json.RawMessage, t reflect.Type) (reflect.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return reflect.Zero(t), nil
	}
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
		v, err := coerce(raw, t.Elem())
		if err != nil {
			return reflect.Value{}, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(v)
		return p, nil
	}
	text, isString := scalarText(raw)
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.String:
		v.SetString(text)
		return v, nil
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(text)))
		if err != nil {
			return v, fmt.Errorf("cannot convert %s to bool", short(raw))
		}
		v.SetBool(b)
		return v, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("cannot convert %s to %v", short(raw), t)
		}
		v.SetInt(n)
		return v, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(text), 10, t.Bits())
		if err != nil {
			return v, fmt.Errorf("cannot convert %s to %v", short(raw), t)
		}
		v.SetUint(n)
		return v, nil
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), t.Bits())
		if err != nil {
			return v, fmt.Errorf("cannot convert %s to %v", short(raw), t)
		}
		// ParseFloat accepts "NaN", "Inf" and "Infinity"; JSON cannot carry them, so one
		// such value would make every later full state of the view model fail to encode.
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return v, fmt.Errorf("cannot convert %s to %v: not a finite number", short(raw), t)
		}
		v.SetFloat(f)
		return v, nil
	}
	src := []byte(raw)
	if isString {
		src = []byte(text) // a string that holds JSON for a structured type
	}
	if err := json.Unmarshal(src, v.Addr().Interface()); err != nil {
		return v, fmt.Errorf("cannot convert %s to %v: %v", short(raw), t, err)
	}
	return v, nil
}

// scalarText is .NET's string form of a JSON value: a string's content, otherwise the JSON
// text itself.
func scalarText(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && bytes.IndexByte(raw[1:n-1], '\\') < 0 && bytes.IndexByte(raw[1:n-1], '"') < 0 && utf8.Valid(raw[1:n-1]) {
		return string(raw[1 : n-1]), true // no escapes: the content is the text
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, true
		}
	}
	return string(raw), false
}

func short(raw json.RawMessage) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

// entry is one key of an update_vm value, in the order the client sent them.
type entry struct {
	key   string
	value json.RawMessage
}

// orderedEntries splits a JSON object into its keys in document order. It validates the
// whole object first, then slices it without decoding values (the decoder's token API costs
// more than the rest of an update).
func orderedEntries(obj json.RawMessage) ([]entry, error) {
	if !json.Valid(obj) {
		return nil, fmt.Errorf("not valid JSON")
	}
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	i = skipSpace(obj, i+1)
	var out []entry
	for obj[i] != '}' {
		end := scanString(obj, i)
		key, err := decodeKey(obj[i:end])
		if err != nil {
			return nil, err
		}
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		vend := scanValue(obj, i)
		out = append(out, entry{key: key, value: obj[i:vend]})
		i = skipSpace(obj, vend)
		if obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return out, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index just past the string starting at b[i] (a quote).
func scanString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// scanValue returns the index just past the (valid) JSON value starting at b[i].
func scanValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = scanString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	default:
		for i < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[i])) {
			i++
		}
		return i
	}
}

func decodeKey(raw []byte) (string, error) {
	if s, ok := scalarText(raw); ok {
		return s, nil
	}
	return "", fmt.Errorf("bad key %s", short(raw))
}
