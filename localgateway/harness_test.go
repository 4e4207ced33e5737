package localgateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/localgateway/cfn"
)

// waitLimit bounds every wait for an event in these tests; reaching it is a
// failure, never a synchronisation.
const waitLimit = 5 * time.Second

var testCreds = Credentials{AccessKeyID: DefaultAccessKeyID, SecretAccessKey: DefaultSecretAccessKey, Region: DefaultRegion}

// recorded is one request the backend received.
type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// backend is a local integration endpoint that records requests and answers
// with a replaceable handler.
type backend struct {
	srv     *httptest.Server
	reqs    chan recorded
	mu      sync.Mutex
	respond func(w http.ResponseWriter, r recorded)
}

func newBackend(t *testing.T) *backend {
	b := &backend{reqs: make(chan recorded, 100)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)}
		b.reqs <- rec
		b.mu.Lock()
		respond := b.respond
		b.mu.Unlock()
		if respond != nil {
			respond(w, rec)
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) setRespond(f func(w http.ResponseWriter, r recorded)) {
	b.mu.Lock()
	b.respond = f
	b.mu.Unlock()
}

// next returns the next request the backend received.
func (b *backend) next(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-b.reqs:
		return r
	case <-time.After(waitLimit):
		t.Fatal("backend received no request")
		return recorded{}
	}
}

// nextJSON returns the next request's body decoded.
func (b *backend) nextJSON(t *testing.T) (recorded, map[string]any) {
	t.Helper()
	r := b.next(t)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("backend body %q is not JSON: %v", r.Body, err)
	}
	return r, m
}

// tpl builds a JSON CloudFormation template.
type tpl map[string]any

type props map[string]any

func newTemplate() tpl {
	return tpl{"Api": resource("AWS::ApiGatewayV2::Api", props{"ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"})}
}

func resource(typ string, p props) map[string]any {
	p["ApiId"] = map[string]any{"Ref": "Api"}
	if typ == "AWS::ApiGatewayV2::Api" {
		delete(p, "ApiId")
	}
	return map[string]any{"Type": typ, "Properties": p}
}

// httpRoute adds a route with an HTTP integration posting the template to
// path, two-way when twoWay.
func (t tpl) httpRoute(id, key, path, template string, twoWay bool) tpl {
	p := props{"IntegrationType": "HTTP", "IntegrationMethod": "POST", "IntegrationUri": "https://<your-url-domain>" + path}
	if template != "" {
		p["RequestTemplates"] = map[string]string{"$default": template}
		p["TemplateSelectionExpression"] = `\$default`
	}
	return t.route(id, key, p, twoWay)
}

// route adds a route and its integration (props p).
func (t tpl) route(id, key string, p props, twoWay bool) tpl {
	t[id+"Integration"] = resource("AWS::ApiGatewayV2::Integration", p)
	rp := props{"RouteKey": key, "Target": "integrations/" + id + "Integration"}
	if twoWay {
		rp["RouteResponseSelectionExpression"] = "$default"
		t[id+"Response"] = resource("AWS::ApiGatewayV2::RouteResponse", props{"RouteId": map[string]any{"Ref": id}, "RouteResponseKey": "$default"})
	}
	t[id] = resource("AWS::ApiGatewayV2::Route", rp)
	return t
}

// set merges extra properties into a resource.
func (t tpl) set(id string, p props) tpl {
	r := t[id].(map[string]any)["Properties"].(props)
	for k, v := range p {
		r[k] = v
	}
	return t
}

func (t tpl) bytes() []byte {
	b, _ := json.Marshal(map[string]any{"Resources": map[string]any(t)})
	return b
}

// dotnetifyTemplate is the three routes of the dotNetify integration.
func dotnetifyTemplate() tpl {
	return newTemplate().
		httpRoute("Connect", "$connect", "/api/dotnetify/vm", `{"connectionId": "$context.connectionId"}`, true).
		httpRoute("Default", "$default", "/api/dotnetify/vm", `{"connectionId": "$context.connectionId", "payload": $input.body}`, true).
		httpRoute("Disconnect", "$disconnect", "/api/dotnetify/vm/disconnect", `{"connectionId": "$context.connectionId", "code": "$context.disconnectStatusCode", "reason": "$context.disconnectReason"}`, true)
}

