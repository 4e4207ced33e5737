package localgateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/contract"
)

// adminRequest sends an admin call with exactly the given headers.
func adminRequest(t *testing.T, method, url, body string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestAdminRefusesWhatAWebPageCanSend: a page in a developer's browser can
// POST text/plain (or form) bodies anywhere without a preflight, and the
// browser adds its Origin. Each such request is refused with a clear
// message, and nothing changes: no fault is installed, no socket dropped.
func TestAdminRefusesWhatAWebPageCanSend(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	host := strings.TrimPrefix(x.srv.URL, "http://")
	faults, drop := x.srv.URL+"/_wsgate/faults", x.srv.URL+"/_wsgate/drop"
	fault := `{"status":500}`
	json := http.Header{"Content-Type": {"application/json"}}
	admin := http.Header{contract.HeaderAdmin: {contract.AdminHeaderValue}}
	with := func(hs ...http.Header) http.Header {
		out := http.Header{}
		for _, h := range hs {
			for k, v := range h {
				out[k] = v
			}
		}
		return out
	}
	noHeader := `{"message":"the admin API requires the header X-Wsgate-Admin: 1"}`
	for _, tc := range []struct {
		name, method, url, body string
		header                  http.Header
		status                  int
		want                    string
	}{
		{"text/plain fault", "POST", faults, fault, with(admin, http.Header{"Content-Type": {"text/plain"}}), 415,
			`{"message":"the admin API accepts Content-Type application/json only (got \"text/plain\")"}`},
		{"form drop", "POST", drop, "a=b", with(admin, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}), 415,
			`{"message":"the admin API accepts Content-Type application/json only (got \"application/x-www-form-urlencoded\")"}`},
		{"no content type", "POST", drop, "", admin, 415,
			`{"message":"the admin API accepts Content-Type application/json only (got \"\")"}`},
		{"text/plain without header", "POST", faults, fault, http.Header{"Content-Type": {"text/plain"}}, 403, noHeader},
		{"json fault without header", "POST", faults, fault, json, 403, noHeader},
		{"json drop without header", "POST", drop, "{}", json, 403, noHeader},
		{"clear without header", "DELETE", faults, "", nil, 403, noHeader},
		{"foreign origin fault", "POST", faults, fault, with(json, admin, http.Header{"Origin": {"https://evil.example"}}), 403,
			`{"message":"the admin API refuses requests from another origin: Origin \"https://evil.example\" is not \"http://` + host + `\""}`},
		{"foreign origin drop", "POST", drop, "{}", with(json, admin, http.Header{"Origin": {"http://localhost:1"}}), 403,
			`{"message":"the admin API refuses requests from another origin: Origin \"http://localhost:1\" is not \"http://` + host + `\""}`},
		{"null origin", "POST", drop, "{}", with(json, admin, http.Header{"Origin": {"null"}}), 403,
			`{"message":"the admin API refuses requests from another origin: Origin \"null\" is not \"http://` + host + `\""}`},
		// DNS rebinding: a page on a name that resolves to 127.0.0.1 is
		// same-origin with itself, so its Host is checked too.
		{"rebound host", "POST", drop, "{}", with(json, admin, http.Header{"Origin": {"http://evil.example:1"}}), 403,
			`{"message":"the admin API answers requests addressed to a loopback host only (Host \"evil.example:1\")"}`},
		{"preflight", "OPTIONS", faults, "", http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}, 403,
			`{"message":"the admin API refuses requests from another origin: Origin \"https://evil.example\" is not \"http://` + host + `\""}`},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		for k, v := range tc.header {
			req.Header[k] = v
		}
		if tc.name == "rebound host" {
			req.Host = "evil.example:1"
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(got) != tc.want {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, got, tc.status, tc.want)
		}
		if acao := resp.Header.Get("Access-Control-Allow-Origin"); acao != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, acao)
		}
	}
	// Nothing changed: no fault is active and the client is still connected.
	if code, got := adminRequest(t, "GET", faults, "", admin); code != 200 || got != "null" {
		t.Fatalf("fault after refused calls: %d %s, want 200 null", code, got)
	}
	if _, err := x.mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("still here")}); err != nil {
		t.Fatalf("post after refused calls: %v", err)
	}
	if got := read(t, c); got != "still here" {
		t.Fatalf("client got %q", got)
	}
	// The gateway's own origin, with the header and JSON, is admitted.
	own := with(json, admin, http.Header{"Origin": {"http://" + host}})
	if code, got := adminRequest(t, "POST", drop, "{}", own); code != 200 || got != `{"dropped":1}` {
		t.Fatalf("own origin drop: %d %s", code, got)
	}
	if code, _ := readClose(t, c); code != 1001 {
		t.Fatalf("close %d after drop, want 1001", code)
	}
}
