package localgateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

// awsCLI runs the real AWS CLI against the gateway with the local
// credentials. The binary is required: scripts/install-deps.sh --system
// installs it.
func awsCLI(t *testing.T, secret string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatal("the AWS CLI (aws) is required for this test and was not found in PATH; install it with scripts/install-deps.sh --system or apt-get install awscli")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+testCreds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_DEFAULT_REGION="+testCreds.Region, "AWS_REGION="+testCreds.Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err != nil {
		return stdout.String(), errors.New(strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func TestInteropAWSCLI(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	_, body := b.nextJSON(t)
	id := body["connectionId"].(string)
	dataFile := t.TempDir() + "/data.json"
	if err := os.WriteFile(dataFile, []byte(`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"apigatewaymanagementapi", "--endpoint-url", x.cb}
	if _, err := awsCLI(t, testCreds.SecretAccessKey, append(common, "post-to-connection", "--connection-id="+id, "--data", "fileb://"+dataFile)...); err != nil {
		t.Fatalf("post-to-connection: %v", err)
	}
	if got := read(t, c); got != `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{}"}` {
		t.Fatalf("frame %q", got)
	}
	out, err := awsCLI(t, testCreds.SecretAccessKey, append(common, "get-connection", "--connection-id="+id)...)
	if err != nil {
		t.Fatalf("get-connection: %v", err)
	}
	var info struct {
		ConnectedAt  string
		LastActiveAt string
		Identity     struct{ SourceIp, UserAgent string }
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Identity.SourceIp != "127.0.0.1" || info.ConnectedAt == "" || info.LastActiveAt == "" {
		t.Fatalf("get-connection output %s (%v)", out, err)
	}
	if _, err := awsCLI(t, "wrong-secret", append(common, "post-to-connection", "--connection-id="+id, "--data", "fileb://"+dataFile)...); err == nil ||
		!strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret accepted or wrong error: %v", err)
	}
	if _, err := awsCLI(t, testCreds.SecretAccessKey, append(common, "delete-connection", "--connection-id="+id)...); err != nil {
		t.Fatalf("delete-connection: %v", err)
	}
	if code, _ := readClose(t, c); code != 1000 {
		t.Fatalf("close %d", code)
	}
	if _, err := awsCLI(t, testCreds.SecretAccessKey, append(common, "get-connection", "--connection-id="+id)...); err == nil || !strings.Contains(err.Error(), "GoneException") {
		t.Fatalf("get-connection after delete: %v", err)
	}
}

func TestInteropSDKClient(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	ctx := context.Background()
	if _, err := x.mgmt.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &id, Data: []byte("sdk")}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c); got != "sdk" {
		t.Fatalf("got %q", got)
	}
	if _, err := x.mgmt.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatal(err)
	}
	if _, err := wrongSecretClient(x).GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: &id}); err == nil ||
		!strings.Contains(err.Error(), "The request signature we calculated does not match") {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := x.mgmt.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: &id}); err != nil {
		t.Fatal(err)
	}
}

