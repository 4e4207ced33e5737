package lambdaruntime

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway/sigv4"
)

const testSecret = "0123456789abcdef-test-secret"

// token signs user as examples/authorizer expects.
func token(user string) string {
	mac := hmac.New(sha256.New, []byte(testSecret))
	mac.Write([]byte(user))
	return user + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// serve starts f's Runtime API and an Invoke API for it, verifying the local credentials,
// and returns AWS_LAMBDA_RUNTIME_API's value and the Invoke API's base URL.
func serve(t *testing.T, fns ...*Function) (runtimeAPI []string, invokeURL string) {
	t.Helper()
	byName := map[string]*Function{}
	for _, f := range fns {
		rt := httptest.NewServer(f)
		t.Cleanup(rt.Close)
		runtimeAPI = append(runtimeAPI, strings.TrimPrefix(rt.URL, "http://"))
		byName[f.Name()] = f
	}
	api := &InvokeAPI{Functions: byName, Verifier: &sigv4.Verifier{Region: contract.DefaultLocalRegion, Service: "lambda",
		Lookup: func(id string) (string, bool) {
			return contract.DefaultLocalSecretAccessKey, id == contract.DefaultLocalAccessKeyID
		}}}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return runtimeAPI, srv.URL
}

// invoke calls the Invoke API as the local gateway does: signed for "lambda".
func invoke(t *testing.T, base, function string, event []byte, sign bool) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/2015-03-31/functions/"+function+"/invocations", bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sign {
		sum := sha256.Sum256(event)
		creds := aws.Credentials{AccessKeyID: contract.DefaultLocalAccessKeyID, SecretAccessKey: contract.DefaultLocalSecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", contract.DefaultLocalRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, strings.TrimSpace(string(body))
}

// buildAuthorizer compiles examples/authorizer, the unmodified aws-lambda-go program.
func buildAuthorizer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authorizer")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wsgate/wsgate/examples/authorizer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/authorizer: %v\n%s", err, out)
	}
	return bin
}

// authorizerEvent is the REQUEST authorizer input the local gateway sends, with a token.
func authorizerEvent(tok string) []byte {
	ev := map[string]any{"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:000000000000:api/prod/$connect",
		"headers": map[string]string{"Host": "127.0.0.1"}, "requestContext": map[string]any{"connectionId": "Wm1nYcO3IAMCJ2w=", "connectedAt": 1.7e12}}
	if tok != "" {
		ev["queryStringParameters"] = map[string]string{"token": tok}
	}
	b, _ := json.Marshal(ev)
	return b
}

// The real authorizer binary, started with AWS_LAMBDA_RUNTIME_API and nothing else of
// Lambda's, answers through the Invoke API: an Allow policy for the token's user with its
// context, and "Unauthorized" (a function error) for a forged token.
func TestRealAuthorizerThroughTheInvokeAPI(t *testing.T) {
	bin := buildAuthorizer(t)
	f := New("wsgate-authorizer", Config{Timeout: 20 * time.Second})
	rt, base := serve(t, f)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+rt[0], "AUTHORIZER_SECRET="+testSecret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	status, h, body := invoke(t, base, "wsgate-authorizer", authorizerEvent(token("alice")), true)
	want := `{"principalId":"alice","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:000000000000:api/prod/$connect"]}]},"context":{"role":"member"}}`
	if status != http.StatusOK || h.Get("X-Amz-Function-Error") != "" || body != want {
		t.Fatalf("valid token: %d %q %s (stderr %s)\nwant 200 %s", status, h.Get("X-Amz-Function-Error"), body, stderr.String(), want)
	}

	forged := token("alice")[:len(token("alice"))-2] + "AA"
	for _, tok := range []string{forged, "mallory", ""} {
		status, h, body = invoke(t, base, "wsgate-authorizer", authorizerEvent(tok), true)
		var doc struct{ ErrorMessage, ErrorType string }
		_ = json.Unmarshal([]byte(body), &doc)
		if status != http.StatusOK || h.Get("X-Amz-Function-Error") != "Unhandled" || doc.ErrorMessage != "Unauthorized" {
			t.Errorf("token %q: %d %q %s, want 200, Unhandled, errorMessage Unauthorized", tok, status, h.Get("X-Amz-Function-Error"), body)
		}
	}
	// Still one process, answering in turn.
	if status, _, body = invoke(t, base, "wsgate-authorizer", authorizerEvent(token("bob")), true); status != http.StatusOK || !strings.Contains(body, `"principalId":"bob"`) {
		t.Errorf("second valid token: %d %s", status, body)
	}
}

// The Invoke API refuses unsigned calls, unknown functions, other invocation types and
// oversize or non-JSON events, each with Lambda's error type and a message naming the
// problem.
func TestInvokeAPIRefusals(t *testing.T) {
	f := New("fn", Config{MaxPayloadBytes: 64})
	_, base := serve(t, f)
	cases := []struct {
		name, function string
		event          []byte
		sign           bool
		status         int
		errType, msg   string
	}{
		{"unsigned", "fn", []byte(`{}`), false, 403, "InvalidSignatureException", ""},
		{"unknown function", "nope", []byte(`{}`), true, 404, "ResourceNotFoundException", "Function not found: nope"},
		{"too large", "fn", []byte(`{"x":"` + strings.Repeat("a", 64) + `"}`), true, 413, "RequestTooLargeException", "Request must be smaller than 64 bytes for the InvokeFunction operation"},
		{"not JSON", "fn", []byte(`{x`), true, 400, "InvalidRequestContentException", "Could not parse request body into json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, h, body := invoke(t, base, c.function, c.event, c.sign)
			var doc struct{ Message string }
			_ = json.Unmarshal([]byte(body), &doc)
			if status != c.status || h.Get("X-Amzn-Errortype") != c.errType || (c.msg != "" && doc.Message != c.msg) {
				t.Errorf("got %d %s %s, want %d %s %q", status, h.Get("X-Amzn-Errortype"), body, c.status, c.errType, c.msg)
			}
		})
	}
}

