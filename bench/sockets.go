package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/wsgate/wsgate/server/push"
)

// socketFootprint measures the heap and stack bytes per idle open WebSocket of the local
// gateway and of a gorilla/websocket echo server. The clients are bare upgraded TCP
// connections with no goroutine or buffer, and their own share (half of what an accepted
// and held TCP connection pair costs) is taken off both figures.
func socketFootprint(ctx context.Context, r *Result, n int) error {
	pair, err := heldTCPBytes(n)
	if err != nil {
		return err
	}
	clientShare := pair / 2
	echoURL, stopEcho, err := startEcho()
	if err != nil {
		return err
	}
	echo, err := idleSocketBytes(ctx, echoURL, n)
	stopEcho()
	if err != nil {
		return fmt.Errorf("echo server sockets: %w", err)
	}
	st, err := startStack(stackOptions{Push: push.Config{}})
	if err != nil {
		return err
	}
	defer st.close()
	gw, err := idleSocketBytes(ctx, st.WS, n)
	if err != nil {
		return fmt.Errorf("gateway sockets: %w", err)
	}
	r.add("gorilla/websocket echo server socket", RoleBaseline, map[string]float64{"bytes_per_socket": echo - clientShare})
	r.add("wsgate local gateway socket", RoleSubject, map[string]float64{"bytes_per_socket": gw - clientShare})
	r.Goals = append(r.Goals, NewGoal(fmt.Sprintf("gateway bytes per open WebSocket (%d sockets)", n), (gw-clientShare)/1024, "<=", 20, "KiB"))
	r.Notes = append(r.Notes, fmt.Sprintf("gateway socket is %.2fx a gorilla/websocket echo server's; client share taken off: %.0f B",
		ratio(gw-clientShare, echo-clientShare), clientShare))
	return nil
}

// heldTCPBytes is the growth per connection when n loopback TCP connections are accepted
// and held on both ends in this process.
func heldTCPBytes(n int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	before := heapInUse()
	accepted := make(chan net.Conn, n)
	go func() {
		for range n {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: sourceAddr(i, 20000)}}).Dial("tcp", ln.Addr().String())
		if err != nil {
			return 0, fmt.Errorf("dial: %w", err)
		}
		conns = append(conns, c, <-accepted)
	}
	after := heapInUse()
	runtime.KeepAlive(conns)
	return float64(after-before) / float64(n), nil
}

// idleSocketBytes opens n WebSockets to url with bare clients and returns the growth per
// socket once they are all open and idle.
func idleSocketBytes(ctx context.Context, url string, n int) (float64, error) {
	before := heapInUse()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := rawUpgrade(ctx, url, sourceAddr(i, 20000))
		if err != nil {
			return 0, fmt.Errorf("socket %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	after := heapInUse()
	runtime.KeepAlive(conns)
	return float64(int64(after)-int64(before)) / float64(n), nil
}

// rawUpgrade opens a WebSocket with a hand-written handshake and keeps nothing but the
// connection: no reader goroutine, no buffers.
func rawUpgrade(ctx context.Context, url string, src net.IP) (net.Conn, error) {
	hostPath := strings.TrimPrefix(url, "ws://")
	host, path, _ := strings.Cut(hostPath, "/")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", host, err)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := "GET /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: wsgate-bench\r\n\r\n"
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	// Read the answer byte by byte up to the blank line, so nothing after it is consumed.
	var head bytes.Buffer
	one := make([]byte, 1)
	for !bytes.HasSuffix(head.Bytes(), []byte("\r\n\r\n")) {
		if _, err := c.Read(one); err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake answer: %w", err)
		}
		head.WriteByte(one[0])
	}
	resp, err := http.ReadResponse(bufio.NewReader(&head), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake answered %q", strings.SplitN(head.String(), "\r\n", 2)[0])
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
