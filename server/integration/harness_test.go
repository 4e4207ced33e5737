package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/internal/clientlog"
	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/vm"
)

// stack is the server, built by server.New as in production, pushing to a SigV4-verifying
// @connections sink.
type stack struct {
	t      *testing.T
	sink   *sink.Sink
	srv    *server.Server
	server *httptest.Server
	seen   map[string]int // frames already checked, per connection
}

type stackOptions struct {
	secret   string
	register func(*vm.Registry) error
	logger   *slog.Logger     // the server's; default: discarded
	now      func() time.Time // the log rate-limit clock; default: one interval later at each call, so every refusal is logged
}

func newStack(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Close() })
	reg := vm.NewRegistry()
	// ChatRoom member ids in join order (random in production), so transcripts are exact;
	// the room calls it under its own lock.
	members := 0
	memberID := func() string { members++; return fmt.Sprintf("member%d", members) }
	if err := viewmodels.Register(reg, viewmodels.Options{LiveChartInterval: 5 * time.Millisecond, ChatMemberID: memberID}); err != nil {
		t.Fatal(err)
	}
	if opts.register != nil {
		if err := opts.register(reg); err != nil {
			t.Fatal(err)
		}
	}
	logger := opts.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.now
	if now == nil {
		var mu sync.Mutex
		t0 := time.Now()
		now = func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			t0 = t0.Add(clientlog.Interval)
			return t0
		}
	}
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: sk.URL, Region: contract.DefaultLocalRegion, IntegrationSecret: opts.secret},
		Registry:    reg,
		Credentials: credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, ""),
		Logger:      logger,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  5 * time.Millisecond,
		Clock:       now,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, sink: sk, srv: srv, seen: map[string]int{}}
	s.server = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		s.server.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return s
}

// post sends an integration request and returns status and body.
func (s *stack) post(path, body string, header ...string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.server.URL+path, bytes.NewBufferString(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// send posts a client frame as API Gateway's $default integration does and expects 200 "".
func (s *stack) send(connID, frame string) {
	s.t.Helper()
	status, body := s.post(integration.PathMessage, `{"connectionId":"`+connID+`","sourceIp":"10.0.0.9","userAgent":"","payload":`+frame+`}`)
	if status != http.StatusOK || body != "" {
		s.t.Fatalf("POST %s: %d %q, want 200 with an empty body", frame, status, body)
	}
}

// settle waits until every queued message was handled.
func (s *stack) settle() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Flush(ctx); err != nil {
		s.t.Fatal(err)
	}
}

// expect waits for the next len(want) frames of connID and checks them in order.
func (s *stack) expect(connID string, want ...string) {
	s.t.Helper()
	s.settle()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := s.sink.WaitFrames(ctx, connID, s.seen[connID]+len(want))
	if err != nil {
		s.t.Fatalf("%v; got %q; rejected %q", err, got, s.sink.Rejected())
	}
	got = got[s.seen[connID]:]
	s.seen[connID] += len(want)
	for i := range want {
		if got[i] != want[i] {
			s.t.Errorf("%s frame %d:\n got %s\nwant %s", connID, i, got[i], want[i])
		}
	}
}

// quiet checks that no frames beyond the expected ones reached the given connections.
func (s *stack) quiet(connIDs ...string) {
	s.t.Helper()
	s.settle()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Flush(ctx); err != nil {
		s.t.Fatal(err)
	}
	for _, id := range connIDs {
		if got := s.sink.Frames(id); len(got) < s.seen[id] {
			s.t.Errorf("%s: %d frames, fewer than the %d expected", id, len(got), s.seen[id])
		} else if len(got) != s.seen[id] {
			s.t.Errorf("%s: %d unexpected frames: %q", id, len(got)-s.seen[id], got[s.seen[id]:])
		}
	}
	if r := s.sink.Rejected(); len(r) > 0 {
		s.t.Errorf("sink rejected requests: %q", r)
	}
}

func contextWithTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func httpGet(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
