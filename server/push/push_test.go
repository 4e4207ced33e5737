package push_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server/push"
)

func newClient(t *testing.T, sk *sink.Sink, mod func(*push.Config)) *push.Client {
	t.Helper()
	cfg := push.Config{
		CallbackURL: sk.URL,
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIAWSGATELOCAL00000", "wsgate-local-secret", ""),
		Concurrency: 8,
		MaxAttempts: 4,
		BaseBackoff: time.Millisecond,
		MaxBackoff:  4 * time.Millisecond,
		Logger:      slog.New(slog.DiscardHandler),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := push.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func startSink(t *testing.T) *sink.Sink {
	t.Helper()
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Close() })
	return sk
}

func flush(t *testing.T, c *push.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func frame(i int) []byte {
	return []byte(fmt.Sprintf(`{"callType":"response_vm","vmId":"X","data":"{\"N\":%d}"}`, i))
}

func expectStats(t *testing.T, c *push.Client, want push.Stats) {
	t.Helper()
	if got := c.Stats(); got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
}

func TestSignedSinglyEncodedPath(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL = sk.URL + "/@connections/" })
	ids := []string{"Wm1nYcO3IAMCJ2w=", "a+b=", "x y~._-"}
	for _, id := range ids {
		c.Send(id, frame(1))
	}
	flush(t, c)
	for _, id := range ids {
		if got := sk.Frames(id); len(got) != 1 || got[0] != string(frame(1)) {
			t.Errorf("%q: frames %q", id, got)
		}
	}
	if r := sk.Rejected(); len(r) != 0 {
		t.Errorf("rejected: %q", r)
	}
	expectStats(t, c, push.Stats{Sent: 3})
}

// A frame is retried on 429 and 5xx in order; once one is given up the client's state has
// diverged: the rest of its queue is dropped and the connection closed, so the client
// reconnects and resyncs.
func TestRetriesKeepOrderUntilGivenUp(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	logs := newLogRecorder()
	var gone goneLog
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL, cfg.Logger, cfg.OnGone = rl.URL, slog.New(logs), gone.add })
	sk.Respond("a", 429, 503, 200, 429, 200, 500, 500, 500, 500) // the third frame exhausts 4 attempts
	sendHeld(t, rl, c, "a", frame(0), frame(1), frame(2), frame(3))
	flush(t, c)
	// Frame 0 succeeds on its third try, frame 1 on its second; frame 2 is given up after
	// four 500s; frame 3 is dropped and the connection closed.
	got := sk.Frames("a")
	want := []string{string(frame(0)), string(frame(1))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Sent: 2, Retried: 2 + 1 + 3, GaveUp: 1, Failed: 1, Dropped: 1, Closed: 1})
	gone.expect(t, "a")
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=a cause=gave_up error=push to a: gave up after 4 attempts: @connections answered 500 Internal Server Error: {"message":"Internal Server Error"}`)
}

// 429 forever: the frame is given up after MaxAttempts, the frames behind it are not sent,
// and the connection is closed with one log line.
func TestThrottledForeverClosesTheConnection(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	logs := newLogRecorder()
	var gone goneLog
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL, cfg.Logger, cfg.OnGone = rl.URL, slog.New(logs), gone.add })
	sk.Respond("a", 429, 429, 429, 429, 429, 429, 429, 429)
	sendHeld(t, rl, c, "a", frame(0), frame(1), frame(2))
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 0 {
		t.Errorf("frames %q, want none", got)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Retried: 3, GaveUp: 1, Failed: 1, Dropped: 2, Closed: 1})
	gone.expect(t, "a")
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=a cause=gave_up error=push to a: gave up after 4 attempts: @connections answered 429 Too Many Requests: {"message":"Too Many Requests"}`)
}

