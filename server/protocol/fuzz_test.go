package protocol

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeIntegration: any input either decodes to a consistent request or fails with a
// *Error; it never panics. What it accepts is valid JSON, and encoding/json (which lets the
// last duplicate win and matches names in any case) reads the same identity and call from
// it: no body means one thing to the decoder and another to a JSON library.
func FuzzDecodeIntegration(f *testing.F) {
	for _, s := range []string{
		`{"connectionId":"Wm1nYcO3IAMCJ2w="}`,
		`{"connectionId":"c","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`,
		`{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"{\"A\":1}"}}`,
		`{"connectionId":"c","payload":{"callType":"dispose_vm","vmId":"X"}}`,
		`{"connectionId":1}`, `[]`, ``, `{"connectionId":"c"} x`,
		`{"connectionId":"a","payload":{"callType":"dispose_vm","vmId":"X"}, "connectionId": "b"}`,
		`{"connectionId":"a","payload":{"callType":"dispose_vm","vmId":"X"}, "connection\u0049d": "b"}`,
		`{"connectionId":"a","payload":{"callType":"dispose_vm","vmId":"X","CallType":"request_vm"}}`,
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
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var std struct {
			ConnectionID string
			SourceIP     string
			UserAgent    string
			Payload      *struct{ CallType, VMID string }
		}
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if std.ConnectionID != req.ConnectionID || std.SourceIP != req.SourceIP || std.UserAgent != req.UserAgent {
			t.Fatalf("encoding/json reads %+v, the decoder %+v", std, req)
		}
		if m := req.Payload; m != nil && (std.Payload == nil || !strings.EqualFold(std.Payload.CallType, m.CallType) || std.Payload.VMID != m.VMID) {
			t.Fatalf("encoding/json reads payload %+v, the decoder %+v", std.Payload, m)
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
