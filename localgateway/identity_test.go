package localgateway

import (
	"net/http"
	"testing"

	"github.com/wsgate/wsgate/contract"
)

// plantedIdentity is a handshake in which a client names another connection in the headers
// the server trusts.
func plantedIdentity() http.Header {
	return http.Header{
		contract.HeaderConnectionID: {"VICTIM00000000A="},
		contract.HeaderSourceIP:     {"10.9.9.9"},
		contract.HeaderUserAgent:    {"planted"},
		contract.HeaderSecret:       {"guess"},
	}
}

// An HTTP (non-proxy) integration sends what its template and request parameters say, not
// the client's handshake headers: a client cannot plant the identity headers on dotNetify's
// template, which maps none.
func TestHTTPIntegrationDoesNotForwardHandshakeHeaders(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	dial(t, x.ws, plantedIdentity())
	connect := b.next(t)
	for name := range plantedIdentity() {
		if v := connect.Header.Values(name); len(v) != 0 {
			t.Errorf("$connect carried the client's %s: %q", name, v)
		}
	}
}

// An HTTP_PROXY $connect passes the handshake headers on, as the service does, but a request
// parameter replaces a header of the same name: the backend gets one value, from $context.
func TestRequestParameterReplacesPlantedHeader(t *testing.T) {
	b := newBackend(t)
	template := newTemplate().route("Connect", "$connect", props{
		"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST", "IntegrationUri": "https://<your-url-domain>/api/dotnetify/vm",
		"RequestParameters": map[string]string{
			"integration.request.header." + contract.HeaderConnectionID: "context.connectionId",
			"integration.request.header." + contract.HeaderSourceIP:     "context.identity.sourceIp",
			"integration.request.header." + contract.HeaderUserAgent:    "context.identity.userAgent",
		},
	}, true)
	x := startGateway(t, template.bytes(), b.srv.URL, nil)
	dial(t, x.ws, plantedIdentity())
	connect := b.next(t)
	id := connect.Header.Values(contract.HeaderConnectionID)
	if len(id) != 1 || len(id[0]) != 16 || id[0] == "VICTIM00000000A=" {
		t.Errorf("%s = %q, want the connection's own id once", contract.HeaderConnectionID, id)
	}
	for name, want := range map[string]string{contract.HeaderSourceIP: "127.0.0.1", contract.HeaderUserAgent: "Go-http-client/1.1"} {
		if v := connect.Header.Values(name); len(v) != 1 || v[0] != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}
}
