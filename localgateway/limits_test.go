package localgateway

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
)

// TestControlFramesAreSmallAndWhole: a ping or pong over 125 bytes, or a
// fragmented one, breaks RFC 6455 §5.5 and closes with 1002, instead of
// making the gateway echo up to a 32 KiB pong.
func TestControlFramesAreSmallAndWhole(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, newTemplate().bytes(), b.srv.URL, nil)
	for _, tc := range []struct {
		name string
		op   ws.OpCode
		fin  bool
		size int
	}{
		{"ping of 126 bytes", ws.OpPing, true, 126},
		{"ping of 32 KiB", ws.OpPing, true, MaxFrameSize},
		{"pong of 126 bytes", ws.OpPong, true, 126},
		{"fragmented ping", ws.OpPing, false, 4},
	} {
		c := dial(t, x.ws, nil)
		writeFrame(t, c, tc.op, tc.fin, tc.size)
		if code, reason := readClose(t, c); code != closeProtocolError || reason != protocolCloseReason {
			t.Errorf("%s: close %d %q, want %d %q", tc.name, code, reason, closeProtocolError, protocolCloseReason)
		}
	}
	// A ping of 125 bytes is answered.
	c := dial(t, x.ws, nil)
	pong := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pong <- data; return nil })
	payload := strings.Repeat("p", 125)
	if err := c.WriteMessage(9 /* ping */, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = c.ReadMessage() }() // runs the pong handler
	select {
	case got := <-pong:
		if got != payload {
			t.Fatalf("pong %d bytes, want 125", len(got))
		}
	case <-waitTimer():
		t.Fatal("no pong for a 125-byte ping")
	}
}

// TestURLLengthQuota: the service's URL quota is 4096 characters; a longer
// handshake (whose query would reach $connect) answers 414 without
// running $connect.
func TestURLLengthQuota(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	// The request target (path and query) is what the gateway sees of the URL.
	target := "/" + x.g.StageName() + "?q="
	ok := x.ws + "?q=" + strings.Repeat("a", MaxURLLength-len(target))
	if got := dialStatus(t, ok, nil); got != http.StatusSwitchingProtocols {
		t.Fatalf("URL of %d characters: %d, want 101", MaxURLLength, got)
	}
	if r := b.next(t); r.Path != "/api/dotnetify/vm" {
		t.Fatalf("want $connect, got %s", r.Path)
	}
	if r := b.next(t); r.Path != "/api/dotnetify/vm/disconnect" {
		t.Fatalf("want $disconnect, got %s", r.Path)
	}
	if got := dialStatus(t, ok+"a", nil); got != http.StatusRequestURITooLong {
		t.Fatalf("URL of %d characters: %d, want 414", MaxURLLength+1, got)
	}
	select {
	case r := <-b.reqs:
		t.Fatalf("the backend was called: %s %s", r.Path, r.Body)
	default:
	}
}

// TestHeaderSizeLimit: the request line and header values may take 10240
// bytes (API Gateway's quota for HTTP APIs); more answers 431 before the
// handshake reaches $connect, so no integration or authorizer event
// carries them.
func TestHeaderSizeLimit(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	big := http.Header{"X-Big": {strings.Repeat("h", MaxHeaderBytes)}}
	if got := dialStatus(t, x.ws, big); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversize headers: %d, want 431", got)
	}
	select {
	case r := <-b.reqs:
		t.Fatalf("the backend was called: %s %s", r.Path, r.Body)
	default:
	}
	// The same on the management API.
	req, _ := http.NewRequest(http.MethodGet, x.cb+"/@connections/AAAAAAAAAAAAAAA%3D", nil)
	req.Header.Set("X-Big", strings.Repeat("h", MaxHeaderBytes))
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversize headers on @connections: %d, want 431", r2.StatusCode)
	}
	// Just under the limit is fine.
	small := http.Header{"X-Big": {strings.Repeat("h", MaxHeaderBytes/2)}}
	dial(t, x.ws, small)
	b.next(t)
}

// TestPendingMessagesAreBounded: while the backend is slow, a client
// pumping messages does not grow the gateway's memory: once a
// connection's unanswered messages hold MaxPendingBytes, the gateway
// stops reading from that socket (TCP pushes back on the client) and
// resumes as integrations finish; no message is lost or reordered.
func TestPendingMessagesAreBounded(t *testing.T) {
	b := newBackend(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	b.setRespond(func(w http.ResponseWriter, r recorded) { <-release })
	const limit = 4 << 10
	x := startGateway(t, newTemplate().httpRoute("Default", "$default", "/x", "", false).bytes(), b.srv.URL,
		func(c *Config) { c.MaxPendingBytes = limit })
	t.Cleanup(free) // registered after the servers', so it runs before them: a failure does not hang
	blocked := make(chan int, 1)
	waits := func(c *conn) {
		c.qmu.Lock()
		pending := c.pending
		c.qmu.Unlock()
		select {
		case blocked <- pending:
		default:
		}
	}
	x.g.readerWaits.Store(&waits)
	c := dial(t, x.ws, nil)
	const size, count = 1 << 10, 12 // 12 KiB in all, three times the limit
	go func() {
		for i := range count {
			msg := fmt.Sprintf("%04d", i) + strings.Repeat("m", size-4)
			if err := c.WriteMessage(1 /* text */, []byte(msg)); err != nil {
				return
			}
		}
	}()
	first := b.next(t) // the backend holds the first message
	var pending int
	select {
	case pending = <-blocked:
	case <-waitTimer():
		t.Fatal("the gateway never stopped reading")
	}
	if pending > limit {
		t.Fatalf("%d bytes pending when the reader stopped, limit %d", pending, limit)
	}
	select {
	case r := <-b.reqs:
		t.Fatalf("a second message reached the backend while the first was held: %.4s", r.Body)
	default:
	}
	free()
	got := []string{first.Body[:4]}
	for len(got) < count {
		got = append(got, b.next(t).Body[:4])
	}
	for i, g := range got {
		if g != fmt.Sprintf("%04d", i) {
			t.Fatalf("messages out of order or lost: %v", got)
		}
	}
}
