package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/server/push"
)

// waitLimit bounds every wait for an event from the gateway; reaching it is a failure.
const waitLimit = 10 * time.Second

// gatewayTemplate is the smallest WebSocket API that lets a client connect: $connect and
// $disconnect integrations that pass the connection id, as the wsgate constructs do.
const gatewayTemplate = `{"Resources":{
 "Api":{"Type":"AWS::ApiGatewayV2::Api","Properties":{"Name":"push-test","ProtocolType":"WEBSOCKET","RouteSelectionExpression":"$request.body.action"}},
 "Connect":{"Type":"AWS::ApiGatewayV2::Integration","Properties":{"ApiId":{"Ref":"Api"},"IntegrationType":"HTTP","IntegrationMethod":"POST",
  "IntegrationUri":"http://backend.internal/api/dotnetify/vm","TemplateSelectionExpression":"\\$default",
  "RequestTemplates":{"$default":"{\"connectionId\":\"$context.connectionId\"}"}}},
 "Disconnect":{"Type":"AWS::ApiGatewayV2::Integration","Properties":{"ApiId":{"Ref":"Api"},"IntegrationType":"HTTP","IntegrationMethod":"POST",
  "IntegrationUri":"http://backend.internal/api/dotnetify/vm/disconnect","TemplateSelectionExpression":"\\$default",
  "RequestTemplates":{"$default":"{\"connectionId\":\"$context.connectionId\"}"}}},
 "ConnectRoute":{"Type":"AWS::ApiGatewayV2::Route","Properties":{"ApiId":{"Ref":"Api"},"RouteKey":"$connect","Target":{"Fn::Join":["",["integrations/",{"Ref":"Connect"}]]}}},
 "DisconnectRoute":{"Type":"AWS::ApiGatewayV2::Route","Properties":{"ApiId":{"Ref":"Api"},"RouteKey":"$disconnect","Target":{"Fn::Join":["",["integrations/",{"Ref":"Disconnect"}]]}}},
 "Stage":{"Type":"AWS::ApiGatewayV2::Stage","Properties":{"ApiId":{"Ref":"Api"},"StageName":"prod"}}
}}`

// gateway is the local API Gateway emulator serving gatewayTemplate, with a backend that
// reports the ids of connections and disconnections.
type gateway struct {
	ws, callback string
	connected    chan string
	disconnected chan string
}

func startGateway(t *testing.T, fault *localgateway.Fault) *gateway {
	t.Helper()
	g := &gateway{connected: make(chan string, 16), disconnected: make(chan string, 16)}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ConnectionID string }
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case contract.PathMessage:
			g.connected <- body.ConnectionID
		case contract.PathDisconnect:
			g.disconnected <- body.ConnectionID
		}
	}))
	t.Cleanup(backend.Close)
	apis, err := cfn.Parse([]byte(gatewayTemplate), cfn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(backend.URL)
	gw, err := localgateway.New(localgateway.Config{
		API: apis[0], Backend: u, Fault: fault,
		Credentials: localgateway.Credentials{AccessKeyID: contract.DefaultLocalAccessKeyID, SecretAccessKey: contract.DefaultLocalSecretAccessKey, Region: contract.DefaultLocalRegion},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = gw.Shutdown(ctx)
		srv.Close()
	})
	g.ws = "ws" + strings.TrimPrefix(srv.URL, "http") + "/" + gw.StageName()
	g.callback = srv.URL + "/" + gw.StageName()
	return g
}

// connect opens a client socket and returns it with its connection id.
func (g *gateway) connect(t *testing.T) (*websocket.Conn, string) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(g.ws, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", g.ws, err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case id := <-g.connected:
		return c, id
	case <-time.After(waitLimit):
		t.Fatal("the backend saw no $connect")
		return nil, ""
	}
}

// expectDisconnect waits for the $disconnect of id at the backend.
func (g *gateway) expectDisconnect(t *testing.T, id string) {
	t.Helper()
	select {
	case got := <-g.disconnected:
		if got != id {
			t.Errorf("$disconnect of %q, want %q", got, id)
		}
	case <-time.After(waitLimit):
		t.Fatalf("the backend saw no $disconnect of %s", id)
	}
}

// readUntilClose returns the text frames a client receives until its socket closes, and the
// close code and reason.
func readUntilClose(t *testing.T, c *websocket.Conn) (frames []string, code int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitLimit))
	for {
		_, data, err := c.ReadMessage()
		if err == nil {
			frames = append(frames, string(data))
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return frames, ce.Code, ce.Text
		}
		t.Fatalf("socket did not close (frames so far %d): %v", len(frames), err)
	}
}

