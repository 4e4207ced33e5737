// Package push delivers response_vm frames to clients through API Gateway's @connections
// management API: SigV4-signed POSTs (service execute-api) over a keep-alive transport sized
// for fan-out, with bounded concurrency, token-bucket pacing, jittered retries, bounded
// per-connection queues and per-connection ordering.
//
// A frame that cannot be delivered means the client's state has diverged from the server's,
// and dotNetify has no way to repair that but a fresh request_vm. So the client is never left
// with a silent gap: its connection is closed (a signed DELETE on @connections/{id}), which
// makes every dotnetify client reconnect and request its view models again. That happens when
//
//   - a frame is given up after MaxAttempts of 429 or 5xx answers (or of requests that
//     never reached a connection);
//   - the gateway refuses a frame as too large (413: over 128 KiB);
//   - the gateway answers 403 twice: the cached credentials are invalidated after the first
//     one (they may have rotated) and the frame is signed and sent once more;
//   - the connection's queue crosses MaxQueuedFrames or MaxQueuedBytes (a slow or throttled
//     client cannot make the server hold unbounded memory);
//   - a request fails after it was written (a timeout or a reset while waiting for the
//     answer): see below.
//
// Each case is counted in Stats under its cause and logged once per connection; the frames
// queued behind it, and those sent while the close is pending, are dropped; OnGone runs once
// the close was attempted. A 410 drops the connection's queue and runs OnGone too.
//
// The retry rule: a frame is sent again only when the gateway certainly did not deliver it:
// a 429 or 5xx answer, or a transport error before the request had a connection (a dial
// error, connection refused). A transport error after that may hide a frame the gateway
// delivered, and resending it would deliver it twice: list frames such as Messages_add are
// not idempotent (a second add appends a second item). Such a frame is not resent; the
// connection is closed instead. Closes (DELETE) are idempotent and always retried.
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
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/internal/serial"
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
	// MaxAttempts bounds the tries of one frame on 429, 5xx and requests that never reached
	// a connection. Default: 8 (with the default backoff, about 6 s of retrying before a
	// frame is given up and its connection closed).
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the jittered exponential backoff. Defaults: 50ms, 5s.
	BaseBackoff, MaxBackoff time.Duration
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// OnGone is called once when the gateway answers 410 for a connection, and once after
	// this client closed a connection whose frames could not be delivered: the client is gone
	// (or will come back as a new connection) and its queued frames were dropped. Typically
	// the runtime's Disconnect.
	OnGone func(connID string)
	// Now is the signing clock. Default: time.Now.
	Now func() time.Time
	// MaxQueuedFrames bounds the frames held for one connection (queued or in flight).
	// Default: 256. The frame that crosses it closes the connection.
	MaxQueuedFrames int
	// MaxQueuedBytes bounds the bytes of the frames held for one connection. Default: 1 MiB.
	// The frame that crosses it closes the connection.
	MaxQueuedBytes int
	// OnSent, when set, receives the time from Send to the gateway's 2xx for each frame
	// sent through the queue (the server's PushLatency). It runs on the sending goroutine
	// and must not block.
	OnSent func(time.Duration)
	// OnPaced, when set, receives the time each request (push or close) waited for the
	// pacer (the server's PacerWait). It must not block.
	OnPaced func(time.Duration)
}

// Default queue bounds per connection.
const (
	DefaultMaxQueuedFrames = 256
	DefaultMaxQueuedBytes  = 1 << 20
)

// Stats are the push counters.
type Stats struct {
	Sent    uint64 // frames the gateway accepted (2xx)
	Retried uint64 // requests sent again: after 429, 5xx, a request that reached no connection, or one 403
	Gone    uint64 // 410 answers (connection forgotten)
	Failed  uint64 // frames not delivered (GaveUp+TooLarge+Refused+Ambiguous), closes that failed, work cancelled by Close
	Dropped uint64 // frames discarded unsent: behind a failed frame, over a queue bound, for a gone or closing connection, after Close
	Closed  uint64 // connections closed with a DELETE (CloseConnection, Disconnect, and the causes below)

	// Why frames were not delivered; each closes its connection.
	GaveUp    uint64 // retries exhausted on 429, 5xx, or requests that never reached a connection
	TooLarge  uint64 // 413: the frame is over the gateway's 128 KiB
	Refused   uint64 // 403 again after refreshing the credentials, or another 4xx
	Ambiguous uint64 // the request failed after it was written: maybe delivered, so not resent
	Overflow  uint64 // connections whose queue crossed MaxQueuedFrames or MaxQueuedBytes
}

