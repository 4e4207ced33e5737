package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

// Counter is a view model of the kind a user writes in their own module.
type Counter struct {
	vm.Base
	Count int
}

func NewCounter(*vm.Request) (*Counter, error) { return &Counter{}, nil }

// Increment is the client's command.
func (c *Counter) Increment() { c.Count++; c.Changed("Count") }

func counterRegistry() *vm.Registry {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
	return reg
}

// runMainEnv, when set, makes the test binary run server.Main instead of the tests: the
// process tests of Main exec it.
const runMainEnv = "WSGATE_SERVER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		server.Main(counterRegistry())
	}
	os.Exit(m.Run())
}

// localCredentials are the sink's (and the local gateway's) keys.
var localCredentials = credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, "")

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", body, resp.StatusCode)
	}
}

// A server built by New and run by Serve answers the integration, pushes signed frames the
// sink verifies, and on shutdown delivers what is queued, closes its clients' connections
// and returns nil.
func TestNewServeEndToEnd(t *testing.T) {
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: sk.URL, Region: contract.DefaultLocalRegion},
		Registry:    counterRegistry(),
		Credentials: localCredentials,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, shutdown := serveLoopback(t, srv)
	url := "http://" + addr + contract.PathMessage
	const conn = "Wm1nYcO3IAMCJ2w="
	hdr := func(body string) string { return `{"connectionId":"` + conn + `","payload":` + body + `}` }
	post(t, url, hdr(`{"callType":"request_vm","vmId":"CounterVM","vmArgs":"{}"}`))
	post(t, url, hdr(`{"callType":"update_vm","vmId":"CounterVM","value":"{\"Increment\":\"\"}"}`))
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := sk.WaitFrames(wctx, conn, 2)
	if err != nil {
		t.Fatalf("%v; rejected %q", err, sk.Rejected())
	}
	want := []string{
		`{"callType":"response_vm","vmId":"CounterVM","data":"{\"Count\":0}"}`,
		`{"callType":"response_vm","vmId":"CounterVM","data":"{\"Count\":1}"}`,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	if err := srv.Flush(wctx); err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); st.Sessions != 1 || st.Push.Sent != 2 {
		t.Errorf("stats before shutdown: %+v", st)
	}
	if err := shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if got := sk.Closed(); len(got) != 1 || got[0] != conn {
		t.Errorf("connections closed at shutdown: %q, want [%s]", got, conn)
	}
	if r := sk.Rejected(); len(r) > 0 {
		t.Errorf("sink rejected: %q", r)
	}
}

func TestNewRequiresRegistryAndCallbackURL(t *testing.T) {
	if _, err := server.New(server.Config{Credentials: localCredentials}); err == nil || err.Error() != "server: Registry is required" {
		t.Errorf("without Registry: %v", err)
	}
	_, err := server.New(server.Config{Registry: counterRegistry(), Credentials: localCredentials})
	if err == nil || err.Error() != "server: push: callback URL is required" {
		t.Errorf("without CallbackURL: %v", err)
	}
}

// Main with a bad environment exits 1 with one line naming every problem, prefixed with the
// program's name.
func TestMainRejectsBadEnvironment(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{runMainEnv + "=1", "WSGATE_CALLBACK_URL=not a url", "WSGATE_DRAIN_WINDOW=soon"}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; output %q", err, out)
	}
	want := `server.test: invalid configuration: WSGATE_CALLBACK_URL="not a url": want an absolute http(s) URL without query, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod; WSGATE_DRAIN_WINDOW="soon": want a duration from 0s to 1m, e.g. 5s` + "\n"
	if string(out) != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
}

// Main with a listen address it cannot use exits 1 with one line saying so.
func TestMainReportsListenError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{runMainEnv + "=1", "WSGATE_CALLBACK_URL=http://127.0.0.1:1/prod", "WSGATE_LISTEN_ADDR=" + addr, "WSGATE_LOG_LEVEL=error",
		"AWS_ACCESS_KEY_ID=" + contract.DefaultLocalAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + contract.DefaultLocalSecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v; output %q", err, out)
	}
	want := "server.test: listen on " + addr + ": listen tcp " + addr + ": bind: address already in use\n"
	if string(out) != want {
		t.Errorf("output:\n%q\nwant\n%q", out, want)
	}
}

type traceKey struct{}

// Traced is a view model whose constructor reads the request's context.
type Traced struct {
	vm.Base
	Trace string
}

// The integration request's context (here a value a middleware stored) reaches the
// authorization hook and the constructor, although they run after the request returned and
// its context was cancelled.
func TestRequestContextReachesAuthorizeAndConstructors(t *testing.T) {
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "TracedVM", func(r *vm.Request) (*Traced, error) {
		trace, _ := r.Context().Value(traceKey{}).(string)
		c, _ := vm.CallerOf(r.Context())
		return &Traced{Trace: trace + " for " + c.ConnectionID}, nil
	})
	authorized := make(chan string, 1)
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: sk.URL},
		Registry:    reg,
		Credentials: localCredentials,
		Logger:      slog.New(slog.DiscardHandler),
		Authorize: func(ctx context.Context, c vm.Caller, vmID string) error {
			trace, _ := ctx.Value(traceKey{}).(string)
			authorized <- fmt.Sprint(trace, " ", vmID, " ", ctx.Err())
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	middleware := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.Handler().ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), traceKey{}, r.Header.Get("X-Trace"))))
	})
	app := httptest.NewServer(middleware)
	defer app.Close()
	req, _ := http.NewRequest(http.MethodPost, app.URL+contract.PathMessage,
		strings.NewReader(`{"connectionId":"c1","payload":{"callType":"request_vm","vmId":"TracedVM","vmArgs":"{}"}}`))
	req.Header.Set("X-Trace", "trace-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := sk.WaitFrames(ctx, "c1", 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"callType":"response_vm","vmId":"TracedVM","data":"{\"Trace\":\"trace-7 for c1\"}"}`; got[0] != want {
		t.Errorf("frame %s, want %s", got[0], want)
	}
	if got := <-authorized; got != "trace-7 TracedVM <nil>" {
		t.Errorf("authorize saw %q", got)
	}
}

// serveLoopback runs srv on a loopback port; shutdown ends Serve as SIGTERM would and returns
// its error.
func serveLoopback(t *testing.T, srv *server.Server) (addr string, shutdown func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error { stop(); return <-done }
}
