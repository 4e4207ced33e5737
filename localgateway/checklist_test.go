package localgateway

// One test per row of the fidelity checklist (apigw-websocket spec §14),
// named TestChecklistNN… after the row.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/internal/stacktemplate"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

func TestChecklist01ReadsCloudFormationResources(t *testing.T) {
	b := newBackend(t)
	apis, err := cfn.Load("testdata/dotnetify-cloudformation-template.yaml", cfn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := startGateway(t, mustJSONTemplate(t, apis[0]), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	r, body := b.nextJSON(t)
	if r.Path != "/api/dotnetify/vm" || len(body) != 1 {
		t.Fatalf("$connect request %s %v", r.Path, body)
	}
	send(t, c, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	r = b.next(t)
	if r.Path != "/api/dotnetify/vm" || !strings.Contains(r.Body, `"payload": {"callType":"request_vm"`) {
		t.Fatalf("$default request %s %s", r.Path, r.Body)
	}
}

// mustJSONTemplate loads the fixture again for startGateway, which takes
// template bytes.
func mustJSONTemplate(t *testing.T, _ *cfn.API) []byte {
	t.Helper()
	data, err := readFile("testdata/dotnetify-cloudformation-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestChecklist02StageInURLUnknownStageRejected(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().bytes(), b.srv.URL, func(c *Config) { c.Stage = "dev" })
	if !strings.HasSuffix(x.ws, "/dev") {
		t.Fatalf("url %s", x.ws)
	}
	dial(t, x.ws, nil).Close()
	wrong := strings.TrimSuffix(x.ws, "/dev") + "/prod"
	if got := dialStatus(t, wrong, nil); got != http.StatusForbidden {
		t.Fatalf("unknown stage: status %d, want 403", got)
	}
}

func TestChecklist03ConnectRouteOptional(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().httpRoute("Default", "$default", "/msg", "", true).bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	b.setRespond(func(w http.ResponseWriter, r recorded) { io.WriteString(w, "echo:"+r.Body) })
	send(t, c, "hi")
	if got := read(t, c); got != "echo:hi" {
		t.Fatalf("got %q", got)
	}
}

func TestChecklist04UpgradePendingUntilConnectDone(t *testing.T) {
	b := newBackend(t)
	release := make(chan struct{})
	b.setRespond(func(w http.ResponseWriter, r recorded) {
		if r.Path == "/connect" {
			<-release
		}
	})
	x := startGateway(t, newTemplate().httpRoute("Connect", "$connect", "/connect", `{"connectionId":"$context.connectionId"}`, false).bytes(), b.srv.URL, nil)
	dialed := make(chan error, 1)
	go func() {
		c, _, err := websocket.DefaultDialer.Dial(x.ws, nil)
		if err == nil {
			c.Close()
		}
		dialed <- err
	}()
	b.next(t) // $connect is running and blocked
	select {
	case err := <-dialed:
		t.Fatalf("handshake finished before $connect answered: %v", err)
	default:
	}
	close(release)
	if err := <-dialed; err != nil {
		t.Fatalf("handshake after $connect: %v", err)
	}
}

func TestChecklist05NonSuccessConnectGivesSameStatus(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(w http.ResponseWriter, r recorded) { w.WriteHeader(http.StatusUnauthorized) })
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	if got := dialStatus(t, x.ws, nil); got != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", got)
	}
	b.setRespond(func(w http.ResponseWriter, r recorded) { w.WriteHeader(http.StatusBadRequest) })
	if got := dialStatus(t, x.ws, nil); got != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", got)
	}
}

func TestChecklist06ConnectIntegrationErrorGives502(t *testing.T) {
	b := newBackend(t)
	b.srv.Close() // the backend is down
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	if got := dialStatus(t, x.ws, nil); got != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", got)
	}
}

func TestChecklist07OnlySubprotocolHeaderReturnedFromConnect(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(w http.ResponseWriter, r recorded) {
		w.Header().Set("Sec-WebSocket-Protocol", "chat.v2")
		w.Header().Set("X-Backend-Secret", "leak")
		io.WriteString(w, "ignored body")
	})
	x := startGateway(t, newTemplate().route("Connect", "$connect", props{"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST", "IntegrationUri": "http://nlb/connect"}, false).bytes(), b.srv.URL, nil)
	d := websocket.Dialer{Subprotocols: []string{"chat.v1", "chat.v2"}}
	c, resp, err := d.Dial(x.ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "chat.v2" || resp.Header.Get("X-Backend-Secret") != "" {
		t.Fatalf("subprotocol %q, headers %v", c.Subprotocol(), resp.Header)
	}
}

