package localgateway

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// WebSocket close codes the gateway sends.
const (
	closeNormal         = 1000
	closeGoingAway      = 1001
	closeProtocolError  = 1002
	closeUnsupported    = 1003
	closeNoStatus       = 1005
	closeAbnormal       = 1006
	closeMessageTooBig  = 1009
	writeTimeout        = 10 * time.Second
	maxControlPayload   = 125
	connStatePending    = 0 // $connect is running: not postable (410)
	connStateOpen       = 1
	connStateClosed     = 2
	deleteCloseReason   = "Connection Closed Normally"
	idleCloseReason     = "Going away"
	binaryCloseReason   = "Binary frames are not supported"
	tooBigCloseReason   = "Message too big"
	protocolCloseReason = "Protocol error"
)

// newID returns a 16-character URL-safe id shaped like the service's
// connection and request ids (11 random bytes, base64 with one '=').
func newID() string {
	var b [11]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return base64.URLEncoding.EncodeToString(b[:])
}

// conn is one client connection. It holds no buffers while idle: the reader
// goroutine allocates a message only while one arrives, and integrations
// run in the connection's line of the gateway's keyed serial queue, on a
// goroutine that exists only while there is work.
type conn struct {
	id          string
	g           *Gateway
	nc          net.Conn
	r           io.Reader // nc, or buffered handshake bytes then nc
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string         // Host the client connected to: $context.domainName
	authorizer  map[string]any // principalId and context from the $connect authorizer
	lastActive  atomic.Int64   // unix nanoseconds
	state       atomic.Int32

	wmu sync.Mutex // serializes frame writes

	closeOnce   sync.Once
	closeCode   int
	closeReason string
	idle, life  *time.Timer

	qmu     sync.Mutex
	pending int           // bytes of messages queued or in their integration (under qmu)
	space   chan struct{} // signalled when pending shrinks
	done    chan struct{} // closed when the connection closes
}

func (c *conn) touch() {
	c.lastActive.Store(time.Now().UnixNano())
	if c.idle != nil {
		c.idle.Reset(c.g.cfg.IdleTimeout)
	}
}

// open starts the connection's timers and marks it postable.
func (c *conn) open() {
	c.space, c.done = make(chan struct{}, 1), make(chan struct{})
	c.idle = time.AfterFunc(c.g.cfg.IdleTimeout, func() { c.closeWith(closeGoingAway, idleCloseReason) })
	c.life = time.AfterFunc(c.g.cfg.MaxConnectionTime, func() { c.closeWith(closeGoingAway, idleCloseReason) })
	c.lastActive.Store(time.Now().UnixNano())
	c.state.Store(connStateOpen)
}