// ErrMaybeDelivered is wrapped by a push error when the request failed after it reached a
// connection (a timeout or a reset while waiting for the answer): the gateway may have
// delivered the frame, so it is not sent again.
var ErrMaybeDelivered = errors.New("may have been delivered, not resent")

// cause is what became of a frame that was not sent.
type cause uint8

const (
	causeNone      cause = iota
	causeGone            // 410
	causeCancelled       // the context ended (Close gave up)
	causeGaveUp
	causeTooLarge
	causeRefused
	causeAmbiguous
	causeOverflow
)

// String is the cause as logged.
func (c cause) String() string {
	return [...]string{"none", "gone", "cancelled", "gave_up", "too_large", "refused", "maybe_delivered", "overflow"}[c]
}

// diverged says whether the client missed a frame it will never get: its connection must be
// closed so that it resyncs.
func (c cause) diverged() bool { return c >= causeGaveUp }

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
// the order they were queued, one at a time: each connection is a line of a keyed serial
// queue (internal/serial) with Concurrency workers, and a busy connection goes to the back
// after each frame, so it cannot starve the others.
type Client struct {
	cfg       Config
	base      *url.URL // scheme and host of the callback URL
	path      string   // decoded stage path, without trailing slash
	rawPath   string   // the same path, escaped once
	signer    *signer
	creds     *aws.CredentialsCache
	http      *http.Client
	limiter   *rate.Limiter
	log       *slog.Logger
	ctx       context.Context // cancelled when Close gives up
	cancel    context.CancelFunc
	sent      atomic.Uint64
	retried   atomic.Uint64
	gone      atomic.Uint64
	failed    atomic.Uint64
	dropped   atomic.Uint64
	closes    atomic.Uint64
	gaveUp    atomic.Uint64
	tooLarge  atomic.Uint64
	refused   atomic.Uint64
	ambiguous atomic.Uint64
	overflow  atomic.Uint64
	queue     *serial.Queue[string] // one line per connection; a task sends one frame or close
	mu        sync.Mutex            // guards conns, their fields and closed
	conns     map[string]*conn
	closed    bool
}

// conn is what the client holds for one connection next to its line in the queue: the
// counts the bounds apply to and the state of its close. It is forgotten when it holds
// nothing. doomed says the connection is being closed because a frame could not be
// delivered: later frames are dropped, and OnGone runs once its close was attempted.
type conn struct {
	frames  int  // frames queued or in flight
	bytes   int  // their bytes
	closing bool // a close (DELETE) is queued or in flight
	doomed  bool
	sending int // what a task is sending now: 0 nothing, sendingFrame or sendingClose
	current int // bytes of the frame being sent
	// epoch is bumped when the queued frames are dropped; a task of an older epoch that has
	// not started yet does nothing (Discard keeps a line's first task, started or not).
	epoch int
}

