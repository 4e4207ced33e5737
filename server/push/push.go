// Package push delivers response_vm frames to clients through API Gateway's @connections
// management API: SigV4-signed POSTs (service execute-api) over a keep-alive transport sized
// for fan-out, with bounded concurrency, token-bucket pacing, jittered retries on 429 and 5xx,
// and per-connection ordering.
package push

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/time/rate"
)

// Config configures a Client.
type Config struct {
	// CallbackURL is the stage's connection URL, e.g.
	// https://abc.execute-api.eu-west-1.amazonaws.com/prod (a trailing /@connections is
	// accepted too). Required.
	CallbackURL string
	// Region is the SigV4 region. Required.
	Region string
	// Credentials sign the requests (the standard AWS chain in production). Required.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests. Default: a client on NewTransport(Concurrency).
	HTTPClient *http.Client
	// Rate is the pace in pushes per second (a token bucket); 0 means unpaced.
	Rate float64
	// Burst is the token bucket's size. Default: Rate rounded up, at least 1.
	Burst int
	// Concurrency is the number of pushes in flight at once. Default: 256.
	Concurrency int
	// MaxAttempts bounds the tries of one frame on 429, 5xx and transport errors. Default: 8
	// (with the default backoff, about 6 s of retrying before a frame is given up).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the jittered exponential backoff. Defaults: 50ms, 5s.
	BaseBackoff, MaxBackoff time.Duration
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// OnGone is called once when the gateway answers 410 for a connection: the client is
	// gone and its queued frames were dropped. Typically the runtime's Disconnect.
	OnGone func(connID string)
	// Now is the signing clock. Default: time.Now.
	Now func() time.Time
}

// Stats are the push counters.
type Stats struct {
	Sent    uint64 // frames the gateway accepted (2xx)
	Retried uint64 // retries after 429, 5xx or a transport error
	Gone    uint64 // 410 answers (connection forgotten)
	Failed  uint64 // frames (or queued closes) given up: other 4xx, or retries exhausted
	Dropped uint64 // frames discarded unsent: queued for a gone connection, or after Close
	Closed  uint64 // connections closed with a DELETE (CloseConnection, Disconnect)
}

// StatusError is a non-2xx answer from the gateway.
type StatusError struct {
	Status int
	Body   string
}

