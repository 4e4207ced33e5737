package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// frame is a response_vm the client received; Data is the decoded data string.
type frame struct {
	VMID string
	Data []byte
	At   time.Time
}

// wsClient is a WebSocket client speaking dotNetify's hub protocol through the gateway.
type wsClient struct {
	n       int
	conn    *websocket.Conn
	wmu     sync.Mutex
	onFrame atomic.Pointer[func(*wsClient, frame)]
	done    chan struct{}
	errors  atomic.Int64 // frames that are not response_vm (gateway error frames)
	lastErr atomic.Value // string: the last such frame's message
}

// sourceAddr spreads clients over loopback source addresses, group clients per address,
// so that more than one address's worth of ephemeral ports can be used and so that view
// models shared per source IP (SimpleList) form groups of that size.
func sourceAddr(i, group int) net.IP {
	k := i / max(group, 1)
	return net.IPv4(127, 0, byte(1+k/250), byte(2+k%250))
}

// dial connects client i from sourceAddr(i, group) and starts its reader.
func dial(ctx context.Context, url string, i, group int, onFrame func(*wsClient, frame)) (*wsClient, error) {
	d := websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(i, group)}}).DialContext,
		HandshakeTimeout: 30 * time.Second,
		ReadBufferSize:   2048, WriteBufferSize: 2048,
	}
	conn, resp, err := d.DialContext(ctx, url, http.Header{"User-Agent": {"wsgate-bench"}})
	if err != nil {
		status := ""
		if resp != nil {
			status = " (HTTP " + strconv.Itoa(resp.StatusCode) + ")"
		}
		return nil, fmt.Errorf("client %d: dial %s%s: %w", i, url, status, err)
	}
	c := &wsClient{n: i, conn: conn, done: make(chan struct{})}
	c.onFrame.Store(&onFrame)
	go c.read()
	return c, nil
}

func (c *wsClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			CallType string `json:"callType"`
			VMID     string `json:"vmId"`
			Data     string `json:"data"`
			Message  string `json:"message"` // the gateway's error frames
		}
		if json.Unmarshal(data, &f) != nil || f.CallType != "response_vm" {
			c.errors.Add(1)
			c.lastErr.Store(f.Message)
			continue
		}
		(*c.onFrame.Load())(c, frame{VMID: f.VMID, Data: []byte(f.Data), At: time.Now()})
	}
}

// send writes one client frame.
func (c *wsClient) send(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		return fmt.Errorf("client %d: send: %w", c.n, err)
	}
	return nil
}

func (c *wsClient) close() {
	_ = c.conn.Close()
	<-c.done
}

// requestVM is the client frame of dotnetify's connect(vmId).
func requestVM(vmID string) []byte {
	return []byte(`{"callType":"request_vm","vmId":"` + vmID + `","vmArgs":"{}"}`)
}

// updateVM is the client frame of a $dispatch: value is the JSON object as a Go string.
func updateVM(vmID, value string) []byte {
	v, _ := json.Marshal(value)
	return []byte(`{"callType":"update_vm","vmId":"` + vmID + `","value":` + string(v) + `}`)
}

// dialAll connects n clients (from index first) with at most par dials at once.
func dialAll(ctx context.Context, url string, first, n, group, par int, onFrame func(*wsClient, frame)) ([]*wsClient, error) {
	out := make([]*wsClient, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for k := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := dial(ctx, url, first+k, group, onFrame)
			if err != nil {
				errs <- err
				return
			}
			out[k] = c
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		for _, c := range out {
			if c != nil {
				c.close()
			}
		}
		return nil, err
	}
	return out, nil
}

func closeAll(cs []*wsClient) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.close)
	}
	wg.Wait()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor polls cond until it holds or timeout passes; what names the condition.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(2 * time.Millisecond): // polling a condition with a deadline
		}
	}
	return nil
}