func TestChecklist12RouteSelectionExpressions(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().
		httpRoute("Join", "chat/join", "/join", `$input.body`, false).
		httpRoute("One", "1", "/one", `$input.body`, false).
		httpRoute("Default", "$default", "/default", `$input.body`, false)
	tp["Api"].(map[string]any)["Properties"].(props)["RouteSelectionExpression"] = "${request.body.service}/${request.body.action}"
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	for msg, path := range map[string]string{
		`{"service":"chat","action":"join"}`:  "/join",
		`{"service":"chat","action":"leave"}`: "/default",
		`{"service":"chat"}`:                  "/default",
	} {
		send(t, c, msg)
		if r := b.next(t); r.Path != path {
			t.Errorf("%s went to %s, want %s", msg, r.Path, path)
		}
	}
	tp2 := newTemplate().httpRoute("One", "1", "/one", `$input.body`, false).httpRoute("True", "true", "/true", `$input.body`, false)
	x2 := startGateway(t, tp2.bytes(), b.srv.URL, nil)
	c2 := dial(t, x2.ws, nil)
	send(t, c2, `{"action":1}`)
	if r := b.next(t); r.Path != "/one" {
		t.Errorf("number action went to %s", r.Path)
	}
	send(t, c2, `{"action":true}`)
	if r := b.next(t); r.Path != "/true" {
		t.Errorf("boolean action went to %s", r.Path)
	}
}

func TestChecklist13NonJSONGoesToDefault(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().httpRoute("Send", "send", "/send", "", false).httpRoute("Default", "$default", "/default", "", false).bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `action=send`)
	if r := b.next(t); r.Path != "/default" || r.Body != "action=send" {
		t.Fatalf("non-JSON went to %s with %q", r.Path, r.Body)
	}
}

var frameRE = regexp.MustCompile(`^\{"message": "([^"]+)", "connectionId":"([A-Za-z0-9_=-]{16})", "requestId":"([A-Za-z0-9_=-]{16})"\}$`)

func TestChecklist14NoRouteGivesForbiddenFrame(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().httpRoute("Send", "send", "/send", "", false).bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"action":"other"}`)
	m := frameRE.FindStringSubmatch(read(t, c))
	if m == nil || m[1] != "Forbidden" {
		t.Fatalf("frame %v", m)
	}
	send(t, c, `{"action":"send"}`) // the socket stays open
	if r := b.next(t); r.Path != "/send" {
		t.Fatalf("after Forbidden: %s", r.Path)
	}
}

func TestChecklist15SelectionIgnoredForConnectAndDisconnect(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, _ := connectID(t, x, b)
	send(t, c, `{"action":"$connect"}`)
	send(t, c, `{"action":"$disconnect"}`)
	for i := 0; i < 2; i++ {
		_, body := b.nextJSON(t)
		if body["payload"] == nil {
			t.Fatalf("message %d did not go to $default: %v", i, body)
		}
	}
}

func TestChecklist16OneWayUnlessRouteResponse(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(w http.ResponseWriter, r recorded) { io.WriteString(w, "answer from "+r.Path) })
	x := startGateway(t, newTemplate().httpRoute("Quiet", "quiet", "/quiet", "", false).httpRoute("Talk", "talk", "/talk", "", true).bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"action":"quiet"}`)
	b.next(t)
	send(t, c, `{"action":"talk"}`)
	b.next(t)
	if got := read(t, c); got != "answer from /talk" {
		t.Fatalf("got %q (the one-way route must send nothing)", got)
	}
}

func TestChecklist18DisconnectStatusCodeAndReason(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1001, ""))
	r, body := b.nextJSON(t)
	if r.Path != "/api/dotnetify/vm/disconnect" || body["connectionId"] != id || body["code"] != "1001" || body["reason"] != "" {
		t.Fatalf("$disconnect %s %v", r.Path, body)
	}
	c2, id2 := connectID(t, x, b)
	defer c2.Close()
	if _, err := x.mgmt.DeleteConnection(context.Background(), &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id2}); err != nil {
		t.Fatal(err)
	}
	_, body = b.nextJSON(t)
	if body["connectionId"] != id2 || body["code"] != "1000" || body["reason"] != "Connection Closed Normally" {
		t.Fatalf("$disconnect after DeleteConnection %v", body)
	}
}