// Error describes the status and the gateway's answer.
func (e *StatusError) Error() string {
	return fmt.Sprintf("@connections answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// ErrClosed is returned for work submitted after Close.
var ErrClosed = errors.New("push client closed")

// Client pushes frames. Send queues and returns at once; frames for one connection leave in
// the order they were queued, one at a time.
type Client struct {
	cfg     Config
	base    *url.URL // scheme and host of the callback URL
	path    string   // decoded stage path, without trailing slash
	rawPath string   // the same path, escaped once
	signer  *v4.Signer
	creds   aws.CredentialsProvider
	http    *http.Client
	limiter *rate.Limiter
	log     *slog.Logger
	ctx     context.Context // cancelled when Close gives up
	cancel  context.CancelFunc
	sent    atomic.Uint64
	retried atomic.Uint64
	gone    atomic.Uint64
	failed  atomic.Uint64
	dropped atomic.Uint64
	closes  atomic.Uint64
	mu      sync.Mutex
	cond    *sync.Cond
	conns   map[string]*connQueue
	ready   []*connQueue
	queued  int // frames queued or in flight
	closed  bool
	workers sync.WaitGroup
	idle    chan struct{} // closed when queued drops to 0; nil while idle
}

// connQueue holds one connection's frames. scheduled means it is in ready or a worker holds
// it, so no two workers ever send for the same connection at once. A nil frame is a queued
// close (DELETE); closing says one is queued or in flight.
type connQueue struct {
	id        string
	frames    [][]byte
	scheduled bool
	closing   bool
}

// New validates cfg and starts the workers.
func New(cfg Config) (*Client, error) {
	var problems []string
	u, err := url.Parse(cfg.CallbackURL)
	switch {
	case cfg.CallbackURL == "":
		problems = append(problems, "callback URL is required")
	case err != nil:
		problems = append(problems, fmt.Sprintf("callback URL %q: %v", cfg.CallbackURL, err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		problems = append(problems, fmt.Sprintf("callback URL %q must be an absolute http(s) URL", cfg.CallbackURL))
	case u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, fmt.Sprintf("callback URL %q must have no query or fragment", cfg.CallbackURL))
	}
	if cfg.Region == "" {
		problems = append(problems, "region is required")
	}
	if cfg.Credentials == nil {
		problems = append(problems, "credentials are required")
	}
	if cfg.Rate < 0 || cfg.Burst < 0 || cfg.Concurrency < 0 || cfg.MaxAttempts < 0 {
		problems = append(problems, "rate, burst, concurrency and attempts must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("push: %s", strings.Join(problems, "; "))
	}
	applyDefaults(&cfg)
	c := &Client{cfg: cfg, signer: v4.NewSigner(func(o *v4.SignerOptions) {
		// execute-api signs the singly-encoded path; do not escape it a second time.
		o.DisableURIPathEscaping = true
	}), http: cfg.HTTPClient, log: cfg.Logger, conns: map[string]*connQueue{}}
	c.base = &url.URL{Scheme: u.Scheme, Host: u.Host}
	c.path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/@connections")
	c.rawPath = escapePath(c.path)
	c.creds = cfg.Credentials
	if _, cached := c.creds.(*aws.CredentialsCache); !cached {
		c.creds = aws.NewCredentialsCache(c.creds)
	}
	if cfg.Rate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.cond = sync.NewCond(&c.mu)
	for range cfg.Concurrency {
		c.workers.Add(1)
		go c.work()
	}
	return c, nil
}

func applyDefaults(cfg *Config) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 256
	}
	if cfg.Burst == 0 {
		cfg.Burst = max(1, int(cfg.Rate+0.999))
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = 50 * time.Millisecond
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: NewTransport(cfg.Concurrency), Timeout: 10 * time.Second}
	}
}

// NewTransport returns an HTTP/1.1 keep-alive transport that keeps up to maxConns idle
// connections to the gateway. Go's default keeps 2 per host, which makes fan-out reconnect
// (and re-handshake TLS) for almost every push.
func NewTransport(maxConns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxConns
	t.MaxIdleConnsPerHost = maxConns
	t.IdleConnTimeout = 90 * time.Second
	// A pool of HTTP/1.1 connections beats one multiplexed HTTP/2 connection for this load.
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return t
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Retried: c.retried.Load(), Gone: c.gone.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load(), Closed: c.closes.Load()}
}

// Send queues frame for connID and returns at once. It implements vm.Sender. The frame must
// not be modified afterwards.
func (c *Client) Send(connID string, frame []byte) {
	if frame == nil {
		frame = []byte{} // nil marks a queued close
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		c.dropped.Add(1)
		return
	}
	c.enqueue(connID, frame)
}

// CloseConnection queues a close of connID (a signed DELETE on @connections/{id}, paced and
// retried like a push) after the frames already queued for it, and returns at once. It
// implements vm.Closer. A close already queued or in flight for connID is not repeated.
func (c *Client) CloseConnection(connID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if q := c.conns[connID]; q != nil && q.closing {
		return
	}
	c.enqueue(connID, nil).closing = true
}

// enqueue appends frame to connID's queue and schedules it. Caller holds c.mu.
func (c *Client) enqueue(connID string, frame []byte) *connQueue {
	q := c.conns[connID]
	if q == nil {
		q = &connQueue{id: connID}
		c.conns[connID] = q
	}
	q.frames = append(q.frames, frame)
	if c.queued == 0 {
		c.idle = make(chan struct{})
	}
	c.queued++
	if !q.scheduled {
		q.scheduled = true
		c.ready = append(c.ready, q)
		c.cond.Signal()
	}
	return q
}

