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

	"github.com/wsgate/wsgate/server/protocol"
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

// entry is one key of an update_vm's value or a request_vm's arguments, in the order the
// client sent them (package protocol splits them).
type entry = protocol.Arg
