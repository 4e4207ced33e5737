package main

// Tests of `wsgate dev --authorizer-package`: the template's $connect
// authorizer run as a Go main package under the local Lambda Runtime API,
// with the real examples/authorizer, the real CLI and a WebSocket client.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/stacktemplate"
)

const (
	// examplesAuthorizer is the example REQUEST authorizer (aws-lambda-go).
	examplesAuthorizer = wsgateModule + "/examples/authorizer"
	// devAuthorizerSecret signs the example authorizer's tokens in these tests.
	devAuthorizerSecret = "dev-test-authorizer-secret-0123456789"
	// authorizerFunction is the logical id of the authorizer's function in
	// authorizedTemplateFile; the gateway invokes it under that name.
	authorizerFunction = "AuthorizerFunction7E2C3D4A"
)

// hangingAuthorizer is an authorizer package that never asks the Runtime
// API for an event: it notes its start in $DEVTEST_STATE/authorizer and
// waits.
const hangingAuthorizer = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

func main() {
	f, err := os.OpenFile(filepath.Join(os.Getenv("DEVTEST_STATE"), "authorizer"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	time.Sleep(time.Hour) // hang, never polling (a bare select{} is a deadlock the runtime ends)
}
`

// authorizedTemplateFile writes WsgateStack's template with $connect
// authorized as the constructs' ConnectAuthorization.Function makes it: a
// REQUEST authorizer on a function of the stack whose identity source is
// the query-string token, and the admitted principal mapped from
// $context.authorizer into X-Wsgate-Principal on every integration.
func authorizedTemplateFile(t *testing.T) string {
	t.Helper()
	var whole map[string]json.RawMessage
	var res map[string]map[string]any
	if err := json.Unmarshal(stacktemplate.JSON, &whole); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(whole["Resources"], &res); err != nil {
		t.Fatal(err)
	}
	var api, connect string
	for id, r := range res {
		props, _ := r["Properties"].(map[string]any)
		switch {
		case r["Type"] == "AWS::ApiGatewayV2::Api":
			api = id
		case r["Type"] == "AWS::ApiGatewayV2::Route" && props["RouteKey"] == "$connect":
			connect = id
		case r["Type"] == "AWS::ApiGatewayV2::Integration":
			params := props["RequestParameters"].(map[string]any)
			params["integration.request.header."+contract.HeaderPrincipal] = "context.authorizer.principalId"
		}
	}
	if api == "" || connect == "" {
		t.Fatalf("the stack template has no WebSocket API with a $connect route")
	}
	res[authorizerFunction] = map[string]any{
		"Type": "AWS::Lambda::Function",
		"Properties": map[string]any{
			"Handler": "bootstrap", "Runtime": "provided.al2023", "Architectures": []string{"arm64"},
			"Code": map[string]any{"ZipFile": "placeholder"}, "Role": "arn:aws:iam::000000000000:role/authorizer",
		},
	}
	res["RealtimeApiConnectAuthorizer1C2B3A4D"] = map[string]any{
		"Type": "AWS::ApiGatewayV2::Authorizer",
		"Properties": map[string]any{
			"ApiId":          map[string]any{"Ref": api},
			"Name":           "wsgate-connect",
			"AuthorizerType": "REQUEST",
			"AuthorizerUri": map[string]any{"Fn::Join": []any{"", []any{
				"arn:", map[string]any{"Ref": "AWS::Partition"}, ":apigateway:", map[string]any{"Ref": "AWS::Region"},
				":lambda:path/2015-03-31/functions/", map[string]any{"Fn::GetAtt": []string{authorizerFunction, "Arn"}}, "/invocations",
			}}},
			"IdentitySource": []string{"route.request.querystring.token"},
		},
	}
	route := res[connect]["Properties"].(map[string]any)
	route["AuthorizationType"] = "CUSTOM"
	route["AuthorizerId"] = map[string]any{"Ref": "RealtimeApiConnectAuthorizer1C2B3A4D"}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	whole["Resources"] = data
	out, err := json.MarshalIndent(whole, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "AuthorizedStack.template.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// wsgateUserModule writes a user's module that requires this checkout
// through a replace (with its go.sum), so that wsgate dev can build
// examples/authorizer from it as a user builds their own authorizer, and
// returns its root and the go environment it needs: no network, the
// modules come from the module cache.
func wsgateUserModule(t *testing.T, extra map[string]string) (string, []string) {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod": "module example.com/counter\n\ngo 1.26\n\nrequire github.com/wsgate/wsgate v0.0.0\n\nreplace github.com/wsgate/wsgate => " + repo + "\n",
		"go.sum": string(sums),
	}
	for k, v := range extra {
		files[k] = v
	}
	return userModule(t, files), []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off"}
}

// authorizerToken signs user as examples/authorizer expects.
func authorizerToken(user string) string {
	mac := hmac.New(sha256.New, []byte(devAuthorizerSecret))
	mac.Write([]byte(user))
	return user + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// handshake opens a WebSocket to url and returns the handshake's status.
func handshake(t *testing.T, url string) int {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil {
		c.Close()
		return resp.StatusCode
	}
	if resp == nil {
		t.Fatalf("handshake with %s: %v", url, err)
	}
	return resp.StatusCode
}

// authorizerPid returns the pid of the running authorizer binary that
// wsgate dev started, failing when there is none.
func (d *devRun) authorizerPid(t *testing.T) int {
	t.Helper()
	for _, pid := range d.left() {
		cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		argv0, _, _ := strings.Cut(string(cmdline), "\x00")
		if filepath.Base(argv0) == "authorizer" {
			return pid
		}
	}
	t.Fatalf("no authorizer process running: %s\n%s", describe(d.left()), d.log())
	return 0
}

// A handshake without a token is refused with 401 as API Gateway refuses a
// missing identity source, one with a valid token is admitted and the
// server sees its principal; an authorizer that dies is started again and
// admits the next connection.
func TestDevRunsTheAuthorizerPackage(t *testing.T) {
	root, goEnv := wsgateUserModule(t, nil)
	d := startDev(t, root, append(goEnv, "AUTHORIZER_SECRET="+devAuthorizerSecret),
		"--server-package", "./cmd/counter", "--template", authorizedTemplateFile(t), "--authorizer-package", examplesAuthorizer)
	d.waitLine(t, `^==> running the authorizer `+authorizerFunction+` \(`+examplesAuthorizer+`\) on the local Lambda Runtime API$`)
	ws := d.waitLine(t, `^websocket: (ws://\S+)$`)[1]

	if got := handshake(t, ws); got != http.StatusUnauthorized {
		t.Errorf("handshake without a token: %d, want 401\n%s", got, d.log())
	}
	if got := handshake(t, ws+"?token=alice.bm90LWEtc2lnbmF0dXJl"); got != http.StatusUnauthorized {
		t.Errorf("handshake with a forged token: %d, want 401\n%s", got, d.log())
	}
	if got := handshake(t, ws+"?token="+authorizerToken("alice")); got != http.StatusSwitchingProtocols {
		t.Fatalf("handshake with alice's token: %d, want 101\n%s", got, d.log())
	}
	if got := d.waitFile(t, "principals", 1); got[0] != "alice" {
		t.Errorf("principals the server saw: %v, want alice first", got)
	}

	if err := syscall.Kill(d.authorizerPid(t), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitLine(t, `^==> authorizer exited \(signal: killed\); starting it again in 500ms$`)
	d.waitLine(t, `^==> authorizer is up again \(`+authorizerFunction+`\)$`)
	if got := handshake(t, ws+"?token="+authorizerToken("bob")); got != http.StatusSwitchingProtocols {
		t.Fatalf("handshake with bob's token after the restart: %d, want 101\n%s", got, d.log())
	}
	d.terminate(t)
}

func TestDevStopsEveryChildOnSIGTERMWhileTheAuthorizerRuns(t *testing.T) {
	root, goEnv := wsgateUserModule(t, nil)
	// A server that ignores SIGTERM is killed; the authorizer goes too.
	d := startDev(t, root, append(goEnv, "DEVTEST_IGNORE_TERM=1", "AUTHORIZER_SECRET="+devAuthorizerSecret),
		"--server-package", "./cmd/counter", "--template", authorizedTemplateFile(t), "--authorizer-package", examplesAuthorizer)
	d.waitLine(t, `^websocket: ws://`)
	d.authorizerPid(t)
	d.terminate(t)
}

func TestDevStopsEveryChildOnSIGTERMWhileTheAuthorizerStarts(t *testing.T) {
	root := userModule(t, map[string]string{"cmd/authorizer/main.go": hangingAuthorizer})
	d := startDev(t, root, nil, "--server-package", "./cmd/counter", "--template", authorizedTemplateFile(t), "--authorizer-package", "./cmd/authorizer")
	d.waitFile(t, "authorizer", 1)
	d.authorizerPid(t)
	d.terminate(t)
}

// An authorizer that exits before asking for an event fails wsgate dev with
// its own message and how it ended.
func TestDevAuthorizerThatCannotStartIsAnError(t *testing.T) {
	root, goEnv := wsgateUserModule(t, nil)
	d := startDev(t, root, append(goEnv, "AUTHORIZER_SECRET="),
		"--server-package", "./cmd/counter", "--template", authorizedTemplateFile(t), "--authorizer-package", examplesAuthorizer)
	d.waitLine(t, `authorizer: AUTHORIZER_SECRET must hold a secret of at least 16 bytes$`)
	d.waitLine(t, `^wsgate dev: the authorizer exited during start-up \(exit status 1\)$`)
	<-d.exited
	if code := d.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, d.log())
	}
	if left := d.left(); len(left) > 0 {
		t.Errorf("processes left: %s", describe(left))
	}
}

// A template whose $connect runs a Lambda authorizer needs something to run
// it; the error says which flag to give, in one line, before any build.
func TestDevAuthorizerFlagsAreOneLineErrors(t *testing.T) {
	web := t.TempDir()
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<html></html>"), 0o600)
	authorized := authorizedTemplateFile(t)
	plain := stackTemplateFile(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--template", authorized},
			"wsgate dev: the template's $connect route runs the Lambda authorizer " + authorizerFunction + ": give --authorizer-package with its main package (such as --authorizer-package ./cmd/authorizer), or --lambda-endpoint with a Lambda Invoke API that runs it\n"},
		{[]string{"--template", plain, "--authorizer-package", "./cmd/authorizer"},
			"wsgate dev: --authorizer-package ./cmd/authorizer: the template's WebSocket API has no Lambda authorizer to run (ConnectAuthorization.Function sets one)\n"},
		{[]string{"--template", authorized, "--authorizer-package", "./cmd/authorizer", "--lambda-endpoint", "http://127.0.0.1:3002"},
			"wsgate dev: give --authorizer-package or --lambda-endpoint, not both: the authorizer " + authorizerFunction + " runs in one of them\n"},
	} {
		args := append([]string{"dev", "--web", web, "--demo-addr", "127.0.0.1:0", "--addr", "127.0.0.1:0", "--access-log", ""}, tc.args...)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		if code != 2 || stderr.String() != tc.want {
			t.Errorf("%v: exit %d, stderr %q\nwant exit 2, %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