func TestChecklist19DisconnectNotReauthorized(t *testing.T) {
	b := newBackend(t)
	tp := dotnetifyTemplate().set("Connect", props{"AuthorizationType": "AWS_IAM"})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, signedUpgrade(t, x.ws, testCreds.SecretAccessKey))
	b.next(t)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "done"))
	if r := b.next(t); r.Path != "/api/dotnetify/vm/disconnect" {
		t.Fatalf("got %s", r.Path)
	}
}

func TestChecklist20DomainNameAndStageAreTheCallbackEndpoint(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().httpRoute("Default", "$default", "/msg", `{"id":"$context.connectionId","domain":"$context.domainName","stage":"$context.stage"}`, false)
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, "hello")
	_, body := b.nextJSON(t)
	endpoint := fmt.Sprintf("http://%s/%s", body["domain"], body["stage"])
	if endpoint != x.cb {
		t.Fatalf("callback built from context %s, want %s", endpoint, x.cb)
	}
	client := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{Region: testCreds.Region, BaseEndpoint: &endpoint, Credentials: x.mgmt.Options().Credentials})
	id := body["id"].(string)
	if _, err := client.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("pushed")}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "pushed" {
		t.Fatalf("got %q", got)
	}
}

func TestChecklist22HTTPProxyBodies(t *testing.T) {
	b := newBackend(t)
	proxy := props{"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST", "IntegrationUri": "http://nlb.internal/ws",
		"RequestParameters": map[string]string{"integration.request.header.connectionId": "context.connectionId"}}
	tp := newTemplate().route("Connect", "$connect", proxy, false).route("Default", "$default", props{"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "PUT", "IntegrationUri": "http://nlb.internal/msg"}, false)
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, http.Header{"X-Client": {"yes"}})
	r := b.next(t)
	if r.Body != "" || r.Header.Get("Connectionid") == "" || r.Header.Get("X-Client") != "yes" || r.Header.Get("Sec-Websocket-Version") != "13" {
		t.Fatalf("$connect proxy request: body %q headers %v", r.Body, r.Header)
	}
	send(t, c, `{"raw":true}`)
	r = b.next(t)
	if r.Method != "PUT" || r.Path != "/msg" || r.Body != `{"raw":true}` || r.Header.Get("Connectionid") != "" {
		t.Fatalf("message proxy request: %s %s %q %v", r.Method, r.Path, r.Body, r.Header)
	}
}

func TestChecklist23HTTPRequestAndResponseTemplates(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(w http.ResponseWriter, r recorded) { io.WriteString(w, `{"greeting":"hello","to":"Jane"}`) })
	tp := newTemplate().httpRoute("Default", "$default", "/greet", `{"who":$input.json('$.name'),"route":"$context.routeKey"}`, true)
	tp["Resp"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{
		"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": "$default",
		"ResponseTemplates": map[string]string{"$default": `$input.path('$.greeting'), $input.path('$.to')!`},
	})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"name":"Jane"}`)
	if r := b.next(t); r.Body != `{"who":"Jane","route":"$default"}` || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %q %v", r.Body, r.Header)
	}
	if got := read(t, c); got != "hello, Jane!" {
		t.Fatalf("response frame %q", got)
	}
}

func TestChecklist24MockWithIntegrationResponseTemplates(t *testing.T) {
	tp := newTemplate().route("Default", "$default", props{"IntegrationType": "MOCK", "RequestTemplates": map[string]string{"$default": `{"statusCode": #if($input.path('$.ok'))200#{else}404#end}`}, "TemplateSelectionExpression": `\$default`}, true)
	tp["R200"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": "/200/",
		"ResponseTemplates": map[string]string{"$default": `{"mock":"ok","id":"$context.connectionId"}`}})
	tp["R404"] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": "/4\\d\\d/",
		"ResponseTemplates": map[string]string{"$default": `not found`}})
	x := startGateway(t, tp.bytes(), "http://127.0.0.1:1", nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"ok":true}`)
	if got := read(t, c); !strings.HasPrefix(got, `{"mock":"ok","id":"`) {
		t.Fatalf("got %q", got)
	}
	send(t, c, `{"ok":false}`)
	if got := read(t, c); got != "not found" {
		t.Fatalf("got %q", got)
	}
}

