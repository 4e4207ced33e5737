package localgateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/stacktemplate"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/vm"
)

// testIntegrationSecret is the value startGateway gives every secret a
// template refers to, as wsgate dev does with the secret of its run.
const testIntegrationSecret = "local-integration-secret"

// TestSynthesizedTemplateSendsIdentityHeaders serves the stack's template
// and checks every route hands the backend the connection's identity from
// $context in the request parameters' headers, whatever the frame says.
func TestSynthesizedTemplateSendsIdentityHeaders(t *testing.T) {
	b := newBackend(t)
	data := stacktemplate.JSON
	x := startGateway(t, data, b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	connect := b.next(t)
	id := connect.Header.Get(contract.HeaderConnectionID)
	if id == "" {
		t.Fatalf("$connect: no %s header: %v", contract.HeaderConnectionID, connect.Header)
	}
	send(t, c, `{"callType":"dispose_vm","vmId":"HelloWorldVM"}, "connectionId": "VICTIM=", "sourceIp": "10.9.9.9"`)
	message := b.next(t)
	_ = c.Close()
	disconnect := b.next(t)
	for _, r := range []recorded{connect, message, disconnect} {
		want := map[string]string{
			contract.HeaderConnectionID: id,
			contract.HeaderSourceIP:     "127.0.0.1",
			contract.HeaderUserAgent:    "Go-http-client/1.1",
		}
		for h, v := range want {
			if got := r.Header.Get(h); got != v {
				t.Errorf("%s: header %s = %q, want %q", r.Path, h, got, v)
			}
		}
	}
}

// statusRecorder is the wsgate server's integration handler, recording the
// status of every request it answers.
type statusRecorder struct {
	next     http.Handler
	statuses chan string // "PATH STATUS"
	srvURL   string
}

func (s *statusRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	s.next.ServeHTTP(rw, r)
	s.statuses <- r.URL.Path + " " + http.StatusText(rw.status)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// secretServer is the wsgate server's integration endpoint requiring secret.
func secretServer(t *testing.T, secret string) *statusRecorder {
	t.Helper()
	rt := vm.New(vm.Config{Registry: vm.NewRegistry(), Sender: vm.SenderFunc(func(string, []byte) {}), Logger: slog.New(slog.DiscardHandler)})
	rec := &statusRecorder{next: integration.NewHandler(integration.Config{Runtime: rt, Secret: secret, Logger: slog.New(slog.DiscardHandler)}), statuses: make(chan string, 10)}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	rec.srvURL = srv.URL
	return rec
}

func (s *statusRecorder) next1(t *testing.T) string {
	t.Helper()
	select {
	case st := <-s.statuses:
		return st
	case <-time.After(waitLimit):
		t.Fatal("the server answered no request")
		return ""
	}
}

// TestServerRequiringTheSecretServesEveryRoute runs the stack's template
// against the server with the secret the gateway was given: every route
// reaches the server and is answered 200.
func TestServerRequiringTheSecretServesEveryRoute(t *testing.T) {
	data := stacktemplate.JSON
	s := secretServer(t, testIntegrationSecret)
	x := startGateway(t, data, s.srvURL, nil)
	c := dial(t, x.ws, nil)
	send(t, c, `{"callType":"dispose_vm","vmId":"HelloWorldVM"}`)
	got := []string{s.next1(t), s.next1(t)}
	_ = c.Close()
	got = append(got, s.next1(t))
	want := []string{contract.PathMessage + " OK", contract.PathMessage + " OK", contract.PathDisconnect + " OK"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("server answers = %v, want %v", got, want)
	}
}

// TestWrongSecretIsRefused runs the same template against a server that
// requires another secret: it answers 401, and the gateway refuses the
// handshake with that status, as API Gateway does when $connect's
// integration answers an error.
func TestWrongSecretIsRefused(t *testing.T) {
	data := stacktemplate.JSON
	s := secretServer(t, "another-secret")
	x := startGateway(t, data, s.srvURL, nil)
	status := dialStatus(t, x.ws, nil)
	if got := s.next1(t); got != contract.PathMessage+" Unauthorized" {
		t.Errorf("server answer = %q, want 401", got)
	}
	if status != http.StatusUnauthorized {
		t.Errorf("handshake status = %d, want %d", status, http.StatusUnauthorized)
	}
}
