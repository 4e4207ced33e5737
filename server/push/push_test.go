package push_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/sink"
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

func TestRetriesKeepOrderAndNeverDropOnThrottle(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, nil)
	sk.Respond("a", 429, 503, 200, 429, 200, 500, 500, 500, 500) // the last frame exhausts 4 attempts
	for i := range 4 {
		c.Send("a", frame(i))
	}
	flush(t, c)
	// Frame 0 succeeds on its third try, frame 1 on its second; frame 2 is given up after
	// four 500s; the connection is kept, so frame 3 still arrives, after the others.
	got := sk.Frames("a")
	want := []string{string(frame(0)), string(frame(1)), string(frame(3))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("frames %q, want %q", got, want)
	}
	expectStats(t, c, push.Stats{Sent: 3, Retried: 2 + 1 + 3, Failed: 1})
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

func TestForbiddenIsNotRetriedAndKeepsTheClient(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, nil)
	sk.Respond("a", http.StatusForbidden, http.StatusRequestEntityTooLarge)
	c.Send("a", frame(1))
	c.Send("a", frame(2))
	c.Send("a", frame(3))
	flush(t, c)
	if got := sk.Frames("a"); len(got) != 1 || got[0] != string(frame(3)) {
		t.Errorf("frames %q", got)
	}
	expectStats(t, c, push.Stats{Sent: 1, Failed: 2})
}

func TestWrongCredentialsAreRejectedBySignatureCheck(t *testing.T) {
	sk := startSink(t)
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAWSGATELOCAL00000", "wrong-secret", "")
	})
	err := c.Post(context.Background(), "a", frame(1))
	if err == nil || len(sk.Rejected()) != 1 {
		t.Fatalf("err = %v, rejected %q", err, sk.Rejected())
	}
	se, ok := err.(*push.StatusError)
	if !ok || se.Status != http.StatusForbidden {
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
			`push: callback URL "https://x/prod?a=1" must have no query or fragment; rate, burst, concurrency and attempts must not be negative`},
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