// TestDotNetifyTemplateBodies checks the bodies of the dotNetify protocol
// (§4.2) coming out of dotNetify's own template.
func TestDotNetifyTemplateBodies(t *testing.T) {
	b := newBackend(t)
	data, err := readFile("testdata/dotnetify-cloudformation-template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	x := startGateway(t, data, b.srv.URL, nil)
	if x.g.StageName() != "prod" {
		t.Fatalf("stage %s", x.g.StageName())
	}
	c := dial(t, x.ws, nil)
	r := b.next(t)
	var connect map[string]string
	if err := json.Unmarshal([]byte(r.Body), &connect); err != nil || r.Method != "POST" || r.Path != "/api/dotnetify/vm" {
		t.Fatalf("$connect %s %s %s", r.Method, r.Path, r.Body)
	}
	id := connect["connectionId"]
	frames := []string{
		`{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`,
		`{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\"}"}`,
		`{"callType":"dispose_vm","vmId":"HelloWorldVM"}`,
	}
	for _, f := range frames {
		send(t, c, f)
		r := b.next(t)
		want := `{"connectionId":"` + id + `","payload":` + f + `}`
		if r.Path != "/api/dotnetify/vm" || compactJSON(t, r.Body) != want {
			t.Fatalf("$default %s\n got  %s\n want %s", r.Path, compactJSON(t, r.Body), want)
		}
	}
	c.Close()
	r = b.next(t)
	if r.Path != "/api/dotnetify/vm/disconnect" || compactJSON(t, r.Body) != `{"connectionId":"`+id+`"}` {
		t.Fatalf("$disconnect %s %s", r.Path, r.Body)
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatalf("not JSON: %q: %v", s, err)
	}
	return buf.String()
}

func TestBadInputMalformedFrames(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	cases := map[string]func(net.Conn){
		"unmasked frame": func(nc net.Conn) { ws.WriteFrame(nc, ws.NewTextFrame([]byte("x"))) },
		"continuation without start": func(nc net.Conn) {
			ws.WriteFrame(nc, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte("x"))))
		},
		"reserved opcode": func(nc net.Conn) { ws.WriteFrame(nc, ws.MaskFrame(ws.NewFrame(ws.OpCode(0x3), true, []byte("x")))) },
		"reserved bits": func(nc net.Conn) {
			ws.WriteFrame(nc, ws.MaskFrame(ws.Frame{Header: ws.Header{Fin: true, Rsv: 4, OpCode: ws.OpText, Length: 1}, Payload: []byte("x")}))
		},
	}
	for name, write := range cases {
		t.Run(name, func(t *testing.T) {
			c, _ := connectID(t, x, b)
			write(c.UnderlyingConn())
			if code, _ := readClose(t, c); code != 1002 {
				t.Fatalf("close %d, want 1002", code)
			}
			if r := b.next(t); r.Path != "/api/dotnetify/vm/disconnect" {
				t.Fatalf("got %s, want $disconnect", r.Path)
			}
		})
	}
}

func TestBadInputUnknownConnectionAndPaths(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	for _, u := range []string{x.cb + "/@connections/", x.cb + "/@connections/a/b", x.srv.URL + "/other"} {
		resp := signedCall(t, "POST", u, []byte("x"), testCreds.SecretAccessKey)
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d, want 403", u, resp.StatusCode)
		}
	}
	resp := signedCall(t, "PUT", x.cb+"/@connections/AAAAAAAAAAAAAAA%3D", []byte("x"), testCreds.SecretAccessKey)
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("PUT: %d %v", resp.StatusCode, resp.Header)
	}
	plain, err := httpGet(x.ws)
	if err != nil || plain != 426 {
		t.Errorf("plain GET on the stage: %d %v", plain, err)
	}
	for name, h := range map[string]http.Header{
		"version 8": {"Sec-Websocket-Version": {"8"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}},
		"short key": {"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"c2hvcnQ="}},
	} {
		req, _ := http.NewRequest("GET", "http"+strings.TrimPrefix(x.ws, "ws"), nil)
		req.Header = h
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]int{"version 8": 426, "short key": 400}[name]; resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
		}
	}
	select {
	case r := <-b.reqs:
		t.Fatalf("a refused handshake ran $connect: %s", r.Path)
	default:
	}
	// A connection that got closed is gone.
	c, id := connectID(t, x, b)
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
	b.next(t)
	waitFor(t, "the connection to go", func() bool { return x.g.ConnectionCount() == 0 })
	if resp := signedCall(t, "POST", x.cb+"/@connections/"+escapeID(id), []byte("x"), testCreds.SecretAccessKey); resp.StatusCode != 410 {
		t.Errorf("closed connection: %d", resp.StatusCode)
	}
}

func httpGet(wsURL string) (int, error) {
	resp, err := httpClientGet("http" + strings.TrimPrefix(wsURL, "ws"))
	if err != nil {
		return 0, err
	}
	return resp, nil
}