func TestChecklist25RequestParameterMapping(t *testing.T) {
	b := newBackend(t)
	p := props{"IntegrationType": "HTTP", "IntegrationMethod": "POST", "IntegrationUri": "http://nlb/connect",
		"RequestParameters": map[string]string{
			"integration.request.header.X-Conn":                "context.connectionId",
			"integration.request.header.X-Token":               "route.request.querystring.token",
			"integration.request.header.X-Auth":                "route.request.header.Authorization",
			"integration.request.querystring.stage":            "stageVariables.env",
			"integration.request.header.Sec-WebSocket-Version": "'0'",
		}}
	tp := newTemplate().route("Connect", "$connect", p, false).
		route("Default", "$default", props{"IntegrationType": "HTTP", "IntegrationMethod": "POST", "IntegrationUri": "http://nlb/msg",
			"RequestParameters": map[string]string{"integration.request.header.X-Action": "route.request.body.action"}}, false)
	tp["Stage"] = resource("AWS::ApiGatewayV2::Stage", props{"StageName": "prod", "StageVariables": map[string]string{"env": "local"}})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws+"?token=abc", http.Header{"Authorization": {"Bearer t"}})
	r := b.next(t)
	if r.Header.Get("X-Conn") == "" || r.Header.Get("X-Token") != "abc" || r.Header.Get("X-Auth") != "Bearer t" || r.Query != "stage=local" || r.Header.Get("Sec-Websocket-Version") != "0" {
		t.Fatalf("mapped $connect request: %v %q", r.Header, r.Query)
	}
	send(t, c, `{"action":"go"}`)
	if r := b.next(t); r.Header.Get("X-Action") != "go" {
		t.Fatalf("body mapping: %v", r.Header)
	}
}

func TestChecklist26TemplateSelection(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().route("Default", "$default", props{"IntegrationType": "HTTP", "IntegrationUri": "http://nlb/msg",
		"TemplateSelectionExpression": "${request.body.kind}",
		"RequestTemplates":            map[string]string{"a": "template a", "$default": "template default"}}, false)
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	for msg, want := range map[string]string{`{"kind":"a"}`: "template a", `{"kind":"b"}`: "template default", `text`: "template default"} {
		send(t, c, msg)
		if r := b.next(t); r.Body != want {
			t.Errorf("%s rendered %q, want %q", msg, r.Body, want)
		}
	}
}

func TestChecklist27IntegrationResponseSelection(t *testing.T) {
	b := newBackend(t)
	b.setRespond(func(w http.ResponseWriter, r recorded) {
		var code int
		fmt.Sscanf(r.Body, "%d", &code)
		w.WriteHeader(code)
		io.WriteString(w, `{"detail":"d"}`)
	})
	tp := newTemplate().httpRoute("Default", "$default", "/x", "", true)
	for id, key := range map[string]string{"R2": "/2\\d\\d/", "R4": "/4\\d\\d/", "RD": "$default"} {
		tp[id] = resource("AWS::ApiGatewayV2::IntegrationResponse", props{"IntegrationId": map[string]any{"Ref": "DefaultIntegration"}, "IntegrationResponseKey": key,
			"ResponseTemplates": map[string]string{"$default": id + " $input.path('$.detail')"}})
	}
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	for msg, want := range map[string]string{"201": "R2 d", "404": "R4 d", "503": "RD d"} {
		send(t, c, msg)
		b.next(t)
		if got := read(t, c); got != want {
			t.Errorf("status %s: frame %q, want %q", msg, got, want)
		}
	}
}

func TestChecklist28ErrorFrames(t *testing.T) {
	tp := newTemplate().httpRoute("Default", "$default", "/x", "", true).
		route("Broken", "broken", props{"IntegrationType": "HTTP", "IntegrationUri": "http://nlb/x", "RequestTemplates": map[string]string{"$default": "$util.parseJson($input.body)"}}, false)
	x := startGateway(t, tp.bytes(), "http://127.0.0.1:1", nil) // nothing listens there
	c := dial(t, x.ws, nil)
	send(t, c, "hello")
	got := read(t, c)
	m := frameRE.FindStringSubmatch(got)
	if m == nil || m[1] != "Internal server error" {
		t.Fatalf("frame %q", got)
	}
	send(t, c, `{"action":"broken", "x": }`)
	if m := frameRE.FindStringSubmatch(read(t, c)); m == nil || m[1] != "Internal server error" {
		t.Fatalf("template error frame %v", m)
	}
}

