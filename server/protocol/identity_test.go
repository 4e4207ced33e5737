package protocol

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// The crafted frames of the connection-spoofing attack, rendered the way both request
// templates paste a client's text into the body ("payload": $input.body). None may make the
// decoder act for the victim; each is refused with a message naming the problem.
func TestDecodeIntegrationRefusesSpoofedIdentity(t *testing.T) {
	const update = `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Pwned\"}"}`
	dotnetify := func(frame string) string {
		return "{\n   \"connectionId\": \"ATTACKER=\",\n   \"payload\": " + frame + "\n}\n"
	}
	wsgate := func(frame string) string {
		return "{\n  \"connectionId\": \"ATTACKER=\",\n  \"sourceIp\": \"10.0.0.1\",\n  \"userAgent\": \"Go-http-client/1.1\",\n  \"payload\": " + frame + "\n}"
	}
	tests := []struct {
		name, frame, want string
		wantDotnetify     string // when dotNetify's template, which has no sourceIp or userAgent, differs
	}{
		{"trailing keys", update + `, "connectionId": "VICTIM=", "sourceIp": "10.9.9.9"`,
			`body has a duplicate key "connectionId"`, ""},
		{"trailing sourceIp only", update + `, "sourceIp": "10.9.9.9"`,
			`body has a duplicate key "sourceIp"`,
			`body has a key "sourceIp" after "payload"; the client's message must be the last field`},
		{"trailing unknown key", update + `, "x": 1`,
			`body has a key "x" after "payload"; the client's message must be the last field`, ""},
		{"trailing payload", `{"callType":"dispose_vm","vmId":"X"}, "payload": ` + update,
			`body has a duplicate key "payload"`, ""},
		{"nested braces", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{}","x":{"connectionId":"ATTACKER=","y":[{"}":"{"}]}}, "connectionId": "VICTIM="`,
			`body has a duplicate key "connectionId"`, ""},
		{"nested braces after the frame", update + `, "x": {"connectionId": "ATTACKER=", "y": [{"}": "{"}]}, "connectionId": "VICTIM="`,
			`body has a key "x" after "payload"; the client's message must be the last field`, ""},
		{"braces inside strings", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"}, \\\"connectionId\\\": {\"}"}, "connectionId": "VICTIM="`,
			`body has a duplicate key "connectionId"`, ""},
		{"unicode escape of the key", update + `, "connection\u0049d": "VICTIM="`,
			`body has a duplicate key "connectionId"`, ""},
		{"every letter escaped", update + `, "\u0063\u006f\u006e\u006e\u0065\u0063\u0074\u0069\u006f\u006e\u0049\u0064": "VICTIM="`,
			`body has a duplicate key "connectionId"`, ""},
		{"escaped solidus is no disguise", `{"callType":"dispose_vm","vmId":"X","a\/b":1,"a/b":2}`,
			`body has a duplicate key "a/b"`, ""},
		{"case variant", update + `, "ConnectionID": "VICTIM="`,
			`body has a key "ConnectionID" that differs from "connectionId" only in case`, ""},
		{"case fold of a non-ASCII letter", update + `, "ſourceIp": "10.9.9.9"`,
			`body has a key "ſourceIp" that differs from "sourceIp" only in case`, ""},
		{"connectionId inside payload", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{}","connectionId":"VICTIM="}`,
			`payload has a key "connectionId"; identity comes from the gateway, not from the message`, ""},
		{"sourceIp inside payload, escaped", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{}","source\u0049p":"10.9.9.9"}`,
			`payload has a key "sourceIp"; identity comes from the gateway, not from the message`, ""},
		{"duplicate callType", `{"callType":"request_vm","vmId":"HelloWorldVM","callType":"dispose_vm"}`,
			`body has a duplicate key "callType"`, ""},
		{"duplicate vmId differing only by escapes", `{"callType":"dispose_vm","vmId":"A","vm\u0049d":"B"}`,
			`body has a duplicate key "vmId"`, ""},
		{"duplicate deep inside an unknown field", `{"callType":"dispose_vm","vmId":"A","x":{"y":[1,{"z":1,"\u007a":2}]}}`,
			`body has a duplicate key "z"`, ""},
	}
	for _, tt := range tests {
		for _, tpl := range []struct {
			name   string
			render func(string) string
		}{{"dotnetify", dotnetify}, {"wsgate", wsgate}} {
			t.Run(tt.name+"/"+tpl.name, func(t *testing.T) {
				body := tpl.render(tt.frame)
				req, err := DecodeIntegration([]byte(body), 0)
				if err == nil {
					t.Fatalf("accepted as %q (payload %+v)", req.ConnectionID, req.Payload)
				}
				want := tt.want
				if tpl.name == "dotnetify" && tt.wantDotnetify != "" {
					want = tt.wantDotnetify
				}
				if err.Error() != want {
					t.Errorf("error = %q, want %q", err, want)
				}
				if _, ok := err.(*Error); !ok {
					t.Errorf("error of type %T", err)
				}
			})
		}
	}
}

// Duplicate keys in the JSON a client embeds in value or vmArgs are refused too: the runtime
// would otherwise see only one of them.
func TestDecodeIntegrationRefusesDuplicatesInEmbeddedObjects(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"value", `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"{\"A\":1,\"\\u0041\":2}"}}`,
			`payload.value has a duplicate key "A"`},
		{"vmArgs", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"X","vmArgs":"{\"$vmArg\":{\"B\":1,\"B\":2}}"}}`,
			`payload.vmArgs has a duplicate key "B"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeIntegration([]byte(tt.body), 0)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// A frame sent on its own (DecodeMessage) is held to the same rules.