const (
	sendingFrame = 1
	sendingClose = 2
)

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
	if cfg.Rate < 0 || cfg.Burst < 0 || cfg.Concurrency < 0 || cfg.MaxAttempts < 0 || cfg.MaxQueuedBytes < 0 || cfg.MaxQueuedFrames < 0 {
		problems = append(problems, "rate, burst, concurrency, attempts and queue bounds must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("push: %s", strings.Join(problems, "; "))
	}
	applyDefaults(&cfg)
	c := &Client{cfg: cfg, signer: &signer{region: cfg.Region}, http: cfg.HTTPClient, log: cfg.Logger, conns: map[string]*conn{}}
	c.base = &url.URL{Scheme: u.Scheme, Host: u.Host}
	c.path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/@connections")
	c.rawPath = escapePath(c.path)
	// A cache signs every push without a lookup, and its Invalidate refreshes credentials
	// after a 403.
	if cache, ok := cfg.Credentials.(*aws.CredentialsCache); ok {
		c.creds = cache
	} else {
		c.creds = aws.NewCredentialsCache(cfg.Credentials)
	}
	if cfg.Rate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Idle: the workers of a steady stream of pushes stay (they sign and send on deep
	// stacks that are costly to grow afresh); a quiet client keeps none after a second.
	c.queue = serial.New(serial.Options[string]{Workers: cfg.Concurrency, Idle: cfg.Concurrency})
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
	if cfg.MaxQueuedFrames == 0 {
		cfg.MaxQueuedFrames = DefaultMaxQueuedFrames
	}
	if cfg.MaxQueuedBytes == 0 {
		cfg.MaxQueuedBytes = DefaultMaxQueuedBytes
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
	return Stats{
		Sent: c.sent.Load(), Retried: c.retried.Load(), Gone: c.gone.Load(), Failed: c.failed.Load(),
		Dropped: c.dropped.Load(), Closed: c.closes.Load(),
		GaveUp: c.gaveUp.Load(), TooLarge: c.tooLarge.Load(), Refused: c.refused.Load(),
		Ambiguous: c.ambiguous.Load(), Overflow: c.overflow.Load(),
	}
}

// Send queues frame for connID and returns at once. It implements vm.Sender. The frame must
// not be modified afterwards. A frame that takes the connection's queue over MaxQueuedFrames
// or MaxQueuedBytes drops the queue and closes the connection; frames for a connection being
// closed that way are dropped.
func (c *Client) Send(connID string, frame []byte) {
	if frame == nil {
		frame = []byte{} // a push has a body, empty or not
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.dropped.Add(1)
		return
	}
	q := c.conn(connID)
	if q.doomed {
		c.mu.Unlock()
		c.dropped.Add(1)
		return
	}
	frames, bytes := q.frames+1, q.bytes+len(frame)
	over := frames > c.cfg.MaxQueuedFrames || bytes > c.cfg.MaxQueuedBytes
	if over {
		c.dropped.Add(1) // this frame
		c.doom(connID, q)
	} else {
		q.frames, q.bytes = frames, bytes
		c.add(connID, q, frame, false)
	}
	c.mu.Unlock()
	if over {
		c.overflow.Add(1)
		c.log.Warn("closing connection so the client resyncs", "connectionId", connID, "cause", causeOverflow.String(),
			"frames", frames, "bytes", bytes, "maxFrames", c.cfg.MaxQueuedFrames, "maxBytes", c.cfg.MaxQueuedBytes)
	}
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
	q := c.conn(connID)
	if q.closing {
		return
	}
	q.closing = true
	c.add(connID, q, nil, true)
}

// conn returns connID's state, making it if needed. Caller holds c.mu.
func (c *Client) conn(connID string) *conn {
	q := c.conns[connID]
	if q == nil {
		q = &conn{}
		c.conns[connID] = q
	}
	return q
}

// add queues a task that sends frame (or closes the connection) in connID's line. Caller
// holds c.mu and has counted the frame. The queue is never closed and has no bound per
// line (the client keeps its own), so Add cannot fail.
func (c *Client) add(connID string, q *conn, frame []byte, isClose bool) {
	epoch := q.epoch
	var queued time.Time // read only when a frame is timed
	if c.cfg.OnSent != nil {
		queued = time.Now()
	}
	if err := c.queue.Add(connID, func() { c.run(connID, q, epoch, frame, isClose, queued) }); err != nil {
		panic("push: queue refused a frame: " + err.Error())
	}
}

// doom drops q's queued frames (not one being sent) and queues a close behind them, unless
// a close is being sent. Caller holds c.mu.
func (c *Client) doom(connID string, q *conn) {
	c.dropQueued(connID, q)
	q.doomed = true
	if q.sending != sendingClose {
		q.closing = true
		c.add(connID, q, nil, true)
	}
}

// dropQueued forgets every frame and close queued for connID but the one being sent, and
// counts the frames as dropped. Caller holds c.mu.
func (c *Client) dropQueued(connID string, q *conn) {
	keep, keepBytes := 0, 0
	if q.sending == sendingFrame {
		keep, keepBytes = 1, q.current
	}
	c.dropped.Add(uint64(q.frames - keep))
	q.frames, q.bytes = keep, keepBytes
	q.closing = q.sending == sendingClose
	q.epoch++
	c.queue.Discard(connID)
}

// Flush waits until every frame queued so far was sent or given up, or ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	if err := c.queue.Drain(ctx); err != nil {
		return fmt.Errorf("push: %d frames and closes still queued: %w", c.queue.Pending(), ctx.Err())
	}
	return nil
}

// Close stops accepting frames and waits until queued frames are sent, or ctx ends; then
// in-flight requests and backoffs are cancelled and the rest is dropped.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	var err error
	if ferr := c.Flush(ctx); ferr != nil {
		err = fmt.Errorf("at shutdown: %w", ferr)
	}
	c.cancel()
	// What is left ends at once: its requests, backoffs and pacing see the cancelled context.
	_ = c.queue.Drain(context.Background())
	return err
}

// run is one task of connID's line: it sends frame, or closes the connection, unless the
// task was dropped (an older epoch) before it started. queued is when the frame was queued.
func (c *Client) run(connID string, q *conn, epoch int, frame []byte, isClose bool, queued time.Time) {
	c.mu.Lock()
	if q.epoch != epoch {
		c.mu.Unlock()
		return
	}
	q.sending, q.current = sendingFrame, len(frame)
	if isClose {
		q.sending = sendingClose
	}
	c.mu.Unlock()
	if isClose {
		c.closeQueued(connID)
		c.finish(connID, q, frame, true, causeNone, nil)
		return
	}
	err := c.Post(c.ctx, connID, frame)
	if err == nil && c.cfg.OnSent != nil {
		c.cfg.OnSent(time.Since(queued))
	}
	c.finish(connID, q, frame, false, c.causeOf(c.ctx, err), err)
}

