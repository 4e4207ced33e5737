package localgateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// lambdaAPI stands in for the Lambda Invoke API (AWS itself cannot run
// here): it checks each call's SigV4 signature for service "lambda" and
// runs Go functions by name.
type lambdaAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	fns    map[string]func(event map[string]any) (payload any, funcErr string)
	events chan invocation
}

type invocation struct {
	function string
	event    map[string]any
}

func newLambdaAPI(t *testing.T) *lambdaAPI {
	l := &lambdaAPI{fns: map[string]func(map[string]any) (any, string){}, events: make(chan invocation, 100)}
	verifier := &sigv4.Verifier{Region: testCreds.Region, Service: "lambda",
		Lookup: func(id string) (string, bool) { return testCreds.SecretAccessKey, id == testCreds.AccessKeyID }}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
		name, ok2 := strings.CutSuffix(name, "/invocations")
		l.mu.Lock()
		fn := l.fns[name]
		l.mu.Unlock()
		if !ok || !ok2 || fn == nil || r.Method != http.MethodPost {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			http.Error(w, `{"Type":"User","message":"Function not found"}`, http.StatusNotFound)
			return
		}
		var event map[string]any
		_ = json.Unmarshal(body, &event)
		l.events <- invocation{name, event}
		payload, funcErr := fn(event)
		if funcErr != "" {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			json.NewEncoder(w).Encode(map[string]string{"errorMessage": funcErr, "errorType": "Error"})
			return
		}
		json.NewEncoder(w).Encode(payload)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *lambdaAPI) handle(name string, fn func(map[string]any) (any, string)) {
	l.mu.Lock()
	l.fns[name] = fn
	l.mu.Unlock()
}

func (l *lambdaAPI) next(t *testing.T) invocation {
	t.Helper()
	select {
	case inv := <-l.events:
		return inv
	case <-waitTimer():
		t.Fatal("no Lambda invocation")
		return invocation{}
	}
}

func (l *lambdaAPI) config(c *Config) {
	c.LambdaEndpoint, _ = url.Parse(l.srv.URL)
}

const fnURI = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:%s/invocations"

func lambdaProps(typ, fn string) props {
	return props{"IntegrationType": typ, "IntegrationUri": strings.Replace(fnURI, "%s", fn, 1)}
}

// authorizedTemplate has a REQUEST authorizer on $connect and proxy routes.
func authorizedTemplate() tpl {
	tp := newTemplate().route("Connect", "$connect", lambdaProps("AWS_PROXY", "Connect"), false).
		route("Default", "$default", lambdaProps("AWS_PROXY", "Default"), true).
		route("Disconnect", "$disconnect", lambdaProps("AWS_PROXY", "Disconnect"), false)
	tp["Auth"] = resource("AWS::ApiGatewayV2::Authorizer", props{"Name": "auth", "AuthorizerType": "REQUEST",
		"AuthorizerUri":  strings.Replace(fnURI, "%s", "Authorize", 1),
		"IdentitySource": []string{"route.request.header.Auth", "route.request.querystring.room"}})
	return tp.set("Connect", props{"AuthorizationType": "CUSTOM", "AuthorizerId": map[string]any{"Ref": "Auth"}})
}

func policy(effect string, ctx map[string]any) map[string]any {
	return map[string]any{"principalId": "user-7", "context": ctx, "policyDocument": map[string]any{
		"Version": "2012-10-17", "Statement": []map[string]any{{"Action": "execute-api:Invoke", "Effect": effect, "Resource": "*"}}}}
}

func okProxy(map[string]any) (any, string) { return map[string]any{"statusCode": 200}, "" }

func TestChecklist08AuthorizerOnConnectOnly(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Authorize", func(map[string]any) (any, string) { return policy("Allow", nil), "" })
	l.handle("Connect", okProxy)
	l.handle("Default", okProxy)
	x := startGateway(t, authorizedTemplate().bytes(), "http://127.0.0.1:1", l.config)
	c := dial(t, x.ws+"?room=r1", http.Header{"Auth": {"token"}})
	auth := l.next(t)
	if auth.function != "Authorize" || auth.event["type"] != "REQUEST" || !strings.HasSuffix(auth.event["methodArn"].(string), "/prod/$connect") {
		t.Fatalf("authorizer input %v", auth)
	}
	rc := auth.event["requestContext"].(map[string]any)
	if len(rc["connectionId"].(string)) != 16 {
		t.Fatalf("authorizer requestContext %v", rc)
	}
	if inv := l.next(t); inv.function != "Connect" {
		t.Fatalf("then %s", inv.function)
	}
	send(t, c, "hello")
	if inv := l.next(t); inv.function != "Default" {
		t.Fatalf("a message ran %s (the authorizer runs on $connect only)", inv.function)
	}
	// An authorizer on another route is refused.
	bad := authorizedTemplate().set("Default", props{"AuthorizationType": "CUSTOM", "AuthorizerId": map[string]any{"Ref": "Auth"}})
	if _, err := cfnParse(bad.bytes()); err == nil || !strings.Contains(err.Error(), `authorization is only allowed on the $connect route, not "$default"`) {
		t.Fatalf("authorizer on $default: %v", err)
	}
}