// process is a hand-driven function process: it speaks the Runtime API the way
// aws-lambda-go does.
type process struct {
	t    *testing.T
	base string
}

// next takes the next invocation: its request id and event.
func (p process) next() (string, string) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.base + "/2018-06-01/runtime/invocation/next")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Lambda-Runtime-Deadline-Ms") == "" {
		p.t.Fatalf("next: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	return resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), string(body)
}

// post answers invocation id (kind "response" or "error") and returns the status.
func (p process) post(id, kind, body string) (int, string) {
	p.t.Helper()
	resp, err := http.Post("http://"+p.base+"/2018-06-01/runtime/invocation/"+id+"/"+kind, "application/json", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// An invocation no process takes fails after the timeout with an error that says what to
// check; one a process takes and never answers gets Lambda's timeout error, and the late
// answer is refused.
func TestTimeouts(t *testing.T) {
	f := New("slow", Config{Timeout: 50 * time.Millisecond})
	rt, _ := serve(t, f)
	_, err := f.Invoke(context.Background(), []byte(`{}`))
	want := "function slow: no runtime asked for the invocation within 50ms: is its process running with AWS_LAMBDA_RUNTIME_API set to this function's Runtime API address, and not busy with an earlier event?"
	if !errors.Is(err, ErrNotPolling) || err.Error() != want {
		t.Fatalf("no process: %v\nwant %s", err, want)
	}

	// A timeout long enough for the polling goroutine to take the event on a loaded machine.
	f = New("slow", Config{Timeout: time.Second})
	rt, _ = serve(t, f)
	p := process{t, rt[0]}
	ids := make(chan string, 1)
	go func() { id, _ := p.next(); ids <- id }()
	res, err := f.Invoke(context.Background(), []byte(`{}`))
	id := <-ids
	if err != nil || res.FunctionError != "Unhandled" || string(res.Payload) != `{"errorMessage":"RequestId: `+id+` Error: Task timed out after 1.00 seconds","errorType":"Sandbox.Timedout"}` {
		t.Fatalf("overrun: %v %+v", err, res)
	}
	if status, body := p.post(id, "response", `{}`); status != http.StatusBadRequest || !strings.Contains(body, `"errorType":"InvalidRequestID"`) {
		t.Errorf("late answer: %d %s, want 400 InvalidRequestID", status, body)
	}
}

// One instance runs one invocation at a time: a second waits for the first's answer, and
// beyond MaxWaiting the next is refused with 429.
func TestOneInvocationAtATime(t *testing.T) {
	f := New("one", Config{Timeout: time.Minute, MaxWaiting: 1})
	rt, base := serve(t, f)
	p := process{t, rt[0]}
	type answer struct {
		res Result
		err error
	}
	first, second := make(chan answer, 1), make(chan answer, 1)
	go func() { r, err := f.Invoke(context.Background(), []byte(`{"n":1}`)); first <- answer{r, err} }()
	id1, ev1 := p.next()
	go func() { r, err := f.Invoke(context.Background(), []byte(`{"n":2}`)); second <- answer{r, err} }()
	for f.waiting.Load() != 1 { // the second is queued behind the first
		runtime.Gosched()
	}
	status, h, body := invoke(t, base, "one", []byte(`{"n":3}`), true)
	if status != http.StatusTooManyRequests || h.Get("X-Amzn-Errortype") != "TooManyRequestsException" ||
		!strings.Contains(body, "function one: too many invocations waiting for the function instance (1)") {
		t.Fatalf("third: %d %s", status, body)
	}
	if ev1 != `{"n":1}` {
		t.Fatalf("first event %s", ev1)
	}
	if status, _ := p.post(id1, "response", `"one"`); status != http.StatusAccepted {
		t.Fatalf("response status %d", status)
	}
	if a := <-first; a.err != nil || string(a.res.Payload) != `"one"` {
		t.Fatalf("first: %+v", a)
	}
	id2, ev2 := p.next()
	if ev2 != `{"n":2}` {
		t.Fatalf("second event %s", ev2)
	}
	if status, _ := p.post(id2, "error", `{"errorMessage":"boom","errorType":"errorString"}`); status != http.StatusAccepted {
		t.Fatalf("error status %d", status)
	}
	if a := <-second; a.err != nil || a.res.FunctionError != "Unhandled" || string(a.res.Payload) != `{"errorMessage":"boom","errorType":"errorString"}` {
		t.Fatalf("second: %+v", a)
	}
}

// A response over the payload limit fails the invocation with Lambda's message; the Runtime
// API refuses requests a web page could make.
func TestRuntimeAPIBounds(t *testing.T) {
	f := New("big", Config{Timeout: time.Minute, MaxPayloadBytes: 16})
	rt, _ := serve(t, f)
	p := process{t, rt[0]}
	done := make(chan Result, 1)
	go func() { r, _ := f.Invoke(context.Background(), []byte(`{}`)); done <- r }()
	id, _ := p.next()
	if status, body := p.post(id, "response", `"`+strings.Repeat("x", 16)+`"`); status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize response: %d %s", status, body)
	}
	if r := <-done; r.FunctionError != "Unhandled" || string(r.Payload) != `{"errorMessage":"Response payload size exceeded maximum allowed payload size (16 bytes).","errorType":"Function.ResponseSizeTooLarge"}` {
		t.Errorf("result %+v", r)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+rt[0]+"/2018-06-01/runtime/invocation/next", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("request with Origin: %d, want 403", resp.StatusCode)
	}
}
