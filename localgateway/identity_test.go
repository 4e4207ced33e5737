package localgateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/contract"
)

// plantedIdentity is a handshake in which a client names another connection in the headers
// the server trusts.
func plantedIdentity() http.Header {
	return http.Header{
		contract.HeaderConnectionID:                {"VICTIM00000000A="},
		contract.HeaderSourceIP:                    {"10.9.9.9"},
		contract.HeaderUserAgent:                   {"planted"},
		contract.HeaderSecret:                      {"guess"},
		contract.HeaderPrincipal:                   {"admin"},
		contract.HeaderAuthorizerPrefix + "tenant": {"victim-corp"},
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

// With a $connect authorizer, the principal and the authorizer's context reach the backend
// on every route (the constructs map them on all three, as API Gateway states them for the
// connection's lifetime), from $context only: what the client planted in its handshake
// never does, on the HTTP_PROXY $connect that forwards handshake headers either.
func TestPrincipalOnEveryRouteFromAuthorizerContext(t *testing.T) {
	b := newBackend(t)
	l := newLambdaAPI(t)
	l.handle("Authorize", func(map[string]any) (any, string) {
		return policy("Allow", map[string]any{"tenant": "acme", "level": 3}), ""
	})
	params := map[string]string{
		"integration.request.header." + contract.HeaderConnectionID:                "context.connectionId",
		"integration.request.header." + contract.HeaderPrincipal:                   "context.authorizer.principalId",
		"integration.request.header." + contract.HeaderAuthorizerPrefix + "tenant": "context.authorizer.tenant",
		"integration.request.header." + contract.HeaderAuthorizerPrefix + "level":  "context.authorizer.level",
	}
	tp := dotnetifyTemplate().
		set("ConnectIntegration", props{"IntegrationType": "HTTP_PROXY", "RequestParameters": params}).
		set("DefaultIntegration", props{"RequestParameters": params}).
		set("DisconnectIntegration", props{"RequestParameters": params})
	tp["Auth"] = resource("AWS::ApiGatewayV2::Authorizer", props{"Name": "auth", "AuthorizerType": "REQUEST",
		"AuthorizerUri":  strings.Replace(fnURI, "%s", "Authorize", 1),
		"IdentitySource": []string{"route.request.querystring.token"}})
	tp.set("Connect", props{"AuthorizationType": "CUSTOM", "AuthorizerId": map[string]any{"Ref": "Auth"}})
	x := startGateway(t, tp.bytes(), b.srv.URL, l.config)

	c := dial(t, x.ws+"?token=t", plantedIdentity())
	l.next(t)
	connect := b.next(t)
	send(t, c, `{"callType":"request_vm","vmId":"X"}`)
	message := b.next(t)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, ""))
	disconnect := b.next(t)
	for route, r := range map[string]recorded{"$connect": connect, "$default": message, "$disconnect": disconnect} {
		for name, want := range map[string]string{
			contract.HeaderPrincipal:                   "user-7",
			contract.HeaderAuthorizerPrefix + "tenant": "acme",
			contract.HeaderAuthorizerPrefix + "level":  "3",
		} {
			if got := r.Header.Values(name); len(got) != 1 || got[0] != want {
				t.Errorf("%s: %s = %q, want %q once", route, name, got, want)
			}
		}
	}
}
