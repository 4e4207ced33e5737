package push_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// logRecorder is a slog.Handler that keeps each record as one line "LEVEL msg k=v k=v", so
// tests can compare the exact lines a scenario logged.
type logRecorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, lines: &[]string{}}
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", r.Level, r.Message)
	write := func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value.Any()); return true }
	for _, a := range l.attrs {
		write(a)
	}
	r.Attrs(write)
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.lines = append(*l.lines, b.String())
	return nil
}

func (l *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{mu: l.mu, lines: l.lines, attrs: append(slices.Clip(l.attrs), as...)}
}

func (l *logRecorder) WithGroup(string) slog.Handler { return l }

// Lines returns the records logged so far.
func (l *logRecorder) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(*l.lines)
}

func expectLines(t *testing.T, l *logRecorder, want ...string) {
	t.Helper()
	got := l.Lines()
	if !slices.Equal(got, want) {
		t.Errorf("log lines:\n got %q\nwant %q", got, want)
	}
}

// relay is a reverse proxy in front of an @connections endpoint (the sink or the local
// gateway) that keeps the client's Host header, so SigV4 signatures still verify. It can hold
// a request until the test releases it (arrived reports it), and cut a request: forward it,
// let the endpoint act on it, then reset the client's connection instead of answering, which
// is what a transport timeout or a reset after the request was written looks like.
type relay struct {
	srv     *httptest.Server
	URL     string // the callback URL through the relay
	arrived chan string
	mu      sync.Mutex
	hold    chan struct{} // non-nil: requests wait for it to be closed
	cut     func(*http.Request) bool
}

var errCut = errors.New("relay: cut after the endpoint answered")

func startRelay(t *testing.T, callbackURL string) *relay {
	t.Helper()
	target, err := url.Parse(callbackURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{arrived: make(chan string, 64)}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			r.mu.Lock()
			cut := r.cut
			r.mu.Unlock()
			if cut != nil && cut(resp.Request) {
				return errCut
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			if !errors.Is(err, errCut) {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			conn, _, herr := http.NewResponseController(w).Hijack()
			if herr != nil {
				panic(herr)
			}
			_ = conn.Close()
		},
	}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		hold := r.hold
		r.mu.Unlock()
		if hold != nil {
			r.arrived <- req.Method + " " + req.URL.EscapedPath()
			<-hold
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL + target.Path
	return r
}

// holdRequests makes later requests wait until the returned function is called.
func (r *relay) holdRequests() (release func()) {
	ch := make(chan struct{})
	r.mu.Lock()
	r.hold = ch
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			r.hold = nil
			r.mu.Unlock()
			close(ch)
		})
	}
}

// cutPosts makes the relay reset the client's connection after the endpoint answered each
// POST (the frame was delivered; the client cannot know).
func (r *relay) cutPosts() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = func(req *http.Request) bool { return req.Method == http.MethodPost }
}

// sendHeld queues frames for id so that all of them are queued before the first one is
// answered: the first request is held at the relay until the others were queued.
func sendHeld(t *testing.T, rl *relay, c interface{ Send(string, []byte) }, id string, frames ...[]byte) {
	t.Helper()
	release := rl.holdRequests()
	defer release()
	c.Send(id, frames[0])
	if got, want := <-rl.arrived, "POST "; !strings.HasPrefix(got, want) {
		t.Fatalf("first request %q, want a POST", got)
	}
	for _, f := range frames[1:] {
		c.Send(id, f)
	}
}