// finish accounts for the frame (or close) just sent. A frame that was not delivered
// closes the connection (see the package doc); a 410 or a cancelled send drops the rest of
// the queue. It runs in the connection's line, so the callbacks it makes finish before
// Flush returns.
func (c *Client) finish(connID string, q *conn, frame []byte, wasClose bool, why cause, err error) {
	c.mu.Lock()
	q.sending, q.current = 0, 0
	if wasClose {
		q.closing = false
	} else {
		q.frames--
		q.bytes -= len(frame)
	}
	diverged := why.diverged() && !q.doomed // logged once per connection
	switch {
	case why == causeGone || why == causeCancelled:
		c.dropQueued(connID, q)
	case diverged:
		c.doom(connID, q)
	}
	// A doomed connection is forgotten once its close was attempted; a 410 forgets it at
	// once. When Close gave up, no one is left to tell.
	gone := why == causeGone || wasClose && q.doomed && c.ctx.Err() == nil
	if q.frames == 0 && !q.closing && c.conns[connID] == q {
		delete(c.conns, connID)
	}
	c.mu.Unlock()
	switch {
	case why == causeGone:
		c.log.Info("connection gone", "connectionId", connID)
	case diverged:
		c.log.Warn("closing connection so the client resyncs", "connectionId", connID, "cause", why.String(), "error", err)
	}
	if gone && c.cfg.OnGone != nil {
		c.cfg.OnGone(connID)
	}
}

// Post sends one frame to connID now, under the retry rule of the package doc, and counts
// the outcome. A 410 is counted as gone; it does not call OnGone (the queue does), and Post
// never closes the connection (the queue does). Post is safe for concurrent use but gives no
// ordering.
func (c *Client) Post(ctx context.Context, connID string, frame []byte) error {
	err := c.send(ctx, http.MethodPost, connID, frame)
	switch why := c.causeOf(ctx, err); why {
	case causeNone:
		c.sent.Add(1)
	case causeGone:
		c.gone.Add(1)
	case causeGaveUp:
		c.gaveUp.Add(1)
		c.failed.Add(1)
	case causeTooLarge:
		c.tooLarge.Add(1)
		c.failed.Add(1)
	case causeRefused:
		c.refused.Add(1)
		c.failed.Add(1)
	case causeAmbiguous:
		c.ambiguous.Add(1)
		c.failed.Add(1)
	default:
		c.failed.Add(1)
	}
	return err
}

// causeOf classifies the result of a send under ctx.
func (c *Client) causeOf(ctx context.Context, err error) cause {
	var se *StatusError
	switch {
	case err == nil:
		return causeNone
	case ctx.Err() != nil:
		return causeCancelled
	case errors.Is(err, ErrMaybeDelivered):
		return causeAmbiguous
	case !errors.As(err, &se):
		return causeGaveUp // requests that never reached a connection, or no credentials
	case se.Status == http.StatusGone:
		return causeGone
	case se.Status == http.StatusRequestEntityTooLarge:
		return causeTooLarge
	case retryableStatus(se.Status):
		return causeGaveUp
	default:
		return causeRefused
	}
}

// send runs one request on @connections/{connID} (a POST of frame, or a DELETE) until it
// succeeds or the retry rule says stop: 429, 5xx and requests that never reached a
// connection are tried up to MaxAttempts times with jittered backoff; a 403 once more right
// away with credentials fetched afresh (they may have rotated under the cache); a POST that
// may have reached the gateway never again. POSTs are paced.
func (c *Client) send(ctx context.Context, method, connID string, frame []byte) error {
	what := "push to"
	if method == http.MethodDelete {
		what = "close"
	}
	refreshed := false
	for attempt := 1; ; attempt++ {
		if c.limiter != nil && method == http.MethodPost {
			if err := c.pace(ctx); err != nil {
				return fmt.Errorf("%s %s: pacing: %w", what, connID, err)
			}
		}
		err := c.once(ctx, method, connID, frame)
		if err == nil {
			return nil
		}
		var se *StatusError
		answered := errors.As(err, &se)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("%s %s: %w", what, connID, err)
		case answered && se.Status == http.StatusForbidden:
			if refreshed {
				return fmt.Errorf("%s %s: refused after refreshing credentials: %w", what, connID, err)
			}
			refreshed = true
			c.creds.Invalidate()
			c.retried.Add(1)
			attempt-- // not a throttling attempt
			continue
		case answered && !retryableStatus(se.Status), errors.Is(err, ErrMaybeDelivered):
			return fmt.Errorf("%s %s: %w", what, connID, err)
		case attempt >= c.cfg.MaxAttempts:
			return fmt.Errorf("%s %s: gave up after %d attempts: %w", what, connID, attempt, err)
		}
		c.retried.Add(1)
		if err := sleep(ctx, c.backoff(attempt)); err != nil {
			return fmt.Errorf("%s %s: backoff: %w", what, connID, err)
		}
	}
}

