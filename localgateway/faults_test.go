package localgateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/smithy-go"

	"github.com/wsgate/wsgate/contract"
)

// adminCall calls the admin API as its clients do: with the admin header
// and, on POST, a JSON content type.
func adminCall(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	header := http.Header{contract.HeaderAdmin: {contract.AdminHeaderValue}}
	if method == http.MethodPost {
		header.Set("Content-Type", "application/json")
	}
	return adminRequest(t, method, url, body, header)
}

func TestAdminFaults(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	_, id := connectID(t, x, b)
	faults := x.srv.URL + "/_wsgate/faults"
	if code, body := adminCall(t, "GET", faults, ""); code != 200 || body != "null" {
		t.Fatalf("no fault: %d %s", code, body)
	}
	if code, body := adminCall(t, "POST", faults, `{"status":503,"count":3,"methods":["POST"]}`); code != 200 || body != `{"status":503,"rate":0,"count":3,"latencyMs":0,"methods":["POST"]}` {
		t.Fatalf("set: %d %s", code, body)
	}
	ctx := context.Background()
	_, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ServiceUnavailableException" {
		t.Fatalf("POST under fault: %v", err)
	}
	if _, err := x.mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatalf("GET is not in the fault's methods: %v", err)
	}
	// The SDK retried twice, so the three failures are used up.
	if _, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); err != nil {
		t.Fatalf("after count: %v", err)
	}
	adminCall(t, "POST", faults, `{"status":500}`)
	if code, body := adminCall(t, "DELETE", faults, ""); code != 200 || body != "null" {
		t.Fatalf("clear: %d %s", code, body)
	}
	if _, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")}); err != nil {
		t.Fatalf("after clear: %v", err)
	}
	for body, want := range map[string]string{
		`{"status":200}`:             `{"message":"fault status 200: want 429 or 5xx"}`,
		`{"status":429,"rate":2}`:    `{"message":"fault rate 2: want 0 \u003c rate ≤ 1"}`,
		`{"latencyMs":0}`:            `{"message":"fault needs a status or a latency"}`,
		`{"status":429,"oops":true}`: `{"message":"fault: json: unknown field \"oops\""}`,
		`not json`:                   `{"message":"fault: invalid character 'o' in literal null (expecting 'u')"}`,
	} {
		if code, got := adminCall(t, "POST", faults, body); code != 400 || got != want {
			t.Errorf("POST %s: %d %s, want 400 %s", body, code, got, want)
		}
	}
	if code, _ := adminCall(t, "GET", x.srv.URL+"/_wsgate/nothing", ""); code != 404 {
		t.Errorf("unknown admin path: %d", code)
	}
}

func TestAdminDrop(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c1, _ := connectID(t, x, b)
	c2, _ := connectID(t, x, b)
	if code, body := adminCall(t, "POST", x.srv.URL+"/_wsgate/drop", ""); code != 200 || body != `{"dropped":2}` {
		t.Fatalf("drop: %d %s", code, body)
	}
	if code, reason := readClose(t, c1); code != 1001 || reason != "Going away" {
		t.Fatalf("client 1: %d %q", code, reason)
	}
	if code, _ := readClose(t, c2); code != 1001 {
		t.Fatalf("client 2: %d", code)
	}
	for i := 0; i < 2; i++ {
		if r := b.next(t); r.Path != "/api/dotnetify/vm/disconnect" {
			t.Fatalf("got %s", r.Path)
		}
	}
}

func TestFaultLatencyAndParse(t *testing.T) {
	f, err := ParseFault("status=429,rate=0.5,count=10,latency=200ms,methods=post+delete")
	if err != nil || f.Status != 429 || f.Rate != 0.5 || f.Count != 10 || f.LatencyMs != 200 || strings.Join(f.Methods, ",") != "POST,DELETE" {
		t.Fatalf("%+v %v", f, err)
	}
	for in, want := range map[string]string{
		"status":                  `fault "status": want key=value pairs (status, rate, count, latency, methods)`,
		"status=abc":              `fault "status=abc": bad status "abc"`,
		"speed=1":                 `fault "speed=1": unknown key "speed" (want status, rate, count, latency, methods)`,
		"latency=5ms,methods=PUT": `fault method "PUT": want POST, GET or DELETE`,
	} {
		if _, err := ParseFault(in); err == nil || err.Error() != want {
			t.Errorf("ParseFault(%q) = %v, want %s", in, err, want)
		}
	}
	var fs faults
	fs.set(Fault{LatencyMs: 1, Methods: []string{"GET"}})
	if _, fail := fs.apply("GET"); fail {
		t.Fatal("a latency-only fault failed a call")
	}
	fs.set(Fault{Status: 429, Rate: 1})
	if status, fail := fs.apply("POST"); !fail || status != 429 {
		t.Fatal("rate 1 did not fail")
	}
}