func TestChecklist29IntegrationTimeout(t *testing.T) {
	b := newBackend(t)
	release := make(chan struct{})
	defer close(release)
	b.setRespond(func(w http.ResponseWriter, r recorded) { <-release })
	x := startGateway(t, newTemplate().httpRoute("Default", "$default", "/slow", "", true).bytes(), b.srv.URL,
		func(c *Config) { c.IntegrationTimeout = 100 * time.Millisecond })
	c := dial(t, x.ws, nil)
	send(t, c, "slow")
	got := read(t, c)
	if m := frameRE.FindStringSubmatch(got); m == nil || m[1] != "Endpoint request timed out" {
		t.Fatalf("frame %q", got)
	}
	// A $connect that times out refuses the handshake with 504.
	y := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, func(c *Config) { c.IntegrationTimeout = 100 * time.Millisecond })
	if got := dialStatus(t, y.ws, nil); got != http.StatusGatewayTimeout {
		t.Fatalf("$connect timeout: %d", got)
	}
}

func TestChecklist30FrameAndMessageLimitsClose1009(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().httpRoute("Default", "$default", "/x", "", false).bytes(), b.srv.URL, nil)
	// A 32 KiB frame passes; one byte more closes with 1009.
	c := dial(t, x.ws, nil)
	writeFrame(t, c, ws.OpText, true, MaxFrameSize)
	if r := b.next(t); len(r.Body) != MaxFrameSize {
		t.Fatalf("body %d bytes", len(r.Body))
	}
	writeFrame(t, c, ws.OpText, true, MaxFrameSize+1)
	if code, _ := readClose(t, c); code != 1009 {
		t.Fatalf("oversize frame: close %d", code)
	}
	// A 128 KiB message in 32 KiB frames passes; more closes with 1009.
	c2 := dial(t, x.ws, nil)
	writeFragmented(t, c2, MaxMessageSize)
	if r := b.next(t); len(r.Body) != MaxMessageSize {
		t.Fatalf("fragmented body %d bytes", len(r.Body))
	}
	writeFragmented(t, c2, MaxMessageSize+1)
	if code, _ := readClose(t, c2); code != 1009 {
		t.Fatalf("oversize message: close %d", code)
	}
}

// writeFragmented sends n bytes as one text message in frames of ≤32 KiB.
func writeFragmented(t *testing.T, c *websocket.Conn, n int) {
	t.Helper()
	for sent := 0; sent < n; {
		size := min(MaxFrameSize, n-sent)
		op := ws.OpContinuation
		if sent == 0 {
			op = ws.OpText
		}
		writeFrame(t, c, op, sent+size == n, size)
		sent += size
	}
}

// writeFrame writes one masked frame of size bytes, below gorilla's own
// framing (which splits messages at its buffer size).
func writeFrame(t *testing.T, c *websocket.Conn, op ws.OpCode, fin bool, size int) {
	t.Helper()
	f := ws.MaskFrame(ws.NewFrame(op, fin, bytes.Repeat([]byte("m"), size)))
	if err := ws.WriteFrame(c.UnderlyingConn(), f); err != nil {
		t.Fatal(err)
	}
}

func TestChecklist31BinaryFrameCloses1003(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if code, _ := readClose(t, c); code != 1003 {
		t.Fatalf("close %d, want 1003", code)
	}
	_, body := b.nextJSON(t)
	if body["connectionId"] != id || body["code"] != "1003" {
		t.Fatalf("$disconnect %v", body)
	}
}

func TestChecklist32IdleAndMaximumConnectionTime(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().bytes(), b.srv.URL, func(c *Config) { c.IdleTimeout = 150 * time.Millisecond })
	c := dial(t, x.ws, nil)
	if code, reason := readClose(t, c); code != 1001 || reason != "Going away" {
		t.Fatalf("idle: close %d %q", code, reason)
	}
	y := startGateway(t, newTemplate().bytes(), b.srv.URL, func(c *Config) { c.MaxConnectionTime = 150 * time.Millisecond })
	c2 := dial(t, y.ws, nil)
	if code, _ := readClose(t, c2); code != 1001 {
		t.Fatalf("max time: close %d", code)
	}
}

