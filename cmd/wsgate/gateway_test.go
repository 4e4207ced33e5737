package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const fixture = "../../localgateway/testdata/dotnetify-cloudformation-template.yaml"

// runAsync runs the CLI until cancel and returns its stdout lines as they
// come, stderr, and the exit code once it ends.
func runAsync(t *testing.T, args ...string) (lines <-chan string, stderr *syncBuffer, exit <-chan int, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	out := make(chan string, 16)
	code := make(chan int, 1)
	errBuf := &syncBuffer{}
	go func() {
		code <- run(ctx, args, pw, errBuf)
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out <- sc.Text()
		}
		close(out)
	}()
	t.Cleanup(cancel)
	return out, errBuf, code, cancel
}

func nextLine(t *testing.T, lines <-chan string, stderr *syncBuffer) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("no more output; stderr:\n%s", stderr.String())
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no output; stderr:\n%s", stderr.String())
		return ""
	}
}

func TestGatewayCommandPrintsURLsAndServes(t *testing.T) {
	got := make(chan string, 4)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
	}))
	defer backend.Close()
	lines, stderr, exit, cancel := runAsync(t, "gateway", "--template", fixture, "--backend", backend.URL, "--addr", "127.0.0.1:0", "--access-log", "")
	ws := nextLine(t, lines, stderr)
	cb := nextLine(t, lines, stderr)
	wsURL, ok := strings.CutPrefix(ws, "websocket: ws://127.0.0.1:")
	if !ok || !strings.HasSuffix(wsURL, "/prod") || strings.HasPrefix(wsURL, "0/") {
		t.Fatalf("websocket line %q", ws)
	}
	if cb != "callback: http://127.0.0.1:"+wsURL {
		t.Fatalf("callback line %q", cb)
	}
	c, _, err := websocket.DefaultDialer.Dial(strings.TrimPrefix(ws, "websocket: "), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "/api/dotnetify/vm" {
		t.Fatalf("backend got %s", p)
	}
	cancel() // as Ctrl-C: the socket is closed and $disconnect runs
	if p := <-got; p != "/api/dotnetify/vm/disconnect" {
		t.Fatalf("backend got %s", p)
	}
	c.Close()
	if code := <-exit; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestGatewayCommandErrorsAreOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("Resources:\n  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}\n"), 0o600)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"gateway", "--template", fixture, "--backend", "http://127.0.0.1:9", "--addr", busy.Addr().String()}, 1,
			"wsgate gateway: cannot listen on " + busy.Addr().String() + ": address already in use\n"},
		{[]string{"gateway", "--template", bad, "--backend", "http://127.0.0.1:9"}, 1,
			"wsgate gateway: template " + bad + ": resource Api, property RouteSelectionExpression: required for a WEBSOCKET API\n"},
		{[]string{"gateway", "--template", "/nonexistent.yaml", "--backend", "http://127.0.0.1:9"}, 1,
			"wsgate gateway: read template: open /nonexistent.yaml: no such file or directory\n"},
		{[]string{"gateway", "--template", fixture}, 2, "wsgate gateway: --template and --backend are required\n"},
		{[]string{"gateway", "--template", fixture, "--backend", "localhost"}, 2,
			"wsgate gateway: --backend \"localhost\": want an absolute URL such as http://127.0.0.1:8080\n"},
		{[]string{"gateway", "--template", fixture, "--backend", "http://x", "--fault", "status=200"}, 2,
			"wsgate gateway: fault status 200: want 429 or 5xx\n"},
		{[]string{"gateway", "--template", fixture, "--backend", "http://x", "--stage", "a b"}, 1,
			"wsgate gateway: localgateway: stage name \"a b\" must be 1–128 characters of [A-Za-z0-9_-]\n"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || stderr.String() != c.want {
			t.Errorf("%v:\n exit %d, stderr %q\n want %d, %q", c.args, code, stderr.String(), c.code, c.want)
		}
	}
}

func TestLastLineSkipsBanners(t *testing.T) {
	out := "compiling\nerror: app.go:12: undefined: foo\n!!!!!!!!\n!!  node 18 is old  !!\n!!!!!!!!\n"
	if got := lastLine(out, "fallback"); got != "error: app.go:12: undefined: foo" {
		t.Fatalf("got %q", got)
	}
	if got := lastLine("\n!!!!\n", "fallback"); got != "fallback" {
		t.Fatalf("got %q", got)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