// pace waits for the pacer's token and reports the wait to OnPaced.
func (c *Client) pace(ctx context.Context) error {
	if c.cfg.OnPaced == nil {
		return c.limiter.Wait(ctx)
	}
	start := time.Now()
	err := c.limiter.Wait(ctx)
	c.cfg.OnPaced(time.Since(start))
	return err
}

// retryableStatus says whether the gateway did not deliver and may yet: throttling (429)
// and its own errors (5xx).
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
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

// once sends one request and returns nil for a 2xx answer, a *StatusError for another
// answer, or the transport's error: for a POST, wrapped in ErrMaybeDelivered unless the
// request certainly never left (see connTrace).
func (c *Client) once(ctx context.Context, method, connID string, frame []byte) error {
	var trace *connTrace
	if method == http.MethodPost {
		trace = newConnTrace()
		ctx = httptrace.WithClientTrace(ctx, &trace.ClientTrace)
	}
	if c.http.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.http.Timeout)
		defer cancel()
	}
	req, err := c.build(ctx, method, connID, frame)
	if err != nil {
		return err
	}
	// Straight to the transport: a push needs none of http.Client's redirects or cookies,
	// and Client.Do copies the headers of every request for them. The client's Timeout
	// applies through ctx above.
	resp, err := c.transport().RoundTrip(req)
	if err != nil {
		// As http.Client reports it: `Post "https://…/@connections/id": …`.
		err = &url.Error{Op: method[:1] + strings.ToLower(method[1:]), URL: req.URL.String(), Err: err}
		if trace != nil && !trace.unsent(err) {
			return fmt.Errorf("%w: %w", ErrMaybeDelivered, err)
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // lets the connection be reused
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(string(body))}
}

// transport is the HTTP client's transport.
func (c *Client) transport() http.RoundTripper {
	if c.http.Transport != nil {
		return c.http.Transport
	}
	return http.DefaultTransport
}

// connTrace tells whether a request could have reached the gateway. Until net/http hands
// the request a connection (GotConn) nothing of it was written, so the gateway cannot have
// it; net/http itself resends a POST only when nothing was written. After that, a failure
// may come after the gateway received the whole request. A transport that reports no
// connection events (a test double) makes every error but a dial error count as maybe
// delivered, the safe side.
type connTrace struct {
	httptrace.ClientTrace
	asked, got atomic.Bool
}

func newConnTrace() *connTrace {
	t := &connTrace{}
	t.GetConn = func(string) { t.asked.Store(true) }
	t.GotConn = func(httptrace.GotConnInfo) { t.got.Store(true) }
	return t
}

// unsent says whether the request that failed with err certainly never left this process.
func (t *connTrace) unsent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return t.asked.Load() && !t.got.Load()
}

// Disconnect closes connID at the gateway (a signed DELETE on @connections/{id}): the client
// sees its socket close and, like every dotnetify client, reconnects and requests its view
// models again. A connection that is already gone counts as closed. A DELETE is idempotent:
// 429, 5xx and transport errors are retried like pushes.
func (c *Client) Disconnect(ctx context.Context, connID string) error {
	err := c.send(ctx, http.MethodDelete, connID, nil)
	var se *StatusError
	if err == nil || errors.As(err, &se) && se.Status == http.StatusGone {
		c.closes.Add(1)
		return nil
	}
	return err
}

// closeQueued runs a queued close: paced like a push, then Disconnect. A failure is logged
// and counted.
func (c *Client) closeQueued(connID string) {
	if c.limiter != nil {
		if err := c.pace(c.ctx); err != nil {
			c.failed.Add(1)
			return
		}
	}
	if err := c.Disconnect(c.ctx, connID); err != nil {
		c.failed.Add(1)
		c.log.Warn("close failed", "connectionId", connID, "error", err)
	}
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
	c.signer.sign(req, creds, hex.EncodeToString(sum[:]), c.cfg.Now())
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