// Flush waits until every frame queued so far was sent or given up, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		n := c.queued
		c.mu.Unlock()
		return fmt.Errorf("push: %d frames still queued: %w", n, ctx.Err())
	}
}

// Close stops accepting frames and waits until queued frames are sent, or ctx ends; then
// in-flight requests and backoffs are cancelled and the rest is dropped.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	var err error
	if ferr := c.Flush(ctx); ferr != nil {
		err = fmt.Errorf("at shutdown: %w", ferr)
	}
	c.cancel()
	c.workers.Wait()
	return err
}

func (c *Client) work() {
	defer c.workers.Done()
	for {
		q, frame, ok := c.next()
		if !ok {
			return
		}
		var err error
		if frame == nil {
			err = c.closeQueued(q.id)
		} else {
			err = c.Post(c.ctx, q.id, frame)
		}
		c.finish(q, frame == nil, err)
	}
}

// next blocks until a connection has a frame to send. ok is false when closed and idle.
func (c *Client) next() (*connQueue, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.ready) == 0 {
		if c.closed {
			return nil, nil, false
		}
		c.cond.Wait()
	}
	q := c.ready[0]
	c.ready[0] = nil
	c.ready = c.ready[1:]
	return q, q.frames[0], true
}

// finish removes the sent frame and requeues the connection at the tail, so one busy
// connection cannot starve the others.
func (c *Client) finish(q *connQueue, wasClose bool, err error) {
	var se *StatusError
	isGone := errors.As(err, &se) && se.Status == http.StatusGone
	c.mu.Lock()
	q.frames[0] = nil
	q.frames = q.frames[1:]
	c.queued--
	if wasClose {
		q.closing = false
	}
	if isGone {
		c.queued -= len(q.frames)
		for _, f := range q.frames {
			if f != nil {
				c.dropped.Add(1)
			}
		}
		q.frames = nil
		q.closing = false
	}
	if len(q.frames) > 0 {
		c.ready = append(c.ready, q)
		c.cond.Signal()
	} else {
		q.scheduled = false
		delete(c.conns, q.id)
	}
	if c.queued == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	if c.closed && len(c.ready) == 0 {
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	if isGone && c.cfg.OnGone != nil {
		c.cfg.OnGone(q.id)
	}
}

// Post sends one frame to connID now, retrying 429, 5xx and transport errors with jittered
// exponential backoff up to MaxAttempts. A 410 is counted as gone; it does not call OnGone
// (the queue does). Post is safe for concurrent use but gives no ordering.
func (c *Client) Post(ctx context.Context, connID string, frame []byte) error {
	var err error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			c.retried.Add(1)
			if werr := sleep(ctx, c.backoff(attempt)); werr != nil {
				break
			}
		}
		if c.limiter != nil {
			if werr := c.limiter.Wait(ctx); werr != nil {
				err = fmt.Errorf("push to %s: pacing: %w", connID, werr)
				break
			}
		}
		err = c.postOnce(ctx, connID, frame)
		if err == nil {
			c.sent.Add(1)
			return nil
		}
		if !retryable(err) {
			break
		}
	}
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusGone:
		c.gone.Add(1)
		c.log.Info("connection gone", "connectionId", connID)
	default:
		c.failed.Add(1)
		c.log.Warn("push failed", "connectionId", connID, "error", err)
	}
	return err
}

func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusTooManyRequests || se.Status >= 500
	}
	return !errors.Is(err, context.Canceled)
}