// send writes one text frame to the client.
func (c *conn) send(data []byte) error {
	if c.state.Load() != connStateOpen {
		return errGone
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := writeFrameTo(c.nc, ws.NewTextFrame(data)); err != nil {
		return err
	}
	c.touch()
	return nil
}

var errGone = errors.New("connection is gone")

// headerBuf collects a frame header (at most ws.MaxHeaderSize bytes).
type headerBuf struct {
	b [ws.MaxHeaderSize]byte
	n int
}

func (h *headerBuf) Write(p []byte) (int, error) {
	n := copy(h.b[h.n:], p)
	h.n += n
	return n, nil
}

// writeFrameTo writes a frame's header and payload in one call (writev on a TCP
// socket), so the client gets them in one segment and one wake-up instead of
// two writes, the second one after the reader already woke for the header.
func writeFrameTo(nc net.Conn, f ws.Frame) error {
	var h headerBuf
	if err := ws.WriteHeader(&h, f.Header); err != nil {
		return err
	}
	bufs := net.Buffers{h.b[:h.n], f.Payload}
	_, err := bufs.WriteTo(nc)
	return err
}

// closeWith sends a close frame with code and reason, closes the socket and
// schedules $disconnect. It reports whether this call closed it.
func (c *conn) closeWith(code int, reason string) bool {
	closed := false
	c.closeOnce.Do(func() {
		closed = true
		wasOpen := c.state.Swap(connStateClosed) == connStateOpen
		c.closeCode, c.closeReason = code, reason
		// The write lock also orders this after a handshake in progress.
		c.wmu.Lock()
		nc := c.nc
		if wasOpen && code != closeAbnormal && nc != nil {
			var body []byte // 1005 means "no status": an empty close frame
			if code != closeNoStatus {
				body = ws.NewCloseFrameBody(ws.StatusCode(code), reason)
			}
			_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
			_ = writeFrameTo(nc, ws.NewCloseFrame(body))
		}
		c.wmu.Unlock()
		if nc != nil {
			_ = nc.Close()
		}
		if c.idle != nil {
			c.idle.Stop()
			c.life.Stop()
		}
		c.g.unregister(c)
		if c.done != nil {
			close(c.done)
		}
		if wasOpen {
			c.enqueue(func() { c.g.disconnect(c) })
		}
	})
	return closed
}

// enqueue runs fn after the connection's earlier work, so integrations see
// a connection's messages in order and $disconnect comes last.
func (c *conn) enqueue(fn func()) {
	// The queue is never closed and has no bound per line (reserve keeps the
	// connection's), so Add cannot fail.
	if err := c.g.lines.Add(c, fn); err != nil {
		panic("localgateway: connection queue refused work: " + err.Error())
	}
}

// reserve counts n more pending bytes, first waiting while the
// connection's pending messages hold MaxPendingBytes. A message is always
// admitted when nothing is pending, so one of the maximum size passes. It
// reports false when the connection closed while waiting.
func (c *conn) reserve(n int) bool {
	for {
		c.qmu.Lock()
		if c.pending == 0 || c.pending+n <= c.g.cfg.MaxPendingBytes {
			c.pending += n
			c.qmu.Unlock()
			return true
		}
		c.qmu.Unlock()
		if waits := c.g.readerWaits.Load(); waits != nil {
			(*waits)(c)
		}
		select {
		case <-c.space:
		case <-c.done:
			return false
		}
	}
}

// release returns n pending bytes and wakes a waiting reader.
func (c *conn) release(n int) {
	c.qmu.Lock()
	c.pending -= n
	c.qmu.Unlock()
	select {
	case c.space <- struct{}{}:
	default: // a wake-up is already waiting
	}
}

// readLoop reads client frames until the connection ends, enforcing the
// frame and message limits and refusing binary data.
func (c *conn) readLoop() {
	defer c.g.wg.Done()
	var msg []byte
	inMessage := false
	for {
		h, err := ws.ReadHeader(c.r)
		if err != nil {
			c.closeWith(closeAbnormal, "")
			return
		}
		if !h.Masked || h.Rsv != 0 {
			c.closeWith(closeProtocolError, protocolCloseReason)
			return
		}
		if h.Length > MaxFrameSize {
			c.closeWith(closeMessageTooBig, tooBigCloseReason)
			return
		}
		// RFC 6455 §5.5: control frames carry at most 125 bytes and are
		// never fragmented; a larger ping would make the gateway echo it.
		if h.OpCode.IsControl() && (h.Length > maxControlPayload || !h.Fin) {
			c.closeWith(closeProtocolError, protocolCloseReason)
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.r, payload); err != nil {
			c.closeWith(closeAbnormal, "")
			return
		}
		ws.Cipher(payload, h.Mask, 0)
		switch h.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			if code == 0 {
				code = closeNoStatus
			}
			c.closeWith(int(code), reason)
			return
		case ws.OpPing:
			c.wmu.Lock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			_ = writeFrameTo(c.nc, ws.NewPongFrame(payload))
			c.wmu.Unlock()
			continue
		case ws.OpPong:
			continue
		case ws.OpBinary:
			c.closeWith(closeUnsupported, binaryCloseReason)
			return
		case ws.OpText:
			if inMessage {
				c.closeWith(closeProtocolError, protocolCloseReason)
				return
			}
			msg, inMessage = payload, true
		case ws.OpContinuation:
			if !inMessage {
				c.closeWith(closeProtocolError, protocolCloseReason)
				return
			}
			if len(msg)+len(payload) > MaxMessageSize {
				c.closeWith(closeMessageTooBig, tooBigCloseReason)
				return
			}
			msg = append(msg, payload...)
		default:
			c.closeWith(closeProtocolError, protocolCloseReason)
			return
		}
		if h.Fin && inMessage {
			body := msg
			msg, inMessage = nil, false
			c.touch()
			// Stop reading while the backend has not caught up, so a fast
			// client cannot queue unbounded memory behind a slow integration.
			if !c.reserve(len(body)) {
				return
			}
			c.enqueue(func() {
				defer c.release(len(body))
				c.g.dispatch(c, body)
			})
		}
	}
}
