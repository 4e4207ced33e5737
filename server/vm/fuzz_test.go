package vm

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/wsgate/wsgate/server/protocol"
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

// FuzzUpdateDecoding: coercion of what a client sends in update_vm and $vmArg, to every field
// kind, returns errors for bad input and never panics.
func FuzzUpdateDecoding(f *testing.F) {
	for _, s := range []string{
		`{"S":"x","I":"2","U":300,"F":"1.5","B":"True","P":null,"L":["a"],"St":{"A":1}}`,
		`{"I":{"a":1}}`, `{"St":"{\"A\":2}"}`, `{"B":"yes"}`, `{}`, `{"a":1,"a":2}`, `[1]`, `{"x":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		// What the runtime receives: the object as an update_vm's value, split by protocol
		// (whose FuzzArgs checks the split against a reference decoder).
		value, _ := json.Marshal(string(obj))
		m, err := protocol.DecodeMessage([]byte(`{"callType":"update_vm","vmId":"X","value":` + string(value) + `}`))
		if err != nil {
			return
		}
		st := reflect.TypeFor[fuzzTarget]()
		for _, e := range m.Args {
			if !json.Valid(e.Value) {
				t.Fatalf("entry %q has invalid JSON %q", e.Key, e.Value)
			}
			for i := range st.NumField() {
				v, err := coerce(e.Value, st.Field(i).Type)
				if err == nil && v.Type() != st.Field(i).Type {
					t.Fatalf("coerce to %v gave %v", st.Field(i).Type, v.Type())
				}
			}
		}
	})
}
