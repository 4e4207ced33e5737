package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// startRelay serves the bare shape of API Gateway's architecture, as a reference for the
// round trip: a WebSocket endpoint that POSTs every client message to a backend over HTTP,
// and a backend that answers 200 at once and POSTs the echo back to the endpoint's
// /@connections/{id}, which writes it to the client. No signatures, templates or view
// models: what remains is the two HTTP exchanges wsgate's path is built on.
func startRelay() (string, func(), error) {
	wsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("relay listen: %w", err)
	}
	backLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		wsLn.Close()
		return "", nil, fmt.Errorf("relay backend listen: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}, Timeout: 10 * time.Second}
	rl := &relay{conns: map[string]*relayConn{}, hc: hc, backend: "http://" + backLn.Addr().String() + "/message"}
	callback := "http://" + wsLn.Addr().String() + "/@connections/"
	wsSrv := &http.Server{Handler: rl}
	backSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			ConnectionID string `json:"connectionId"`
			Payload      string `json:"payload"`
		}
		err := json.NewDecoder(r.Body).Decode(&in)
		w.WriteHeader(http.StatusOK)
		if err != nil {
			return
		}
		data, _ := json.Marshal(in.Payload)
		frame := append(append([]byte(`{"callType":"response_vm","vmId":"Echo","data":`), data...), '}')
		go rl.post(callback+in.ConnectionID, frame)
	})}
	go func() { _ = wsSrv.Serve(wsLn) }()
	go func() { _ = backSrv.Serve(backLn) }()
	stop := func() {
		_ = wsSrv.Close()
		_ = backSrv.Close()
		hc.CloseIdleConnections()
	}
	return "ws://" + wsLn.Addr().String() + "/", stop, nil
}

type relay struct {
	mu      sync.Mutex
	conns   map[string]*relayConn
	next    atomic.Int64
	hc      *http.Client
	backend string
}

type relayConn struct {
	wmu sync.Mutex
	c   *websocket.Conn
}

// ServeHTTP takes client upgrades on / and @connections POSTs.
func (rl *relay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/@connections/"); ok {
		body, _ := io.ReadAll(r.Body)
		rl.mu.Lock()
		rc := rl.conns[id]
		rl.mu.Unlock()
		if rc == nil {
			w.WriteHeader(http.StatusGone)
			return
		}
		rc.wmu.Lock()
		err := rc.c.WriteMessage(websocket.TextMessage, body)
		rc.wmu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusGone)
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	up := websocket.Upgrader{ReadBufferSize: 2048, WriteBufferSize: 2048}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	id := strconv.FormatInt(rl.next.Add(1), 10)
	rl.mu.Lock()
	rl.conns[id] = &relayConn{c: c}
	rl.mu.Unlock()
	defer func() {
		rl.mu.Lock()
		delete(rl.conns, id)
		rl.mu.Unlock()
		c.Close()
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		body, _ := json.Marshal(map[string]string{"connectionId": id, "payload": string(msg)})
		rl.post(rl.backend, body)
	}
}

// post sends body and drains the answer; failures show up as missing echoes.
func (rl *relay) post(url string, body []byte) {
	resp, err := rl.hc.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