func TestDecodeMessageRefusesDuplicates(t *testing.T) {
	tests := []struct{ frame, want string }{
		{`{"callType":"update_vm","vmId":"X","value":"{}","vmId":"Y"}`, `payload has a duplicate key "vmId"`},
		{`{"callType":"update_vm","vmId":"X","value":"{}","connectionId":"V"}`, `payload has a key "connectionId"; identity comes from the gateway, not from the message`},
		{`{"callType":"update_vm","VMID":"X","value":"{}"}`, `payload has a key "VMID" that differs from "vmId" only in case`},
	}
	for _, tt := range tests {
		_, err := DecodeMessage([]byte(tt.frame))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.frame, err, tt.want)
		}
	}
}

// Distinct keys that only look alike are different keys, and objects with many keys are
// checked as well as small ones.
func TestDecodeIntegrationDistinctKeys(t *testing.T) {
	keys := make([]string, 200)
	for i := range keys {
		keys[i] = `"k` + strconv.Itoa(i) + `":1`
	}
	many := `{"connectionId":"c","x":{` + strings.Join(keys, ",") + `}}`
	accepted := []string{
		`{"connectionId":"c","x":{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}}`,
		`{"connectionId":"c","x":{"connectionId":"other"}}`,
		`{"connectionId":"c","x":{"a":1,"A":2}}`,
		`{"connectionId":"c","x":{"\u00e9":1,"e\u0301":2}}`,
		many,
	}
	for _, body := range accepted {
		if _, err := DecodeIntegration([]byte(body), 1<<20); err != nil {
			t.Errorf("%.80s: %v", body, err)
		}
	}
	dup := strings.Replace(many, `}}`, `,"k150":2}}`, 1)
	if _, err := DecodeIntegration([]byte(dup), 1<<20); err == nil || err.Error() != `body has a duplicate key "k150"` {
		t.Errorf("duplicate among many keys: %v", err)
	}
	if _, err := DecodeIntegration([]byte(`{"connectionId":"c","x":{"\u00e9":1,"é":2}}`), 0); err == nil || err.Error() != `body has a duplicate key "é"` {
		t.Errorf("escaped and literal é: %v", err)
	}
}

// Syntax the scanner must refuse as encoding/json does, with its own messages.
func TestDecodeIntegrationSyntax(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"bad escape", `{"connectionId":"\q"}`, `body is not a JSON object: invalid escape "\\q" at offset 17`},
		{"short unicode escape", `{"connectionId":"\u12"}`, `body is not a JSON object: invalid escape "\\u12\"" at offset 17`},
		{"control character in a string", "{\"connectionId\":\"a\x01\"}", `body is not a JSON object: invalid character "\x01" in a string at offset 18`},
		{"leading zero", `{"connectionId":"c","n":01}`, `body is not a JSON object: invalid character "1" at offset 25`},
		{"bare minus", `{"connectionId":"c","n":-}`, `body is not a JSON object: invalid character "}" at offset 25`},
		{"dot without digits", `{"connectionId":"c","n":1.}`, `body is not a JSON object: invalid character "}" at offset 26`},
		{"exponent without digits", `{"connectionId":"c","n":1e+}`, `body is not a JSON object: invalid character "}" at offset 27`},
		{"bad literal", `{"connectionId":"c","n":nul}`, `body is not a JSON object: invalid character "}" at offset 27`},
		{"trailing comma", `{"connectionId":"c",}`, `body is not a JSON object: invalid character "}" at offset 20`},
		{"missing colon", `{"connectionId" "c"}`, `body is not a JSON object: invalid character "\"" at offset 16`},
		{"unquoted key", `{connectionId:"c"}`, `body is not a JSON object: invalid character "c" at offset 1`},
		{"array trailing comma", `{"connectionId":"c","a":[1,]}`, `body is not a JSON object: invalid character "]" at offset 27`},
		{"truncated in a string", `{"connectionId":"c`, `body is not a JSON object: unexpected EOF`},
		{"truncated in an escape", `{"connectionId":"c\`, `body is not a JSON object: unexpected EOF`},
		{"too deep", `{"connectionId":"c","a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, `body is not a JSON object: nested deeper than 64 levels at offset 87`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeIntegration([]byte(tt.body), 0)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\n                 want %s", err, tt.want)
			}
			if json.Valid([]byte(tt.body)) && tt.name != "too deep" {
				t.Errorf("encoding/json finds %s valid", tt.body)
			}
		})
	}
}

// Client-controlled text in error messages is cut short, so a refusal cannot carry (or log)
// a whole message back.
func TestErrorMessagesAreShort(t *testing.T) {
	long := strings.Repeat("x", 10000)
	for _, body := range []string{
		`{"connectionId":"c","payload":{"callType":"` + long + `","vmId":"X"}}`,
		`{"connectionId":"c","` + long + `":1,"` + long + `":2}`,
		`{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"` + long + `"}}`,
	} {
		_, err := DecodeIntegration([]byte(body), 1<<20)
		if err == nil || len(err.Error()) > 200 {
			t.Errorf("error of %d bytes: %.120v", len(err.Error()), err)
		}
	}
}

var benchBody = []byte(`{"connectionId":"Wm1nYcO3IAMCJ2w=","sourceIp":"10.0.0.9","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36","payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\",\"LastName\":\"Doe\"}"}}`)

func BenchmarkDecodeIntegration(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeIntegration(benchBody, 0); err != nil {
			b.Fatal(err)
		}
	}
}
