package protocol

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeIntegration: any input either decodes to a consistent request or fails with a
// *Error; it never panics.
func FuzzDecodeIntegration(f *testing.F) {
	for _, s := range []string{
		`{"connectionId":"Wm1nYcO3IAMCJ2w="}`,
		`{"connectionId":"c","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`,
		`{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"{\"A\":1}"}}`,
		`{"connectionId":"c","payload":{"callType":"dispose_vm","vmId":"X"}}`,
		`{"connectionId":1}`, `[]`, ``, `{"connectionId":"c"} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeIntegration(body, 4096)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if req.ConnectionID == "" {
			t.Fatal("accepted an empty connectionId")
		}
		if m := req.Payload; m != nil {
			if m.VMID == "" {
				t.Fatal("accepted an empty vmId")
			}
			if m.CallType == CallUpdateVM && !json.Valid(m.Value) {
				t.Fatalf("invalid value %q", m.Value)
			}
			if m.VMArgs != nil && !json.Valid(m.VMArgs) {
				t.Fatalf("invalid vmArgs %q", m.VMArgs)
			}
		}
	})
}

// FuzzResponse: the encoded frame is valid JSON whose data round-trips for valid UTF-8.
func FuzzResponse(f *testing.F) {
	f.Add("HelloWorldVM", `{"FullName":"Jane <Doe> & co"}`)
	f.Add("X", "\x00\u2028\"\\")
	f.Fuzz(func(t *testing.T, vmID, data string) {
		frame := Response(vmID, []byte(data))
		var env struct {
			CallType string `json:"callType"`
			VMID     string `json:"vmId"`
			Data     string `json:"data"`
		}
		if err := json.Unmarshal(frame, &env); err != nil {
			t.Fatalf("invalid frame %q: %v", frame, err)
		}
		if env.CallType != "response_vm" {
			t.Fatalf("callType %q", env.CallType)
		}
		if isUTF8(vmID) && env.VMID != vmID {
			t.Fatalf("vmId %q became %q", vmID, env.VMID)
		}
		if isUTF8(data) && env.Data != data {
			t.Fatalf("data %q became %q", data, env.Data)
		}
	})
}

func isUTF8(s string) bool { return utf8.ValidString(s) }