func TestChecklist09MissingIdentitySourceGives401WithoutInvoking(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Authorize", func(map[string]any) (any, string) { return policy("Allow", nil), "" })
	x := startGateway(t, authorizedTemplate().bytes(), "http://127.0.0.1:1", l.config)
	if got := dialStatus(t, x.ws+"?room=r1", nil); got != http.StatusUnauthorized {
		t.Fatalf("no Auth header: %d", got)
	}
	if got := dialStatus(t, x.ws, http.Header{"Auth": {"t"}}); got != http.StatusUnauthorized {
		t.Fatalf("no room: %d", got)
	}
	select {
	case inv := <-l.events:
		t.Fatalf("%s was invoked", inv.function)
	default:
	}
}

func TestChecklist10AuthorizerOutcomes(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Connect", okProxy)
	x := startGateway(t, authorizedTemplate().bytes(), "http://127.0.0.1:1", l.config)
	cases := []struct {
		name string
		fn   func(map[string]any) (any, string)
		want int
	}{
		{"Unauthorized error", func(map[string]any) (any, string) { return nil, "Unauthorized" }, 401},
		{"Deny policy", func(map[string]any) (any, string) { return policy("Deny", nil), "" }, 403},
		{"malformed output", func(map[string]any) (any, string) { return map[string]any{"statusCode": 401}, "" }, 500},
		{"other error", func(map[string]any) (any, string) { return nil, "boom" }, 500},
		{"Allow policy", func(map[string]any) (any, string) { return policy("Allow", nil), "" }, 101},
	}
	for _, c := range cases {
		l.handle("Authorize", c.fn)
		if got := dialStatus(t, x.ws+"?room=r", http.Header{"Auth": {"t"}}); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestChecklist11AuthorizerContextOnLaterEvents(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Authorize", func(map[string]any) (any, string) {
		return policy("Allow", map[string]any{"tenant": "acme", "level": 3, "admin": true}), ""
	})
	l.handle("Connect", okProxy)
	l.handle("Disconnect", okProxy)
	l.handle("Default", func(e map[string]any) (any, string) { return map[string]any{"statusCode": 200, "body": "ok"}, "" })
	tp := authorizedTemplate().route("Custom", "tmpl", props{"IntegrationType": "MOCK", "RequestTemplates": map[string]string{"$default": `{"statusCode":200}`}}, true)
	tp["CustomResp"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "CustomIntegration"}, "IntegrationResponseKey": "$default",
		"ResponseTemplates": map[string]string{"$default": `$context.authorizer.principalId $context.authorizer.tenant $context.authorizer.level $context.authorizer.admin`}})
	x := startGateway(t, tp.bytes(), "http://127.0.0.1:1", l.config)
	c := dial(t, x.ws+"?room=r", http.Header{"Auth": {"t"}})
	l.next(t)
	l.next(t)
	send(t, c, "hi")
	msg := l.next(t)
	auth := msg.event["requestContext"].(map[string]any)["authorizer"].(map[string]any)
	if auth["principalId"] != "user-7" || auth["tenant"] != "acme" || auth["level"] != float64(3) || auth["admin"] != true {
		t.Fatalf("MESSAGE authorizer %v", auth)
	}
	read(t, c)
	send(t, c, `{"action":"tmpl"}`)
	if got := read(t, c); got != "user-7 acme 3 true" {
		t.Fatalf("$context.authorizer in a template: %q", got)
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, ""))
	disc := l.next(t)
	if disc.function != "Disconnect" || disc.event["requestContext"].(map[string]any)["authorizer"].(map[string]any)["principalId"] != "user-7" {
		t.Fatalf("DISCONNECT %v", disc)
	}
}

