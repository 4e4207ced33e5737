package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Arg is one key of a JSON object a client sent, with its raw value, in the order it sent
// them: an update_vm's property set or command call, or an argument of a request_vm.
type Arg struct {
	Key   string
	Value json.RawMessage
}

// Keys of vmArgs and of an update_vm's value that are not the view model's.
const (
	// argVMArg holds a request_vm's arguments, as dotNetify's client sends them.
	argVMArg = "$vmArg"
	// argHeaders holds the client's headers (dotNetify's `headers` option).
	argHeaders = "$headers"
)

// requestArgs splits a request_vm's vmArgs (a scanned, valid JSON object, or nil) into its
// arguments and headers: the keys of $vmArg, or without $vmArg the other keys (as in
// dotNetify); $headers is taken out. A $vmArg that is neither an object nor null is an error.
func requestArgs(vmArgs json.RawMessage) ([]Arg, map[string]string, error) {
	if vmArgs == nil {
		return nil, nil, nil
	}
	args, headers := takeHeaders(members(vmArgs))
	for _, a := range args {
		if a.Key != argVMArg {
			continue
		}
		if string(a.Value) == "null" {
			return nil, headers, nil
		}
		if a.Value[0] != '{' {
			return nil, nil, errorf("payload.vmArgs: %s must be a JSON object, got %s", argVMArg, kind(a.Value))
		}
		return members(a.Value), headers, nil
	}
	return args, headers, nil
}

// takeHeaders removes the $headers key from args and reads it: each header's value as text
// (a string's content, otherwise its JSON). A $headers that is not an object states none,
// as in dotNetify.
func takeHeaders(args []Arg) ([]Arg, map[string]string) {
	var headers map[string]string
	out := args[:0:0]
	for _, a := range args {
		if a.Key != argHeaders {
			out = append(out, a)
			continue
		}
		if a.Value[0] != '{' {
			continue
		}
		hs := members(a.Value)
		headers = make(map[string]string, len(hs))
		for _, h := range hs {
			headers[h.Key] = Text(h.Value)
		}
	}
	if len(out) == 0 {
		out = nil
	}
	return out, headers
}

// Text is .NET's string form of a JSON value: a string's content, otherwise the JSON text
// itself.
func Text(raw json.RawMessage) string {
	s, _ := text(raw)
	return s
}

// text is Text, and whether raw was a string.
func text(raw json.RawMessage) (string, bool) {
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

// members splits a JSON object, already checked by the scanner (valid, no duplicate keys),
// into its keys in document order, slicing the values without decoding them (a decoder's
// token API costs more than the rest of an update).
func members(obj json.RawMessage) []Arg {
	i := skipSpace(obj, 0)
	i = skipSpace(obj, i+1) // past the brace
	var out []Arg
	for i < len(obj) && obj[i] != '}' {
		end := skipString(obj, i)
		key, _ := text(obj[i:end])
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		vend := skipValue(obj, i)
		out = append(out, Arg{Key: key, Value: obj[i:vend]})
		i = skipSpace(obj, vend)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return out
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] (a quote).
func skipString(b []byte, i int) int {
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

// skipValue returns the index just past the (valid) JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
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