// gw is a gateway under test.
type gw struct {
	g        *Gateway
	srv      *httptest.Server
	ws, cb   string
	mgmt     *apigatewaymanagementapi.Client
	accessMu sync.Mutex
	access   strings.Builder
}

func (x *gw) Write(p []byte) (int, error) {
	x.accessMu.Lock()
	defer x.accessMu.Unlock()
	return x.access.Write(p)
}

func (x *gw) accessLines() []string {
	x.accessMu.Lock()
	defer x.accessMu.Unlock()
	return strings.Split(strings.TrimSpace(x.access.String()), "\n")
}

// startGateway serves template t with integrations going to backendURL.
func startGateway(t *testing.T, template []byte, backendURL string, mod func(*Config)) *gw {
	t.Helper()
	secrets, err := cfn.SameSecret(template, cfn.Options{}, testIntegrationSecret)
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	apis, err := cfn.Parse(template, cfn.Options{Secrets: secrets})
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	u, _ := url.Parse(backendURL)
	x := &gw{}
	cfg := Config{API: apis[0], Backend: u, Credentials: testCreds, AccessLog: x}
	if mod != nil {
		mod(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	x.g = g
	x.srv = httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = g.Shutdown(ctx)
		x.srv.Close()
	})
	x.ws = "ws" + strings.TrimPrefix(x.srv.URL, "http") + "/" + g.StageName()
	x.cb = x.srv.URL + "/" + g.StageName()
	x.mgmt = apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region: testCreds.Region, BaseEndpoint: aws.String(x.cb),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}, nil
		}),
	})
	return x
}

// dial opens a client connection.
func dial(t *testing.T, wsURL string, header http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", wsURL, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialStatus dials and returns the handshake's HTTP status on failure.
func dialStatus(t *testing.T, wsURL string, header http.Header) int {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(wsURL, header)
	if err == nil {
		c.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	return resp.StatusCode
}

// read returns the next text frame.
func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", typ)
	}
	return string(data)
}

// readClose reads until the server closes and returns the close code and
// reason.
func readClose(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if ok := asCloseError(err, &ce); ok {
			return ce.Code, ce.Text
		}
		t.Fatalf("connection ended without a close frame: %v", err)
	}
}

func asCloseError(err error, target **websocket.CloseError) bool {
	ce, ok := err.(*websocket.CloseError)
	if ok {
		*target = ce
	}
	return ok
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// connectID connects a client through a $connect route whose template sends
// connectionId and returns the client and its id.
func connectID(t *testing.T, x *gw, b *backend) (*websocket.Conn, string) {
	t.Helper()
	c := dial(t, x.ws, nil)
	_, body := b.nextJSON(t)
	id, _ := body["connectionId"].(string)
	if len(id) != 16 {
		t.Fatalf("connection id %q", id)
	}
	return c, id
}

// waitFor polls cond until it holds or the wait limit passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// escapeID encodes a connection id for a URL path as clients do ('=' as %3D).
func escapeID(id string) string { return strings.ReplaceAll(url.PathEscape(id), "=", "%3D") }

// signedCall sends a request signed by aws-sdk-go-v2's SigV4 signer with the
// local access key and the given secret.
func signedCall(t *testing.T, method, target string, body []byte, secret string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sign(t, req, body, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func sign(t *testing.T, req *http.Request, body []byte, secret string) {
	t.Helper()
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", testCreds.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// signedUpgrade returns the headers of a SigV4-signed handshake for wsURL.
func signedUpgrade(t *testing.T, wsURL, secret string) http.Header {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http"+strings.TrimPrefix(wsURL, "ws"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sign(t, req, nil, secret)
	return http.Header{"Authorization": req.Header.Values("Authorization"), "X-Amz-Date": req.Header.Values("X-Amz-Date")}
}

func httpClientGet(u string) (int, error) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func waitTimer() <-chan time.Time { return time.After(waitLimit) }

func cfnParse(b []byte) ([]*cfn.API, error) { return cfn.Parse(b, cfn.Options{}) }
