package vm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
)

type fuzzTarget struct {
	S  string
	I  int
	U  uint8
	F  float64
	B  bool
	P  *int
	L  []string
	St struct{ A int }
}

// FuzzUpdateDecoding: the decoders behind update_vm and $vmArg (ordered keys, coercion to
// every field kind) return errors for bad input and never panic.
func FuzzUpdateDecoding(f *testing.F) {
	for _, s := range []string{
		`{"S":"x","I":"2","U":300,"F":"1.5","B":"True","P":null,"L":["a"],"St":{"A":1}}`,
		`{"I":{"a":1}}`, `{"St":"{\"A\":2}"}`, `{"B":"yes"}`, `{}`, `{"a":1,"a":2}`, `[1]`, `{"x":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		entries, err := orderedEntries(obj)
		want, wantErr := referenceEntries(obj)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("orderedEntries(%q) error %v, reference %v", obj, err, wantErr)
		}
		if err != nil {
			return
		}
		if len(entries) != len(want) {
			t.Fatalf("orderedEntries(%q) = %d entries, reference %d", obj, len(entries), len(want))
		}
		for i := range want {
			if entries[i].key != want[i].key || string(entries[i].value) != string(want[i].value) {
				t.Fatalf("entry %d of %q: %q=%s, reference %q=%s", i, obj, entries[i].key, entries[i].value, want[i].key, want[i].value)
			}
		}
		st := reflect.TypeFor[fuzzTarget]()
		for _, e := range entries {
			if !json.Valid(e.value) {
				t.Fatalf("entry %q has invalid JSON %q", e.key, e.value)
			}
			for i := range st.NumField() {
				v, err := coerce(e.value, st.Field(i).Type)
				if err == nil && v.Type() != st.Field(i).Type {
					t.Fatalf("coerce to %v gave %v", st.Field(i).Type, v.Type())
				}
			}
		}
		_, _, _ = splitVMArgs(obj)
	})
}

// referenceEntries is the straightforward decoder-based split the fast one must match.
func referenceEntries(obj []byte) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out []entry
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
		out = append(out, entry{key: key, value: bytes.TrimSpace(val)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data")
	}
	return out, nil
}