func TestChecklist17LambdaProxyEventShape(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Connect", func(map[string]any) (any, string) {
		return map[string]any{"statusCode": 200, "headers": map[string]string{"Sec-WebSocket-Protocol": "v1"}}, ""
	})
	l.handle("Default", func(e map[string]any) (any, string) {
		return map[string]any{"statusCode": 200, "body": "echo " + e["body"].(string)}, ""
	})
	l.handle("Disconnect", okProxy)
	tp := newTemplate().route("Connect", "$connect", lambdaProps("AWS_PROXY", "Connect"), false).
		route("Default", "$default", lambdaProps("AWS_PROXY", "Default"), true).
		route("Disconnect", "$disconnect", lambdaProps("AWS_PROXY", "Disconnect"), false)
	x := startGateway(t, tp.bytes(), "http://127.0.0.1:1", l.config)
	d := websocket.Dialer{Subprotocols: []string{"v1"}}
	c, _, err := d.Dial(x.ws+"?a=1&a=2", http.Header{"User-Agent": {"shape-test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	connect := l.next(t).event
	rc := connect["requestContext"].(map[string]any)
	for _, k := range []string{"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage", "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId", "apiId"} {
		if _, ok := rc[k]; !ok {
			t.Errorf("CONNECT requestContext lacks %s: %v", k, rc)
		}
	}
	if rc["eventType"] != "CONNECT" || rc["routeKey"] != "$connect" || connect["isBase64Encoded"] != false ||
		connect["headers"].(map[string]any)["User-Agent"] != "shape-test" ||
		connect["queryStringParameters"].(map[string]any)["a"] != "2" || len(connect["multiValueQueryStringParameters"].(map[string]any)["a"].([]any)) != 2 {
		t.Fatalf("CONNECT event %v", connect)
	}
	if _, has := rc["messageId"]; has {
		t.Error("CONNECT has a messageId")
	}
	send(t, c, "ping")
	msg := l.next(t).event
	mrc := msg["requestContext"].(map[string]any)
	if msg["body"] != "ping" || mrc["eventType"] != "MESSAGE" || mrc["messageId"] == nil || msg["headers"] != nil {
		t.Fatalf("MESSAGE event %v", msg)
	}
	if got := read(t, c); got != "echo ping" {
		t.Fatalf("two-way body %q", got)
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, ""))
	disc := l.next(t).event
	drc := disc["requestContext"].(map[string]any)
	if drc["eventType"] != "DISCONNECT" || drc["disconnectStatusCode"] != float64(1001) || drc["disconnectReason"] != "" ||
		disc["headers"].(map[string]any)["x-restapi"] != "" {
		t.Fatalf("DISCONNECT event %v", disc)
	}
	// A failing function is an error frame.
	l.handle("Default", func(map[string]any) (any, string) { return nil, "crash" })
	c2 := dial(t, x.ws, http.Header{"Sec-WebSocket-Protocol": {"v1"}})
	l.next(t)
	send(t, c2, "x")
	l.next(t)
	if m := frameRE.FindStringSubmatch(read(t, c2)); m == nil || m[1] != "Internal server error" {
		t.Fatalf("frame %v", m)
	}
}

func TestChecklist21AWSLambdaCustomIntegration(t *testing.T) {
	l := newLambdaAPI(t)
	l.handle("Custom", func(e map[string]any) (any, string) {
		if e["name"] == "" {
			return nil, "Missing name"
		}
		return map[string]any{"greeting": "hello " + e["name"].(string)}, ""
	})
	p := lambdaProps("AWS", "Custom")
	p["RequestTemplates"] = map[string]string{"$default": `{"name": $input.json('$.name'), "conn": "$context.connectionId"}`}
	tp := newTemplate().route("Default", "$default", p, true)
	tp["Ok"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": "$default",
		"ResponseTemplates": map[string]string{"$default": `$input.path('$.greeting')`}})
	tp["Missing"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": "/Missing.*/",
		"ResponseTemplates": map[string]string{"$default": `error: $input.path('$.errorMessage')`}})
	x := startGateway(t, tp.bytes(), "http://127.0.0.1:1", l.config)
	c := dial(t, x.ws, nil)
	send(t, c, `{"name":"Jane"}`)
	inv := l.next(t)
	if inv.event["name"] != "Jane" || len(inv.event["conn"].(string)) != 16 {
		t.Fatalf("payload %v", inv.event)
	}
	if got := read(t, c); got != "hello Jane" {
		t.Fatalf("got %q", got)
	}
	send(t, c, `{"name":""}`)
	l.next(t)
	if got := read(t, c); got != "error: Missing name" {
		t.Fatalf("got %q", got)
	}
}

func TestLambdaRoutesNeedAnEndpoint(t *testing.T) {
	apis, err := cfnParse(authorizedTemplate().bytes())
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{API: apis[0], Backend: mustURL("http://127.0.0.1:1"), Credentials: testCreds})
	want := "localgateway: route $connect (Connect): authorizer Auth is Lambda function Authorize; give a Lambda endpoint (--lambda-endpoint, e.g. sam local start-lambda)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}
