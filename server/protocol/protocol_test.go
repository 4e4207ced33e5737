package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// Test vectors of the protocol specification §2 and §4.2.
func TestDecodeIntegrationVectors(t *testing.T) {
	tests := []struct {
		name, body string
		want       IntegrationRequest
	}{
		{"connect", `{"connectionId":"Wm1nYcO3IAMCJ2w="}`, IntegrationRequest{ConnectionID: "Wm1nYcO3IAMCJ2w="}},
		{"connect with context", `{"connectionId":"A1=","sourceIp":"10.0.0.9","userAgent":"Mozilla/5.0"}`,
			IntegrationRequest{ConnectionID: "A1=", SourceIP: "10.0.0.9", UserAgent: "Mozilla/5.0"}},
		{"request_vm", `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`,
			IntegrationRequest{ConnectionID: "Wm1nYcO3IAMCJ2w=", Payload: &Message{CallType: "request_vm", VMID: "HelloWorldVM", VMArgs: json.RawMessage(`{}`)}}},
		{"request_vm with headers", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"HelloWorld","vmArgs":"{\"$vmArg\":{\"Foo\":1},\"$headers\":{\"Authorization\":\"Bearer TOKEN\"}}"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "request_vm", VMID: "HelloWorld", VMArgs: json.RawMessage(`{"$vmArg":{"Foo":1},"$headers":{"Authorization":"Bearer TOKEN"}}`)}}},
		{"request_vm child id", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"CompositeViewVM.FilterableMovieTableVM.MovieTableVM","vmArgs":"{}"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "request_vm", VMID: "CompositeViewVM.FilterableMovieTableVM.MovieTableVM", VMArgs: json.RawMessage(`{}`)}}},
		{"request_vm routing arg", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"Page1","vmArgs":"{\"$vmArg\":{\"RoutingState.Origin\":\"/page1\"}}"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "request_vm", VMID: "Page1", VMArgs: json.RawMessage(`{"$vmArg":{"RoutingState.Origin":"/page1"}}`)}}},
		{"request_vm without vmArgs", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"X"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "request_vm", VMID: "X"}}},
		{"update_vm", `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\"}"}}`,
			IntegrationRequest{ConnectionID: "Wm1nYcO3IAMCJ2w=", Payload: &Message{CallType: "update_vm", VMID: "HelloWorldVM", Value: json.RawMessage(`{"FirstName":"Jane"}`)}}},
		{"update_vm list path", `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"SimpleListVM","value":"{\"Employees.$1.FirstName\":\"Z\"}"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "update_vm", VMID: "SimpleListVM", Value: json.RawMessage(`{"Employees.$1.FirstName":"Z"}`)}}},
		{"dispose_vm", `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"dispose_vm","vmId":"HelloWorldVM"}}`,
			IntegrationRequest{ConnectionID: "Wm1nYcO3IAMCJ2w=", Payload: &Message{CallType: "dispose_vm", VMID: "HelloWorldVM"}}},
		{"call type compared case-insensitively", `{"connectionId":"c","payload":{"callType":"Dispose_VM","vmId":"X"}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "dispose_vm", VMID: "X"}}},
		{"payload without callType is a connect", `{"connectionId":"c","payload":{}}`, IntegrationRequest{ConnectionID: "c"}},
		{"null payload", `{"connectionId":"c","payload":null}`, IntegrationRequest{ConnectionID: "c"}},
		{"template whitespace", "{\n  \"connectionId\": \"c\",\n  \"payload\": {\"callType\":\"dispose_vm\",\"vmId\":\"X\"}\n}\n",
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "dispose_vm", VMID: "X"}}},
		{"unknown fields ignored", `{"connectionId":"c","requestTime":"x","payload":{"callType":"dispose_vm","vmId":"X","extra":1}}`,
			IntegrationRequest{ConnectionID: "c", Payload: &Message{CallType: "dispose_vm", VMID: "X"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeIntegration([]byte(tt.body), 0)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !equalRequest(got, tt.want) {
				t.Errorf("got %+v %+v, want %+v %+v", got, got.Payload, tt.want, tt.want.Payload)
			}
		})
	}
}

func equalRequest(a, b IntegrationRequest) bool {
	if a.ConnectionID != b.ConnectionID || a.SourceIP != b.SourceIP || a.UserAgent != b.UserAgent {
		return false
	}
	if (a.Payload == nil) != (b.Payload == nil) {
		return false
	}
	if a.Payload == nil {
		return true
	}
	return a.Payload.CallType == b.Payload.CallType && a.Payload.VMID == b.Payload.VMID &&
		string(a.Payload.VMArgs) == string(b.Payload.VMArgs) && string(a.Payload.Value) == string(b.Payload.Value)
}

