package integration_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// whoIs shows the principal the runtime was handed: in its constructor, and to a command
// through vm.CallerOf.
type whoIs struct {
	vm.Base
	Authorizer   map[string]string
	CommandSawBy string
	Principal    string
	Who          func(ctx context.Context) `vm:"command"`
}

func registerWhoIs(reg *vm.Registry) error {
	return vm.Register(reg, "WhoIsVM", func(r *vm.Request) (*whoIs, error) {
		w := &whoIs{Principal: r.Caller.Principal, Authorizer: r.Caller.Authorizer}
		w.Who = func(ctx context.Context) {
			c, _ := vm.CallerOf(ctx)
			w.CommandSawBy = c.Principal
			w.Changed("CommandSawBy")
		}
		return w, nil
	})
}

func whoIsFrame(t *testing.T, principal string, authorizer map[string]string) string {
	t.Helper()
	data, err := json.Marshal(struct {
		Authorizer   map[string]string
		CommandSawBy string
		Principal    string
		Who          any // a command field serialises as null
	}{authorizer, "", principal, nil})
	if err != nil {
		t.Fatal(err)
	}
	return string(protocol.Response("WhoIsVM", data))
}

const requestWhoIs = `{"callType":"request_vm","vmId":"WhoIsVM","vmArgs":"{}"}`

// principalHeaders are the identity headers plus what the constructs map from
// $context.authorizer on an authorized connection.
func principalHeaders(id, principal string, kv ...string) []string {
	h := append(identityHeaders(id, "203.0.113.7", "UA"), contract.HeaderPrincipal, principal)
	for i := 0; i+1 < len(kv); i += 2 {
		h = append(h, contract.HeaderAuthorizerPrefix+kv[i], kv[i+1])
	}
	return h
}

// The principal and the authorizer's context reach the constructor (Request.Caller) and
// later calls (CallerOf in a command) from the headers the integration maps from $context.
// Context keys arrive in lower case whatever case their header had.
func TestPrincipalReachesViewModels(t *testing.T) {
	s := newStack(t, stackOptions{register: registerWhoIs})
	h := principalHeaders(conn, "user-7", "Tenant", "acme", "role", "admin")
	if status, resp := s.postHeaders(integration.PathMessage, `{"connectionId":"`+conn+`"}`, h); status != http.StatusOK {
		t.Fatalf("$connect: %d %s", status, resp)
	}
	if status, resp := s.postHeaders(integration.PathMessage, `{"connectionId":"`+conn+`","payload":`+requestWhoIs+`}`, h); status != http.StatusOK {
		t.Fatalf("request_vm: %d %s", status, resp)
	}
	s.expect(conn, whoIsFrame(t, "user-7", map[string]string{"tenant": "acme", "role": "admin"}))

	call := `{"callType":"update_vm","vmId":"WhoIsVM","value":"{\"Who\":null}"}`
	if status, resp := s.postHeaders(integration.PathMessage, `{"connectionId":"`+conn+`","payload":`+call+`}`, h); status != http.StatusOK {
		t.Fatalf("update_vm: %d %s", status, resp)
	}
	s.expect(conn, string(protocol.Response("WhoIsVM", []byte(`{"CommandSawBy":"user-7"}`))))
	if status, resp := s.postHeaders(integration.PathDisconnect, `{"connectionId":"`+conn+`"}`, h); status != http.StatusOK {
		t.Fatalf("$disconnect: %d %s", status, resp)
	}
	s.quiet(conn)
}

// Nothing the client writes makes a principal: not a key of the integration body, not
// $headers, not $vmArg. Without the header the view model sees none.
func TestPrincipalNeverComesFromTheClient(t *testing.T) {
	s := newStack(t, stackOptions{register: registerWhoIs})
	frame := `{"callType":"request_vm","vmId":"WhoIsVM","vmArgs":"{\"$headers\":{\"X-Wsgate-Principal\":\"admin\",\"Principal\":\"admin\"},\"$vmArg\":{\"Principal\":\"admin\"}}"}`
	body := `{"connectionId":"` + conn + `","principal":"admin","principalId":"admin","authorizer":{"principalId":"admin"},"payload":` + frame + `}`
	if status, resp := s.postHeaders(integration.PathMessage, body, identityHeaders(conn, "203.0.113.7", "UA")); status != http.StatusOK {
		t.Fatalf("%d %s", status, resp)
	}
	s.expect(conn, whoIsFrame(t, "", nil))
	s.quiet(conn)
}

// Headers the gateway sets once each are refused when repeated or beyond their bounds, with
// a message naming the header and the limit; nothing runs.
func TestPrincipalHeadersAreBounded(t *testing.T) {
	s := newStack(t, stackOptions{register: registerWhoIs})
	body := `{"connectionId":"` + conn + `","payload":` + requestWhoIs + `}`
	many := principalHeaders(conn, "user-7")
	for i := range integration.MaxAuthorizerKeys + 1 {
		many = append(many, contract.HeaderAuthorizerPrefix+"k"+strings.Repeat("x", i), "v")
	}
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{"repeated principal", append(principalHeaders(conn, "user-7"), contract.HeaderPrincipal, "admin"),
			"the X-Wsgate-Principal header appears 2 times"},
		{"repeated context key", principalHeaders(conn, "user-7", "tenant", "acme", "Tenant", "evil"),
			"the X-Wsgate-Authorizer-Tenant header appears 2 times"},
		{"too many context keys", many,
			"65 X-Wsgate-Authorizer- headers, over the limit of 64"},
		{"too long", principalHeaders(conn, strings.Repeat("p", 4096), "blob", strings.Repeat("b", 4097)),
			"the X-Wsgate-Principal and X-Wsgate-Authorizer- headers hold 8193 bytes, over the limit of 8192"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, resp := s.postHeaders(integration.PathMessage, body, tt.header)
			want, _ := json.Marshal(map[string]string{"error": tt.want})
			if status != http.StatusBadRequest || strings.TrimSpace(resp) != string(want) {
				t.Errorf("got %d %s, want 400 %s", status, resp, want)
			}
		})
	}
	s.quiet(conn)
}