func TestChecklist33PostToConnectionStatuses(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	ctx := context.Background()
	if _, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte(`{"callType":"response_vm"}`)}); err != nil {
		t.Fatalf("200: %v", err)
	}
	if got := read(t, c); got != `{"callType":"response_vm"}` {
		t.Fatalf("frame %q", got)
	}
	_, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: bytes.Repeat([]byte("x"), MaxMessageSize+1)})
	var tooLarge *types.PayloadTooLargeException
	if !errors.As(err, &tooLarge) {
		t.Fatalf("413: %v", err)
	}
	gone := "AAAAAAAAAAAAAAA="
	_, err = x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &gone, Data: []byte("x")})
	var goneErr *types.GoneException
	if !errors.As(err, &goneErr) {
		t.Fatalf("410: %v", err)
	}
	x.g.faults.set(Fault{Status: 429, Count: 3}) // the SDK tries three times
	_, err = x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
	var limit *types.LimitExceededException
	if !errors.As(err, &limit) {
		t.Fatalf("429: %v", err)
	}
	bad := wrongSecretClient(x)
	_, err = bad.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("x")})
	var forbidden *types.ForbiddenException
	if errors.As(err, &forbidden) || err == nil || !strings.Contains(err.Error(), "StatusCode: 403") || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("403: %v", err)
	}
}

func wrongSecretClient(x *gw) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{Region: testCreds.Region, BaseEndpoint: aws.String(x.cb),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}, nil
		})})
}

func TestChecklist34GetConnection(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	before := time.Now().Add(-time.Second)
	c := dial(t, x.ws, http.Header{"User-Agent": {"checklist-agent/1.0"}})
	_, body := b.nextJSON(t)
	id := body["connectionId"].(string)
	send(t, c, `{"x":1}`)
	b.next(t)
	out, err := x.mgmt.GetConnection(context.Background(), &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if out.ConnectedAt.Before(before) || out.LastActiveAt.Before(*out.ConnectedAt) || *out.Identity.SourceIp != "127.0.0.1" || *out.Identity.UserAgent != "checklist-agent/1.0" {
		t.Fatalf("GetConnection %v %v %s %s", out.ConnectedAt, out.LastActiveAt, *out.Identity.SourceIp, *out.Identity.UserAgent)
	}
}

func TestChecklist35DeleteConnection(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	resp := signedCall(t, http.MethodDelete, x.cb+"/@connections/"+escapeID(id), nil, testCreds.SecretAccessKey)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE status %d", resp.StatusCode)
	}
	if code, reason := readClose(t, c); code != 1000 || reason != "Connection Closed Normally" {
		t.Fatalf("client saw close %d %q", code, reason)
	}
	_, body := b.nextJSON(t)
	if body["code"] != "1000" || body["reason"] != "Connection Closed Normally" {
		t.Fatalf("$disconnect %v", body)
	}
	if resp := signedCall(t, http.MethodDelete, x.cb+"/@connections/"+escapeID(id), nil, testCreds.SecretAccessKey); resp.StatusCode != http.StatusGone {
		t.Fatalf("second DELETE status %d", resp.StatusCode)
	}
}

func TestChecklist36StagePrefixedAndBarePaths(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	for _, u := range []string{x.cb + "/@connections/" + escapeID(id), x.srv.URL + "/@connections/" + escapeID(id)} {
		if resp := signedCall(t, http.MethodPost, u, []byte("via "+u), testCreds.SecretAccessKey); resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", u, resp.StatusCode)
		}
		if got := read(t, c); got != "via "+u {
			t.Fatalf("got %q", got)
		}
	}
}

func TestChecklist37SigV4Verified(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	_, id := connectID(t, x, b)
	u := x.cb + "/@connections/" + escapeID(id)
	if resp := signedCall(t, http.MethodPost, u, []byte("ok"), testCreds.SecretAccessKey); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed: %d", resp.StatusCode)
	}
	resp := signedCall(t, http.MethodPost, u, []byte("bad"), "wrong-secret")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(string(body), `{"message":"The request signature we calculated does not match the signature you provided.`) {
		t.Fatalf("wrong secret: %d %s", resp.StatusCode, body)
	}
	unsigned, _ := http.Post(u, "text/plain", strings.NewReader("x"))
	body, _ = io.ReadAll(unsigned.Body)
	if unsigned.StatusCode != http.StatusForbidden || string(body) != `{"message":"Missing Authentication Token"}` {
		t.Fatalf("unsigned: %d %s", unsigned.StatusCode, body)
	}
}

