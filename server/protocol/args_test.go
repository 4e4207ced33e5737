package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"testing"
)

// The runtime gets a message's arguments and headers parsed: in the client's order, $headers
// taken out, $vmArg unwrapped.
func TestMessageArgsAndHeaders(t *testing.T) {
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	request := func(vmArgs string) string {
		return `{"callType":"request_vm","vmId":"X","vmArgs":` + quote(vmArgs) + `}`
	}
	update := func(value string) string { return `{"callType":"update_vm","vmId":"X","value":` + quote(value) + `}` }
	tests := []struct {
		frame   string
		args    []Arg
		headers map[string]string
	}{
		{`{"callType":"request_vm","vmId":"X"}`, nil, nil},
		{request(`{}`), nil, nil},
		{request(`{"$vmArg":{"b":1,"a":"x"},"$headers":{"Authorization":"Bearer t","N":3}}`),
			[]Arg{{"b", json.RawMessage(`1`)}, {"a", json.RawMessage(`"x"`)}}, map[string]string{"Authorization": "Bearer t", "N": "3"}},
		// Without $vmArg the other keys are the arguments, as in dotNetify.
		{request(`{"x": [1, "}"] , "$headers":{}}`), []Arg{{"x", json.RawMessage(`[1, "}"]`)}}, map[string]string{}},
		{request(`{"$vmArg":null,"y":2}`), nil, nil},
		{update(`{"A":"1","$headers":{"H":"v\u0041"},"B":{"c":"{"}}`),
			[]Arg{{"A", json.RawMessage(`"1"`)}, {"B", json.RawMessage(`{"c":"{"}`)}}, map[string]string{"H": "vA"}},
		{update(`{"N\u0061me":"x"}`), []Arg{{"Name", json.RawMessage(`"x"`)}}, nil},
		// A $headers that is not an object states none.
		{update(`{"$headers":"x","A":1}`), []Arg{{"A", json.RawMessage(`1`)}}, nil},
		{update(`{"$headers":{"H":"v"}}`), nil, map[string]string{"H": "v"}},
	}
	for _, tt := range tests {
		m, err := DecodeMessage([]byte(tt.frame))
		if err != nil {
			t.Errorf("%s: %v", tt.frame, err)
			continue
		}
		if !reflect.DeepEqual(m.Args, tt.args) {
			t.Errorf("%s: Args %s, want %s", tt.frame, showArgs(m.Args), showArgs(tt.args))
		}
		if (m.Headers == nil) != (tt.headers == nil) || !maps.Equal(m.Headers, tt.headers) {
			t.Errorf("%s: Headers %#v, want %#v", tt.frame, m.Headers, tt.headers)
		}
	}
}

func TestVMArgNotAnObjectIsRefused(t *testing.T) {
	for frame, want := range map[string]string{
		`{"callType":"request_vm","vmId":"X","vmArgs":"{\"$vmArg\":\"x\"}"}`: `payload.vmArgs: $vmArg must be a JSON object, got a string`,
		`{"callType":"request_vm","vmId":"X","vmArgs":"{\"$vmArg\":[1]}"}`:   `payload.vmArgs: $vmArg must be a JSON object, got an array`,
	} {
		if _, err := DecodeMessage([]byte(frame)); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", frame, err, want)
		}
	}
}

func showArgs(args []Arg) string {
	s := "["
	for _, a := range args {
		s += fmt.Sprintf("%s=%s ", a.Key, a.Value)
	}
	return s + "]"
}

// FuzzArgs: an update_vm's value that decodes is split into the same keys and values, in
// the same order, as a straightforward decoder reads them ($headers aside).
func FuzzArgs(f *testing.F) {
	for _, s := range []string{
		`{"S":"x","I":"2","U":300,"F":"1.5","B":"True","P":null,"L":["a"],"St":{"A":1}}`,
		`{"I":{"a":1}}`, `{"St":"{\"A\":2}"}`, `{}`, `{"a":1,"a":2}`, `[1]`, `{"x":`, `{ "k\"" : "]}" , "$headers" : {"a":"b"} }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		value, _ := json.Marshal(string(obj))
		m, err := DecodeMessage([]byte(`{"callType":"update_vm","vmId":"X","value":` + string(value) + `}`))
		if err != nil {
			return
		}
		want, err := referenceArgs(m.Value)
		if err != nil {
			t.Fatalf("accepted %q, which the reference refuses: %v", obj, err)
		}
		var got []Arg
		for _, a := range want {
			if a.Key != "$headers" {
				got = append(got, a)
			}
		}
		if len(got) != len(m.Args) {
			t.Fatalf("%q: %d args, reference %d", obj, len(m.Args), len(got))
		}
		for i := range got {
			if m.Args[i].Key != got[i].Key || string(m.Args[i].Value) != string(got[i].Value) {
				t.Fatalf("arg %d of %q: %q=%s, reference %q=%s", i, obj, m.Args[i].Key, m.Args[i].Value, got[i].Key, got[i].Value)
			}
		}
	})
}

// referenceArgs is the straightforward decoder-based split the fast one must match.
func referenceArgs(obj []byte) ([]Arg, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []Arg
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		out = append(out, Arg{Key: key, Value: bytes.TrimSpace(val)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return out, nil
}
