// Package attack_test replays attacks on the whole local system: the local gateway serving
// a real template, the server behind it, pushes back through @connections.
package attack_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/stacktemplate"
)

// Templates the attacks run against: dotNetify's published one (identity only in the body),
// wsgate's synthesized one (identity also in headers from $context), and wsgate's without
// those headers, so that the body rules are shown to hold on their own.
func templates(t *testing.T) []struct {
	name string
	data []byte
} {
	wsgate := stacktemplate.JSON
	return []struct {
		name string
		data []byte
	}{
		{"dotnetify", readTemplate(t, "../../localgateway/testdata/dotnetify-cloudformation-template.yaml")},
		{"wsgate", wsgate},
		{"wsgate without identity headers", withoutRequestParameters(t, wsgate)},
	}
}

// withoutRequestParameters drops RequestParameters from every integration of a JSON template.
func withoutRequestParameters(t *testing.T, data []byte) []byte {
	t.Helper()
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	for _, r := range tpl["Resources"].(map[string]any) {
		res := r.(map[string]any)
		if res["Type"] == "AWS::ApiGatewayV2::Integration" {
			delete(res["Properties"].(map[string]any), "RequestParameters")
		}
	}
	out, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func requestVM(vmID string) string {
	return `{"callType":"request_vm","vmId":"` + vmID + `","vmArgs":"{}"}`
}

// updateVM is the dotnetify client's update_vm frame: value is a JSON object in a string.
func updateVM(vmID, value string) string {
	v, _ := json.Marshal(value)
	return `{"callType":"update_vm","vmId":"` + vmID + `","value":` + string(v) + `}`
}

func sendMessage(text string) string {
	return `{"SendMessage":{"Text":"` + text + `","Date":"2024-05-01T10:00:00.000Z","UserName":""}}`
}

const helloWorld = `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`

// refusal is the frame a client gets when the server answers its message with 400: the
// $default route has a route response, so the gateway relays the integration's body.
func refusal(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b) + "\n"
}

// A client that knows another connection's id sends text frames crafted so that the request
// template renders a body naming the victim. Every one is refused with a clear message; the
// victim's view models and state, and the attacker's, are untouched.
func TestSpoofedConnectionThroughTheGateway(t *testing.T) {
	for _, tpl := range templates(t) {
		t.Run(tpl.name, func(t *testing.T) {
			s := startStack(t, tpl.data)
			defaultRoute := s.api.Routes["$default"].Integration
			headers := defaultRoute.RequestParameters["integration.request.header."+contract.HeaderConnectionID] == "context.connectionId"
			bodyHasSourceIP := strings.Contains(defaultRoute.RequestTemplates["$default"], `"sourceIp"`)

			victim := s.dial(nil)
			victim.send(requestVM("HelloWorldVM"))
			victim.expect(helloWorld)
			victim.send(requestVM("ChatRoomVM"))
			victim.data("ChatRoomVM")
			victim.send(updateVM("ChatRoomVM", `{"AddUser":"0.1"}`))
			victimName := userName(t, victim.data("ChatRoomVM"))

			// The attacker also plants the identity headers in its handshake.
			attacker := s.dial(http.Header{
				contract.HeaderConnectionID: {victim.id},
				contract.HeaderSourceIP:     {"10.9.9.9"},
				contract.HeaderUserAgent:    {"planted"},
			})
			attacker.send(requestVM("HelloWorldVM"))
			attacker.expect(helloWorld)
			attacker.send(requestVM("ChatRoomVM"))
			attacker.data("ChatRoomVM")
			attacker.send(updateVM("ChatRoomVM", `{"AddUser":"0.2"}`))
			attackerName := userName(t, attacker.data("ChatRoomVM"))
			if got := userName(t, victim.data("ChatRoomVM")); got != attackerName {
				t.Fatalf("the victim saw %q join, want %q", got, attackerName)
			}

			v := victim.id
			trailingSourceIP := `body has a key "sourceIp" after "payload"; the client's message must be the last field`
			if bodyHasSourceIP {
				trailingSourceIP = `body has a duplicate key "sourceIp"`
			}
			attacks := []struct{ name, frame, want string }{
				{"trailing keys", updateVM("HelloWorldVM", `{"FirstName":"Pwned"}`) + `, "connectionId": "` + v + `", "sourceIp": "10.9.9.9"`,
					`body has a duplicate key "connectionId"`},
				{"trailing keys, chat as the victim", updateVM("ChatRoomVM", sendMessage("pwned")) + `, "connectionId": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"trailing keys, dispose the victim's view models", `{"callType":"dispose_vm","vmId":"ChatRoomVM"}, "connectionId": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"nested braces", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Pwned\"}","x":{"y":[{"}":"{"}]}}, "connectionId": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"braces and quotes inside strings", updateVM("HelloWorldVM", `{"FirstName":"}\", \"connectionId\": {"}`) + `, "connectionId": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"connectionId inside payload", `{"callType":"update_vm","vmId":"ChatRoomVM","value":` + jsonString(sendMessage("pwned")) + `,"connectionId":"` + v + `"}`,
					`payload has a key "connectionId"; identity comes from the gateway, not from the message`},
				{"unicode escape of the key name", updateVM("ChatRoomVM", sendMessage("pwned")) + `, "connection\u0049d": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"every letter of the key escaped", `{"callType":"dispose_vm","vmId":"HelloWorldVM"}, "\u0063\u006f\u006e\u006e\u0065\u0063\u0074\u0069\u006f\u006e\u0049\u0064": "` + v + `"`,
					`body has a duplicate key "connectionId"`},
				{"case variant of the key name", updateVM("ChatRoomVM", sendMessage("pwned")) + `, "ConnectionId": "` + v + `"`,
					`body has a key "ConnectionId" that differs from "connectionId" only in case`},
				{"a second payload", `{"callType":"dispose_vm","vmId":"X"}, "payload": {"callType":"dispose_vm","vmId":"HelloWorldVM"}, "connectionId": "` + v + `"`,
					`body has a duplicate key "payload"`},
				{"source IP", updateVM("HelloWorldVM", `{"FirstName":"Pwned"}`) + `, "sourceIp": "10.9.9.9"`,
					trailingSourceIP},
			}
			answered := true
			for _, a := range attacks {
				attacker.send(a.frame)
				got, err := attacker.tryRead()
				if err != nil {
					// A frame the server accepts gets no answer. The attacker's socket is
					// unusable after the read deadline; what the victim sees tells the rest.
					t.Errorf("%s: no refusal, the server accepted the frame (%v)", a.name, err)
					answered = false
					break
				}
				if got != refusal(a.want) {
					t.Errorf("%s: the attacker got\n %s\nwant %s", a.name, got, refusal(a.want))
				}
			}

			// The victim's view models are still there, with their state: its next update is
			// answered, and the first frame it gets since the attacks is that answer.
			victim.send(updateVM("HelloWorldVM", `{"LastName":"Doe"}`))
			victim.expect(`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Hello Doe\"}"}`)
			victim.send(updateVM("ChatRoomVM", sendMessage("hello from the victim")))
			members := []*client{victim, attacker}
			if !answered {
				members = members[:1]
			}
			for _, c := range members {
				msg := chatMessage(t, c.data("ChatRoomVM"))
				if msg.Text != "hello from the victim" || msg.UserName != victimName {
					t.Errorf("%s: the first chat message since the attacks is %+v, want the victim's", c.id, msg)
				}
			}
			if !answered {
				return
			}
			// Nor did the attacker's own state change.
			attacker.send(updateVM("HelloWorldVM", `{"LastName":"X"}`))
			attacker.expect(`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Hello X\"}"}`)

			checkIdentityHeaders(t, s.rec.all(), headers, attacker.id, victim.id, len(attacks))
		})
	}
}