func TestChecklist38ErrorTypeHeader(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	resp := signedCall(t, http.MethodPost, x.cb+"/@connections/AAAAAAAAAAAAAAA%3D", []byte("x"), testCreds.SecretAccessKey)
	if resp.StatusCode != http.StatusGone || resp.Header.Get("x-amzn-ErrorType") != "GoneException" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	resp = signedCall(t, http.MethodPost, x.cb+"/@connections/AAAAAAAAAAAAAAA%3D", []byte("x"), "nope")
	if resp.Header.Get("x-amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("%v", resp.Header)
	}
}

func TestChecklist39PostDuringConnectGives410(t *testing.T) {
	b := newBackend(t)
	release := make(chan struct{})
	b.setRespond(func(w http.ResponseWriter, r recorded) {
		if r.Path == "/api/dotnetify/vm" && !strings.Contains(r.Body, "payload") {
			<-release
		}
	})
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	dialed := make(chan *websocket.Conn, 1)
	go func() {
		c, _, _ := websocket.DefaultDialer.Dial(x.ws, nil)
		dialed <- c
	}()
	_, body := b.nextJSON(t)
	id := body["connectionId"].(string)
	_, err := x.mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("too early")})
	var gone *types.GoneException
	if !errors.As(err, &gone) {
		t.Fatalf("POST during $connect: %v", err)
	}
	close(release)
	c := <-dialed
	if c == nil {
		t.Fatal("handshake failed")
	}
	defer c.Close()
	if _, err := x.mgmt.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("now")}); err != nil {
		t.Fatalf("POST after $connect: %v", err)
	}
}

func TestChecklist40StageVariables(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().route("Default", "$default", props{"IntegrationType": "HTTP", "IntegrationUri": "http://${stageVariables.host}/${stageVariables.version}/msg",
		"RequestTemplates": map[string]string{"$default": `{"env":"$stageVariables.env"}`}}, false)
	tp["Stage"] = resource("AWS::ApiGatewayV2::Stage", props{"StageName": "beta", "StageVariables": map[string]string{"host": "nlb", "version": "v2", "env": "staging"}})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	if !strings.HasSuffix(x.ws, "/beta") {
		t.Fatalf("stage %s", x.ws)
	}
	c := dial(t, x.ws, nil)
	send(t, c, "x")
	if r := b.next(t); r.Path != "/v2/msg" || r.Body != `{"env":"staging"}` {
		t.Fatalf("%s %s", r.Path, r.Body)
	}
}