func newGatewayClient(t *testing.T, callbackURL string, logs *logRecorder, gone *goneLog) *push.Client {
	t.Helper()
	c, err := push.New(push.Config{
		CallbackURL: callbackURL,
		Region:      contract.DefaultLocalRegion,
		Credentials: credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, ""),
		Concurrency: 4,
		MaxAttempts: 4,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  4 * time.Millisecond,
		Logger:      slog.New(logs),
		OnGone:      gone.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// Through the local gateway, throttled for good on every push: the frames are given up,
// and the client sees its socket closed (the DELETE), so it reconnects and resyncs.
func TestGatewayThrottledForeverClosesTheSocket(t *testing.T) {
	g := startGateway(t, &localgateway.Fault{Status: http.StatusTooManyRequests, Methods: []string{http.MethodPost}})
	ws, id := g.connect(t)
	rl := startRelay(t, g.callback)
	logs := newLogRecorder()
	var gone goneLog
	c := newGatewayClient(t, rl.URL, logs, &gone)
	sendHeld(t, rl, c, id, frame(1), frame(2))
	frames, code, reason := readUntilClose(t, ws)
	if len(frames) != 0 || code != websocket.CloseNormalClosure || reason != "Connection Closed Normally" {
		t.Errorf("client got frames %q and close %d %q, want no frames and 1000 Connection Closed Normally", frames, code, reason)
	}
	g.expectDisconnect(t, id)
	flush(t, c)
	expectStats(t, c, push.Stats{Retried: 3, GaveUp: 1, Failed: 1, Dropped: 1, Closed: 1})
	gone.expect(t, id)
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=`+id+` cause=gave_up error=push to `+id+`: gave up after 4 attempts: @connections answered 429 Too Many Requests: {"message":"Rate exceeded"}`)
}

// Through the local gateway, a frame over 128 KiB answers 413: the frames before it arrive,
// the ones after it do not, and the socket is closed.
func TestGatewayTooLargeFrameClosesTheSocket(t *testing.T) {
	g := startGateway(t, nil)
	ws, id := g.connect(t)
	rl := startRelay(t, g.callback)
	logs := newLogRecorder()
	var gone goneLog
	c := newGatewayClient(t, rl.URL, logs, &gone)
	big := `{"callType":"response_vm","vmId":"ChatRoomVM","data":"` + strings.Repeat("x", localgateway.MaxMessageSize) + `"}`
	sendHeld(t, rl, c, id, frame(1), []byte(big), frame(2))
	frames, code, reason := readUntilClose(t, ws)
	if len(frames) != 1 || frames[0] != string(frame(1)) || code != websocket.CloseNormalClosure || reason != "Connection Closed Normally" {
		t.Errorf("client got frames %q and close %d %q, want frame 1 and 1000 Connection Closed Normally", frames, code, reason)
	}
	g.expectDisconnect(t, id)
	flush(t, c)
	expectStats(t, c, push.Stats{Sent: 1, TooLarge: 1, Failed: 1, Dropped: 1, Closed: 1})
	gone.expect(t, id)
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=`+id+` cause=too_large error=push to `+id+`: @connections answered 413 Request Entity Too Large: {"message":"Request entity too large"}`)
}

// Through the local gateway, a push whose connection is reset after the gateway delivered
// it (what a timeout looks like) is not sent again: the client receives the list frame
// once, not once per attempt, and is closed so that it resyncs.
func TestGatewayMaybeDeliveredFrameArrivesOnce(t *testing.T) {
	g := startGateway(t, nil)
	ws, id := g.connect(t)
	rl := startRelay(t, g.callback)
	rl.cutPosts()
	logs := newLogRecorder()
	var gone goneLog
	c := newGatewayClient(t, rl.URL, logs, &gone)
	add := `{"callType":"response_vm","vmId":"ChatRoomVM","data":"{\"Messages_add\":{\"Id\":1,\"Text\":\"hi\"}}"}`
	c.Send(id, []byte(add))
	frames, code, _ := readUntilClose(t, ws)
	if len(frames) != 1 || frames[0] != add || code != websocket.CloseNormalClosure {
		t.Errorf("client got frames %q and close %d, want the frame once and 1000", frames, code)
	}
	g.expectDisconnect(t, id)
	flush(t, c)
	expectStats(t, c, push.Stats{Ambiguous: 1, Failed: 1, Closed: 1})
	gone.expect(t, id)
}