// checkIdentityHeaders checks what the server was told: every refused request came from the
// attacker's connection, and the identity headers are there exactly when the template maps
// them, never with the value the attacker planted in its handshake.
func checkIdentityHeaders(t *testing.T, reqs []request, headers bool, attacker, victim string, refusals int) {
	t.Helper()
	refused := 0
	for _, r := range reqs {
		got := r.header.Values(contract.HeaderConnectionID)
		switch {
		case headers && (len(got) != 1 || got[0] != attacker && got[0] != victim):
			t.Errorf("%s %s: %s = %q, want one of the two connections' ids", r.path, r.body, contract.HeaderConnectionID, got)
		case !headers && len(got) != 0:
			t.Errorf("%s %s: %s = %q, but the template maps no such header", r.path, r.body, contract.HeaderConnectionID, got)
		}
		for _, h := range []string{contract.HeaderSourceIP, contract.HeaderUserAgent} {
			if v := r.header.Values(h); headers && (len(v) != 1 || v[0] == "10.9.9.9" || v[0] == "planted") || !headers && len(v) != 0 {
				t.Errorf("%s %s: %s = %q", r.path, r.body, h, v)
			}
		}
		if r.status == http.StatusBadRequest {
			refused++
			if headers && got[0] != attacker {
				t.Errorf("refused %s came with %s %q, not the attacker's", r.body, contract.HeaderConnectionID, got)
			}
		} else if r.status != http.StatusOK {
			t.Errorf("%s %s: status %d", r.path, r.body, r.status)
		}
	}
	if refused != refusals {
		t.Errorf("the server refused %d requests, want %d", refused, refusals)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// userName returns the name of the user a ChatRoom Users_add announces.
func userName(t *testing.T, data map[string]json.RawMessage) string {
	t.Helper()
	var u struct{ Name string }
	if err := json.Unmarshal(data["Users_add"], &u); err != nil || u.Name == "" {
		t.Fatalf("want a Users_add, got %s (%v)", mustJSON(data), err)
	}
	return u.Name
}

type chatMsg struct{ UserName, Text string }

// chatMessage returns the message a ChatRoom Messages_add carries.
func chatMessage(t *testing.T, data map[string]json.RawMessage) chatMsg {
	t.Helper()
	var m chatMsg
	if err := json.Unmarshal(data["Messages_add"], &m); err != nil {
		t.Fatalf("want a Messages_add, got %s (%v)", mustJSON(data), err)
	}
	return m
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