func TestChecklist41Throttling429(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().httpRoute("Default", "$default", "/x", "", false)
	tp["Stage"] = resource("AWS::ApiGatewayV2::Stage", props{"StageName": "prod",
		"DefaultRouteSettings": map[string]any{"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001},
		"RouteSettings":        map[string]any{"$connect": map[string]any{"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.001}}})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	dial(t, x.ws, nil)
	if got := dialStatus(t, x.ws, nil); got != http.StatusTooManyRequests {
		t.Fatalf("third connect: %d", got)
	}
	send(t, c, "first")
	b.next(t)
	send(t, c, "second")
	if m := frameRE.FindStringSubmatch(read(t, c)); m == nil || m[1] != "Too Many Requests" {
		t.Fatalf("throttled message frame %v", m)
	}
}

func TestChecklist42AccessLogFormat(t *testing.T) {
	b := newBackend(t)
	tp := dotnetifyTemplate()
	tp["Stage"] = resource("AWS::ApiGatewayV2::Stage", props{"StageName": "prod", "AccessLogSettings": map[string]any{
		"DestinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:x",
		"Format":         `{"requestId":"$context.requestId","eventType":"$context.eventType","routeKey":"$context.routeKey","status":"$context.status","connectionId":"$context.connectionId","err":"$context.error.message"}`}})
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	send(t, c, `{"m":1}`)
	b.next(t)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	b.next(t)
	waitFor(t, "three access-log lines", func() bool { return len(x.accessLines()) == 3 })
	lines := x.accessLines()
	want := []string{`"eventType":"CONNECT","routeKey":"$connect","status":"200","connectionId":"` + id + `","err":"-"}`,
		`"eventType":"MESSAGE","routeKey":"$default","status":"200"`, `"eventType":"DISCONNECT","routeKey":"$disconnect","status":"200"`}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !regexp.MustCompile(`^\{"requestId":"[A-Za-z0-9_=-]{16}"`).MatchString(lines[i]) {
			t.Errorf("line %d %s, want it to contain %s", i, lines[i], w)
		}
	}
}

func TestChecklist43APIKeyRequiredOnConnect(t *testing.T) {
	b := newBackend(t)
	tp := dotnetifyTemplate().set("Connect", props{"ApiKeyRequired": true})
	tp["Key"] = map[string]any{"Type": "AWS::ApiGateway::ApiKey", "Properties": props{"Value": "local-key-0123456789"}}
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	if got := dialStatus(t, x.ws, nil); got != http.StatusForbidden {
		t.Fatalf("no key: %d", got)
	}
	if got := dialStatus(t, x.ws, http.Header{"X-Api-Key": {"wrong"}}); got != http.StatusForbidden {
		t.Fatalf("wrong key: %d", got)
	}
	dial(t, x.ws, http.Header{"X-Api-Key": {"local-key-0123456789"}})
}

func TestChecklist44IAMOnConnect(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().set("Connect", props{"AuthorizationType": "AWS_IAM"}).bytes(), b.srv.URL, nil)
	if got := dialStatus(t, x.ws, nil); got != http.StatusForbidden {
		t.Fatalf("unsigned: %d", got)
	}
	if got := dialStatus(t, x.ws, signedUpgrade(t, x.ws, "wrong")); got != http.StatusForbidden {
		t.Fatalf("wrong secret: %d", got)
	}
	dial(t, x.ws, signedUpgrade(t, x.ws, testCreds.SecretAccessKey))
}

func TestChecklist45VPCLinkIsPlainHTTP(t *testing.T) {
	b := newBackend(t)
	data := stacktemplate.JSON
	x := startGateway(t, data, b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	r, body := b.nextJSON(t)
	if r.Path != "/api/dotnetify/vm" || body["sourceIp"] != "127.0.0.1" {
		t.Fatalf("VPC_LINK $connect %s %v", r.Path, body)
	}
	send(t, c, `{"callType":"dispose_vm","vmId":"HelloWorldVM"}`)
	_, body = b.nextJSON(t)
	if p, _ := body["payload"].(map[string]any); p["callType"] != "dispose_vm" {
		t.Fatalf("VPC_LINK $default %v", body)
	}
}

func TestPassthroughBehaviorAndContentHandling(t *testing.T) {
	b := newBackend(t)
	tp := newTemplate().
		route("Never", "never", props{"IntegrationType": "HTTP", "IntegrationUri": "http://nlb/never", "PassthroughBehavior": "NEVER",
			"TemplateSelectionExpression": "${request.body.kind}", "RequestTemplates": map[string]string{"known": "templated"}}, false).
		route("Binary", "$default", props{"IntegrationType": "HTTP_PROXY", "IntegrationMethod": "POST", "IntegrationUri": "http://nlb/bin", "ContentHandlingStrategy": "CONVERT_TO_BINARY"}, false)
	x := startGateway(t, tp.bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"action":"never","kind":"known"}`)
	if r := b.next(t); r.Body != "templated" {
		t.Fatalf("matching template: %q", r.Body)
	}
	send(t, c, `{"action":"never","kind":"other"}`)
	if m := frameRE.FindStringSubmatch(read(t, c)); m == nil || m[1] != "Unsupported Media Type" {
		t.Fatalf("NEVER without a template: %v", m)
	}
	send(t, c, "AAEC/w==")
	if r := b.next(t); r.Body != "\x00\x01\x02\xff" {
		t.Fatalf("CONVERT_TO_BINARY body %q", r.Body)
	}
	send(t, c, "not base64!")
	if m := frameRE.FindStringSubmatch(read(t, c)); m == nil || m[1] != "Internal server error" {
		t.Fatalf("bad base64: %v", m)
	}
}