// 413: a frame over the gateway's 128 KiB can never be delivered; it is not retried and the
// connection is closed.
func TestTooLargeClosesTheConnection(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	logs := newLogRecorder()
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL, cfg.Logger = rl.URL, slog.New(logs) })
	sk.Respond("a", http.StatusRequestEntityTooLarge)
	sendHeld(t, rl, c, "a", frame(1), frame(2))
	c.Send("b", frame(3))
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 0 {
		t.Errorf("frames %q, want none", got)
	}
	if got := sk.Frames("b"); len(got) != 1 {
		t.Errorf("other connection: frames %q, want its one", got)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Sent: 1, TooLarge: 1, Failed: 1, Dropped: 1, Closed: 1})
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=a cause=too_large error=push to a: @connections answered 413 Request Entity Too Large: {"message":"Request Entity Too Large"}`)
}

// countingCreds hands out its keys in turn, the last one for good, and counts how often it
// was asked. A key the sink does not know stands for credentials that rotated away (the
// task role's session expired): a new session has a new access key id.
type countingCreds struct {
	mu    sync.Mutex
	calls int
	keys  []aws.Credentials
}

var (
	rotatedKey = aws.Credentials{AccessKeyID: "ASIAROTATEDAWAY00000", SecretAccessKey: "old-secret", SessionToken: "old-token"}
	localKey   = aws.Credentials{AccessKeyID: "AKIAWSGATELOCAL00000", SecretAccessKey: "wsgate-local-secret"}
)

func (c *countingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys[min(c.calls, len(c.keys)-1)]
	c.calls++
	return k, nil
}

func (c *countingCreds) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// 403 with credentials that rotated away: the cached credentials are invalidated and the
// frame is sent again once, signed with fresh ones.
func TestForbiddenRefreshesCredentialsOnce(t *testing.T) {
	sk := startSink(t)
	creds := &countingCreds{keys: []aws.Credentials{rotatedKey, localKey}}
	c := newClient(t, sk, func(cfg *push.Config) { cfg.Credentials = creds })
	if err := c.Post(context.Background(), "a", frame(1)); err != nil {
		t.Fatal(err)
	}
	if got := sk.Frames("a"); len(got) != 1 {
		t.Errorf("frames %q, want one", got)
	}
	if r := sk.Rejected(); len(r) != 1 {
		t.Errorf("rejected %q, want the first signature only", r)
	}
	if n := creds.Calls(); n != 2 {
		t.Errorf("credentials retrieved %d times, want 2 (cached, then refreshed)", n)
	}
	expectStats(t, c, push.Stats{Sent: 1, Retried: 1})
}

// 403 again after the refresh: the connection is closed, and later frames are not sent.
func TestForbiddenAfterRefreshClosesTheConnection(t *testing.T) {
	sk := startSink(t)
	logs := newLogRecorder()
	creds := &countingCreds{keys: []aws.Credentials{localKey}}
	rl := startRelay(t, sk.URL)
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL, cfg.Logger, cfg.Credentials = rl.URL, slog.New(logs), creds })
	sk.Respond("a", http.StatusForbidden, http.StatusForbidden)
	sendHeld(t, rl, c, "a", frame(1), frame(2))
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 0 {
		t.Errorf("frames %q, want none", got)
	}
	expectClosed(t, sk, "a")
	if n := creds.Calls(); n != 2 {
		t.Errorf("credentials retrieved %d times, want 2 (cached, then refreshed once)", n)
	}
	expectStats(t, c, push.Stats{Retried: 1, Refused: 1, Failed: 1, Dropped: 1, Closed: 1})
	expectLines(t, logs, `WARN closing connection so the client resyncs connectionId=a cause=refused error=push to a: refused after refreshing credentials: @connections answered 403 Forbidden: {"message":"Forbidden"}`)
}

// A transport error after the request was written (here: the connection reset once the
// gateway had accepted the frame) may hide a delivered frame. Resending it could deliver a
// list frame such as Messages_add twice, so the frame is not resent: the connection is
// closed and the client resyncs.
func TestMaybeDeliveredIsNotResent(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	rl.cutPosts()
	logs := newLogRecorder()
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL = rl.URL; cfg.Logger = slog.New(logs) })
	sendHeld(t, rl, c, "a", frame(1), frame(2))
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 1 || got[0] != string(frame(1)) {
		t.Errorf("frames %q, want frame 1 exactly once", got)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Ambiguous: 1, Failed: 1, Dropped: 1, Closed: 1})
	lines := logs.Lines()
	prefix := `WARN closing connection so the client resyncs connectionId=a cause=maybe_delivered error=push to a: may have been delivered, not resent: Post "` + rl.URL + `/%40connections/a": `
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		t.Errorf("log lines %q, want one starting %q", lines, prefix)
	}
}

// A request that never reached a connection (connection refused) cannot have been
// delivered: it is retried, then given up.
func TestUnsentRequestIsRetried(t *testing.T) {
	sk := startSink(t)
	// Nothing listens on port 1 (binding it takes privileges), so every dial is refused.
	c := newClient(t, sk, func(cfg *push.Config) { cfg.CallbackURL = "http://127.0.0.1:1/prod" })
	err := c.Post(context.Background(), "a", frame(1))
	if err == nil || errors.Is(err, push.ErrMaybeDelivered) || !strings.Contains(err.Error(), "push to a: gave up after 4 attempts: ") {
		t.Fatalf("err = %v, want given up after 4 attempts, not maybe delivered", err)
	}
	expectStats(t, c, push.Stats{Retried: 3, GaveUp: 1, Failed: 1})
}

// The per-connection queue is bounded in frames: the frame that crosses the bound drops the
// queue (not the frame in flight) and closes the connection; frames sent while the close is
// pending are dropped too.
func TestQueueOverFramesClosesTheConnection(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	logs := newLogRecorder()
	var gone goneLog
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.CallbackURL, cfg.Concurrency, cfg.MaxQueuedFrames = rl.URL, 1, 3
		cfg.Logger, cfg.OnGone = slog.New(logs), gone.add
	})
	release := rl.holdRequests()
	defer release()
	c.Send("a", frame(0))
	if got := <-rl.arrived; got != "POST /prod/%40connections/a" {
		t.Fatalf("first request %q", got)
	}
	c.Send("a", frame(1))
	c.Send("a", frame(2)) // three frames held, one of them in flight
	c.Send("a", frame(3)) // the fourth crosses the bound
	c.Send("a", frame(4)) // dropped: the connection is closing
	release()
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 1 || got[0] != string(frame(0)) {
		t.Errorf("frames %q, want only the one in flight", got)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Sent: 1, Overflow: 1, Dropped: 4, Closed: 1})
	gone.expect(t, "a")
	n := len(frame(0))
	expectLines(t, logs, fmt.Sprintf(`WARN closing connection so the client resyncs connectionId=a cause=overflow frames=4 bytes=%d maxFrames=3 maxBytes=1048576`, 4*n))
}

// The per-connection queue is bounded in bytes too.
func TestQueueOverBytesClosesTheConnection(t *testing.T) {
	sk := startSink(t)
	rl := startRelay(t, sk.URL)
	logs := newLogRecorder()
	n := len(frame(0))
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.CallbackURL, cfg.Concurrency, cfg.MaxQueuedBytes = rl.URL, 1, 2*n
		cfg.Logger = slog.New(logs)
	})
	release := rl.holdRequests()
	defer release()
	c.Send("a", frame(0))
	<-rl.arrived
	c.Send("a", frame(1)) // exactly at the bound
	c.Send("a", frame(2)) // over it
	release()
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 1 {
		t.Errorf("frames %q, want only the one in flight", got)
	}
	expectClosed(t, sk, "a")
	expectStats(t, c, push.Stats{Sent: 1, Overflow: 1, Dropped: 2, Closed: 1})
	expectLines(t, logs, fmt.Sprintf(`WARN closing connection so the client resyncs connectionId=a cause=overflow frames=3 bytes=%d maxFrames=256 maxBytes=%d`, 3*n, 2*n))
}

func TestGoneForgetsConnection(t *testing.T) {
	sk := startSink(t)
	var mu sync.Mutex
	var gone []string
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.Concurrency = 1
		cfg.OnGone = func(id string) { mu.Lock(); gone = append(gone, id); mu.Unlock() }
	})
	sk.SetGone("dead")
	for i := range 3 {
		c.Send("dead", frame(i))
	}
	c.Send("live", frame(9))
	flush(t, c)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(gone) != "[dead]" {
		t.Errorf("OnGone calls %q", gone)
	}
	expectStats(t, c, push.Stats{Sent: 1, Gone: 1, Dropped: 2})
}

// goneLog records OnGone calls.
type goneLog struct {
	mu  sync.Mutex
	ids []string
}

func (g *goneLog) add(id string) { g.mu.Lock(); g.ids = append(g.ids, id); g.mu.Unlock() }

func (g *goneLog) expect(t *testing.T, ids ...string) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if !slices.Equal(g.ids, ids) {
		t.Errorf("OnGone calls %q, want %q", g.ids, ids)
	}
}

func expectClosed(t *testing.T, sk *sink.Sink, ids ...string) {
	t.Helper()
	if got := sk.Closed(); !slices.Equal(got, ids) {
		t.Errorf("closed %q, want %q", got, ids)
	}
}

func TestWrongCredentialsAreRejectedBySignatureCheck(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAWSGATELOCAL00000", "wrong-secret", "")
	})
	err := c.Post(context.Background(), "a", frame(1))
	// Rejected twice: once more after refreshing the credentials, which are still wrong.
	if err == nil || len(sk.Rejected()) != 2 {
		t.Fatalf("err = %v, rejected %q", err, sk.Rejected())
	}
	var se *push.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("err = %#v", err)
	}
}

func TestCloseDrainsAndRefusesLateFrames(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, nil)
	for i := range 50 {
		c.Send(fmt.Sprint("c", i%5), frame(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sk.Accepted() != 50 {
		t.Errorf("accepted %d of 50 before Close returned", sk.Accepted())
	}
	c.Send("c0", frame(99))
	expectStats(t, c, push.Stats{Sent: 50, Dropped: 1})
}

func TestPacedFanOutDeliversEverything(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, func(cfg *push.Config) { cfg.Rate = 20000; cfg.Burst = 10 })
	for i := range 200 {
		c.Send(fmt.Sprint("c", i), frame(i))
	}
	flush(t, c)
	expectStats(t, c, push.Stats{Sent: 200})
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		cfg  push.Config
		want string
	}{
		{push.Config{}, "push: callback URL is required; region is required; credentials are required"},
		{push.Config{CallbackURL: "ftp://x/prod", Region: "r", Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")},
			`push: callback URL "ftp://x/prod" must be an absolute http(s) URL`},
		{push.Config{CallbackURL: "https://x/prod?a=1", Region: "r", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), Rate: -1},
			`push: callback URL "https://x/prod?a=1" must have no query or fragment; rate, burst, concurrency, attempts and queue bounds must not be negative`},
		{push.Config{CallbackURL: "https://x/prod", Region: "r", Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""), MaxQueuedBytes: -1},
			`push: rate, burst, concurrency, attempts and queue bounds must not be negative`},
	}
	for _, tt := range tests {
		if _, err := push.New(tt.cfg); err == nil || err.Error() != tt.want {
			t.Errorf("error = %v, want %s", err, tt.want)
		}
	}
}

func TestDisconnectClosesConnections(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, nil)
	if err := c.DisconnectAll(context.Background(), []string{"a", "b=", "c d"}); err != nil {
		t.Fatal(err)
	}
	closed := sk.Closed()
	slices.Sort(closed)
	if got := fmt.Sprint(closed); got != "[a b= c d]" {
		t.Errorf("closed %s", got)
	}
	// Closing a connection that is already gone is not an error.
	if err := c.Disconnect(context.Background(), "a"); err != nil {
		t.Errorf("second close: %v", err)
	}
	if r := sk.Rejected(); len(r) != 0 {
		t.Errorf("rejected: %q", r)
	}
}

// CloseConnection sends a signed DELETE after the frames queued before it; a frame queued
// after it finds the connection gone.
func TestCloseConnectionAfterQueuedFrames(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, nil)
	c.Send("K1=", []byte(`{"n":1}`))
	c.CloseConnection("K1=")
	c.Send("K1=", []byte(`{"n":2}`))
	flush(t, c)
	if got := sk.Frames("K1="); len(got) != 1 || got[0] != `{"n":1}` {
		t.Errorf("frames %q, want only the one queued before the close", got)
	}
	if got := sk.Closed(); len(got) != 1 || got[0] != "K1=" {
		t.Errorf("closed %q, want [K1=]", got)
	}
	if r := sk.Rejected(); len(r) > 0 {
		t.Errorf("sink rejected: %q", r)
	}
	if st := c.Stats(); st != (push.Stats{Sent: 1, Gone: 1, Closed: 1}) {
		t.Errorf("stats %+v, want 1 sent, 1 gone, 1 closed", st)
	}
}

// A close already queued or in flight for a connection is not queued again. The pacer
// (one token, then one per 1000 s) holds the first close once a push took the token.
func TestCloseConnectionIsNotRepeated(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, func(cfg *push.Config) { cfg.Rate, cfg.Burst = 0.001, 1 })
	if err := c.Post(context.Background(), "K2=", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	c.CloseConnection("K2=")
	c.CloseConnection("K2=")
	stopped, stop := context.WithCancel(context.Background())
	stop()
	_ = c.Close(stopped) // cancels the close waiting for the pacer
	if st := c.Stats(); st != (push.Stats{Sent: 1, Failed: 1}) {
		t.Errorf("stats %+v, want 1 sent and 1 close given up", st)
	}
	if got := sk.Closed(); len(got) != 0 {
		t.Errorf("closed %q, want none", got)
	}
}
