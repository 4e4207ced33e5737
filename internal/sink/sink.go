// Package sink is a local stand-in for API Gateway's @connections endpoint, for tests and
// benchmarks of the push path: it verifies every request's SigV4 signature (service
// execute-api) with the local gateway's verifier, records the frames per connection, and can
// be scripted to answer 410, 429, 5xx or 403.
package sink

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// Config configures a Sink.
type Config struct {
	// Stage is the stage name in the path. Default: "prod".
	Stage string
	// Region is the SigV4 region. Default: "us-east-1".
	Region string
	// AccessKeyID and SecretAccessKey are the only credentials accepted.
	// Defaults: the local gateway's (contract.DefaultLocalAccessKeyID and …SecretAccessKey).
	AccessKeyID, SecretAccessKey string
	// Discard keeps counts only, not frames (for benchmarks).
	Discard bool
}

// Sink is a running @connections endpoint.
type Sink struct {
	cfg      Config
	srv      *http.Server
	ln       net.Listener
	verifier *sigv4.Verifier
	// URL is the callback URL to configure in the server: http://127.0.0.1:PORT/STAGE.
	URL string

	mu       sync.Mutex
	changed  chan struct{}
	frames   map[string][][]byte
	script   map[string][]int
	gone     map[string]bool
	rejected []string
	accepted int
	closed   []string
}

// Start listens on 127.0.0.1 with a free port.
func Start(cfg Config) (*Sink, error) {
	if cfg.Stage == "" {
		cfg.Stage = "prod"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.SecretAccessKey = contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink: listen: %w", err)
	}
	s := &Sink{
		cfg: cfg, ln: ln, URL: "http://" + ln.Addr().String() + "/" + cfg.Stage,
		changed: make(chan struct{}), frames: map[string][][]byte{}, script: map[string][]int{}, gone: map[string]bool{},
		verifier: &sigv4.Verifier{Region: cfg.Region, Service: "execute-api", Lookup: func(id string) (string, bool) {
			return cfg.SecretAccessKey, id == cfg.AccessKeyID
		}},
	}
	s.srv = &http.Server{Handler: s}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

// ServeHTTP implements POST /{stage}/@connections/{id} (a frame; 200) and DELETE (close the
// connection; 204, and later posts get 410).
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	prefix := "/" + s.cfg.Stage + "/@connections/"
	if (r.Method != http.MethodPost && r.Method != http.MethodDelete) || !strings.HasPrefix(r.URL.Path, prefix) {
		s.reject(w, http.StatusNotFound, fmt.Sprintf("unexpected %s %s", r.Method, r.URL.Path))
		return
	}
	if err := s.verifier.Verify(r, body); err != nil {
		s.reject(w, http.StatusForbidden, err.Error())
		return
	}
	if want := "/" + s.cfg.Stage + "/%40connections/"; !strings.HasPrefix(r.URL.EscapedPath(), want) {
		s.reject(w, http.StatusForbidden, "path is not singly encoded: "+r.URL.EscapedPath())
		return
	}
	id, _ := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"+s.cfg.Stage+"/%40connections/"))
	if r.Method == http.MethodDelete {
		s.closeConn(id)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if status := s.answer(id); status != http.StatusOK {
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, `{"message":"%s"}`, http.StatusText(status))
		return
	}
	s.record(id, body)
	w.WriteHeader(http.StatusOK)
}

func (s *Sink) reject(w http.ResponseWriter, status int, msg string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, msg)
	s.notify()
	s.mu.Unlock()
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
}

// answer pops the scripted status for id (200 when none).
func (s *Sink) answer(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone[id] {
		return http.StatusGone
	}
	if q := s.script[id]; len(q) > 0 {
		s.script[id] = q[1:]
		return q[0]
	}
	return http.StatusOK
}

func (s *Sink) record(id string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted++
	if !s.cfg.Discard {
		s.frames[id] = append(s.frames[id], body)
	}
	s.notify()
}

// notify wakes waiters; caller holds mu.
func (s *Sink) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Sink) closeConn(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = append(s.closed, id)
	s.gone[id] = true
	s.notify()
}

// Closed lists the connections closed with DELETE, in order.
func (s *Sink) Closed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.closed...)
}

// Respond scripts the answers to the next requests for connID (e.g. 429, 429, then 200).
func (s *Sink) Respond(connID string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[connID] = append(s.script[connID], statuses...)
}

// SetGone makes every later request for connID answer 410 Gone.
func (s *Sink) SetGone(connID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone[connID] = true
}

// Frames returns the frames accepted for connID so far.
func (s *Sink) Frames(connID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.frames[connID]))
	for i, f := range s.frames[connID] {
		out[i] = string(f)
	}
	return out
}

// Accepted counts accepted requests.
func (s *Sink) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Rejected lists why requests were refused (bad signature, bad path).
func (s *Sink) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Wait blocks until cond (called with the sink's state locked) holds or ctx ends.
func (s *Sink) Wait(ctx context.Context, cond func(v View) bool) error {
	for {
		s.mu.Lock()
		ok := cond(View{s})
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sink: condition not met: %w", ctx.Err())
		case <-ch:
		}
	}
}

// WaitFrames waits until connID has at least n frames and returns the first n.
func (s *Sink) WaitFrames(ctx context.Context, connID string, n int) ([]string, error) {
	if err := s.Wait(ctx, func(v View) bool { return v.Count(connID) >= n }); err != nil {
		return s.Frames(connID), fmt.Errorf("waiting for %d frames for %s: %w", n, connID, err)
	}
	return s.Frames(connID)[:n], nil
}

// View reads the sink's state inside Wait.
type View struct{ s *Sink }

// Count is the number of frames accepted for connID.
func (v View) Count(connID string) int { return len(v.s.frames[connID]) }

// Accepted is the number of accepted requests.
func (v View) Accepted() int { return v.s.accepted }

// Rejected is the number of refused requests.
func (v View) Rejected() int { return len(v.s.rejected) }
