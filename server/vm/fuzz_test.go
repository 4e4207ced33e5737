package vm

import (
	"encoding/json"
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
		if err != nil {
			return
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