// Every malformed class gets its own exact message.
func TestDecodeIntegrationErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty body", ``, "body is not a JSON object: empty"},
		{"not JSON", `hello`, "body is not a JSON object: not an object"},
		{"array", `[1]`, "body is not a JSON object: not an object"},
		{"truncated", `{"connectionId":"c"`, "body is not a JSON object: unexpected EOF"},
		{"trailing data", `{"connectionId":"c"} {}`, "body is not a JSON object: trailing data after the object"},
		{"missing connectionId", `{"payload":{"callType":"request_vm","vmId":"X","vmArgs":"{}"}}`, "connectionId is missing"},
		{"blank connectionId", `{"connectionId":"  "}`, "connectionId is missing or empty"},
		{"numeric connectionId", `{"connectionId":42}`, "connectionId must be a string, got a number"},
		{"object sourceIp", `{"connectionId":"c","sourceIp":{}}`, "sourceIp must be a string, got an object"},
		{"bool userAgent", `{"connectionId":"c","userAgent":true}`, "userAgent must be a string, got a boolean"},
		{"payload not an object", `{"connectionId":"c","payload":"x"}`, "payload is not a JSON object: not an object"},
		{"unknown callType", `{"connectionId":"c","payload":{"callType":"ping_vm","vmId":"X"}}`, `payload.callType "ping_vm" is not one of request_vm, update_vm, dispose_vm`},
		{"numeric callType", `{"connectionId":"c","payload":{"callType":1,"vmId":"X"}}`, "payload.callType must be a string, got a number"},
		{"missing vmId", `{"connectionId":"c","payload":{"callType":"dispose_vm"}}`, "payload.vmId is missing"},
		{"empty vmId", `{"connectionId":"c","payload":{"callType":"dispose_vm","vmId":""}}`, "payload.vmId is empty"},
		{"array vmId", `{"connectionId":"c","payload":{"callType":"dispose_vm","vmId":[]}}`, "payload.vmId must be a string, got an array"},
		{"object vmArgs (SignalR shape)", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"X","vmArgs":{}}}`, "payload.vmArgs must be a string, got an object"},
		{"vmArgs not JSON", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"X","vmArgs":"{oops"}}`, `payload.vmArgs must be a string holding a JSON object, got "{oops"`},
		{"vmArgs an array", `{"connectionId":"c","payload":{"callType":"request_vm","vmId":"X","vmArgs":"[1]"}}`, `payload.vmArgs must be a string holding a JSON object, got "[1]"`},
		{"object value", `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":{"A":1}}}`, "payload.value must be a string, got an object"},
		{"missing value", `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X"}}`, "payload.value is missing"},
		{"value a number string", `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"5"}}`, `payload.value must be a string holding a JSON object, got "5"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeIntegration([]byte(tt.body), 0)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
			if IsTooLarge(err) {
				t.Error("IsTooLarge = true")
			}
		})
	}
}

func TestDecodeIntegrationTooLarge(t *testing.T) {
	body := `{"connectionId":"c","payload":{"callType":"update_vm","vmId":"X","value":"{\"A\":\"` + strings.Repeat("x", 100) + `\"}"}}`
	_, err := DecodeIntegration([]byte(body), 64)
	if !IsTooLarge(err) {
		t.Fatalf("err = %v, want too large", err)
	}
	if want := "body is 189 bytes, over the limit of 64"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if _, err := DecodeIntegration([]byte(body), len(body)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestDecodeMessage(t *testing.T) {
	m, err := DecodeMessage([]byte(`{"callType":"update_vm","vmId":"HelloWorld","value":"{\"FirstName\":\"Jane\",\"Submit\":null}"}`))
	if err != nil || m.CallType != CallUpdateVM || string(m.Value) != `{"FirstName":"Jane","Submit":null}` {
		t.Fatalf("got %+v, %v", m, err)
	}
	if _, err := DecodeMessage([]byte(`{}`)); err == nil || err.Error() != "payload.callType is missing" {
		t.Errorf("empty frame: %v", err)
	}
}

// Encoding matches the reference server byte for byte (§3.1, §4.4).
func TestResponseEncoding(t *testing.T) {
	tests := []struct{ vmID, data, want string }{
		{"HelloWorldVM", `{"FirstName":"Hello","LastName":"World","FullName":"Hello World"}`,
			`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`},
		{"X", `{"A":"<b>&</b>","B":"é→"}`, `{"callType":"response_vm","vmId":"X","data":"{\"A\":\"<b>&</b>\",\"B\":\"é→\"}"}`},
		{"X", "{\"A\":\"line\\nbreak\\\\\"}", `{"callType":"response_vm","vmId":"X","data":"{\"A\":\"line\\nbreak\\\\\"}"}`},
		{"X", "{\"A\":\"\x01\u2028\"}", `{"callType":"response_vm","vmId":"X","data":"{\"A\":\"\u0001\u2028\"}"}`},
		{"Q\"uote", `{}`, `{"callType":"response_vm","vmId":"Q\"uote","data":"{}"}`},
	}
	for _, tt := range tests {
		got := string(Response(tt.vmID, []byte(tt.data)))
		if got != tt.want {
			t.Errorf("Response(%q, %s)\n got %s\nwant %s", tt.vmID, tt.data, got, tt.want)
		}
		var env struct{ Data string }
		if err := json.Unmarshal([]byte(got), &env); err != nil || env.Data != tt.data {
			t.Errorf("round trip of %s: %q, %v", tt.data, env.Data, err)
		}
	}
}

func TestExceptionData(t *testing.T) {
	got := string(Response("SecurePageVM", ExceptionData("UnauthorizedAccessException", "Attempted to perform an unauthorized operation.")))
	want := `{"callType":"response_vm","vmId":"SecurePageVM","data":"{\"ExceptionType\":\"UnauthorizedAccessException\",\"Message\":\"Attempted to perform an unauthorized operation.\"}"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestInvalidUTF8StaysValidJSON(t *testing.T) {
	got := Response("X", []byte("{\"A\":\"\xff\"}"))
	if !json.Valid(got) {
		t.Fatalf("invalid JSON: %q", got)
	}
}