// backoff is "full jitter": a random wait up to base·2^attempt, capped.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BaseBackoff << min(attempt-1, 20)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) postOnce(ctx context.Context, connID string, frame []byte) error {
	req, err := c.NewRequest(ctx, connID, frame)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("push to %s: %w", connID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// Disconnect closes connID at the gateway (a signed DELETE on @connections/{id}): the client
// sees its socket close and, like every dotnetify client, reconnects and requests its view
// models again. A connection that is already gone counts as closed. 429 and 5xx are retried
// like pushes.
func (c *Client) Disconnect(ctx context.Context, connID string) error {
	var err error
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		if attempt > 0 {
			if werr := sleep(ctx, c.backoff(attempt)); werr != nil {
				break
			}
		}
		err = c.deleteOnce(ctx, connID)
		var se *StatusError
		if err == nil || errors.As(err, &se) && se.Status == http.StatusGone {
			c.closes.Add(1)
			return nil
		}
		if !retryable(err) {
			break
		}
	}
	return err
}

// closeQueued runs a queued close: paced like a push, then Disconnect. A failure is logged
// and counted; it is not a 410, so the queue goes on.
func (c *Client) closeQueued(connID string) error {
	if c.limiter != nil {
		if err := c.limiter.Wait(c.ctx); err != nil {
			c.failed.Add(1)
			return nil
		}
	}
	if err := c.Disconnect(c.ctx, connID); err != nil {
		c.failed.Add(1)
		c.log.Warn("close failed", "connectionId", connID, "error", err)
	}
	return nil
}

// DisconnectAll closes every connection in connIDs, Concurrency at a time, and reports how
// many could not be closed.
func (c *Client) DisconnectAll(ctx context.Context, connIDs []string) error {
	sem := make(chan struct{}, c.cfg.Concurrency)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var first atomic.Value
	for _, id := range connIDs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			failed.Add(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.Disconnect(ctx, id); err != nil {
				failed.Add(1)
				first.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		err, _ := first.Load().(error)
		return fmt.Errorf("push: %d of %d connections not closed: %v", n, len(connIDs), err)
	}
	return nil
}

func (c *Client) deleteOnce(ctx context.Context, connID string) error {
	req, err := c.build(ctx, http.MethodDelete, connID, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("close %s: %w", connID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// NewRequest builds the signed POST {callback}/@connections/{connID} carrying frame.
func (c *Client) NewRequest(ctx context.Context, connID string, frame []byte) (*http.Request, error) {
	return c.build(ctx, http.MethodPost, connID, frame)
}

// build makes a signed request on @connections/{connID}; a nil body sends none.
func (c *Client) build(ctx context.Context, method, connID string, frame []byte) (*http.Request, error) {
	// Built field by field: parsing a URL string per push would cost more than signing.
	u := &url.URL{
		Scheme:  c.base.Scheme,
		Host:    c.base.Host,
		Path:    c.path + "/@connections/" + connID,
		RawPath: c.rawPath + "/%40connections/" + escapeSegment(connID),
	}
	req := (&http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header, 4),
		Body:       http.NoBody,
		Host:       c.base.Host,
	}).WithContext(ctx)
	if frame != nil {
		req.Body = io.NopCloser(bytes.NewReader(frame))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(frame)), nil }
		req.ContentLength = int64(len(frame))
		req.Header["Content-Type"] = []string{"application/json; charset=utf-8"}
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("push to %s: credentials: %w", connID, err)
	}
	sum := sha256.Sum256(frame) // of nothing for a nil frame
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", c.cfg.Region, c.cfg.Now()); err != nil {
		return nil, fmt.Errorf("push to %s: sign: %w", connID, err)
	}
	return req, nil
}

// escapePath escapes each segment of a decoded path once.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = escapeSegment(s)
	}
	return strings.Join(segs, "/")
}

// escapeSegment percent-encodes everything but SigV4's unreserved characters.
func escapeSegment(s string) string {
	const hexUpper = "0123456789ABCDEF"
	if !strings.ContainsFunc(s, func(r rune) bool { return !unreserved(r) }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if unreserved(rune(ch)) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[ch>>4])
		b.WriteByte(hexUpper[ch&0xf])
	}
	return b.String()
}

func unreserved(ch rune) bool {
	return 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~'
}
