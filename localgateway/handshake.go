package localgateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsgate/wsgate/localgateway/cfn"
)

// serveUpgrade runs the handshake: throttling, API key, IAM, then $connect;
// the 101 is sent only when $connect answered 2xx, and the connection is
// not postable (410) until then.
func (g *Gateway) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		writeError(w, http.StatusUpgradeRequired, "BadRequestException", "Upgrade Required")
		return
	}
	// A handshake the upgrade would refuse must not run $connect first.
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeError(w, http.StatusUpgradeRequired, "BadRequestException", "Unsupported WebSocket version")
		return
	}
	if key, err := base64.StdEncoding.DecodeString(r.Header.Get("Sec-WebSocket-Key")); err != nil || len(key) != 16 {
		writeError(w, http.StatusBadRequest, "BadRequestException", "Invalid Sec-WebSocket-Key")
		return
	}
	if !g.track() {
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "Service Unavailable")
		return
	}
	handedOver := false // to the read loop, which ends the tracking
	defer func() {
		if !handedOver {
			g.wg.Done()
		}
	}()
	c := &conn{id: newID(), g: g, connectedAt: time.Now(), sourceIP: remoteIP(r), userAgent: r.Header.Get("User-Agent"), domainName: r.Host}
	ev := &event{eventType: eventConnect, routeKey: "$connect", requestID: newID(), requestTime: c.connectedAt, connect: r, domainName: r.Host}
	route := g.api.Routes["$connect"]
	status, protocol := g.admit(c, route, ev, r)
	g.access.write(g, c, ev, status, nil, "")
	if status/100 != 2 {
		g.unregister(c)
		w.WriteHeader(status)
		return
	}
	up := ws.HTTPUpgrader{Protocol: func(p string) bool { return protocol != "" && p == protocol }}
	// The connection becomes postable before the 101 goes out, but holding
	// the write lock until then keeps any frame behind the handshake.
	c.wmu.Lock()
	c.open()
	g.register(c)
	nc, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		c.nc = nc
		c.wmu.Unlock()
		c.closeWith(closeAbnormal, "")
		return
	}
	c.nc, c.r = nc, nc
	// Bytes the client sent right after its request are already buffered.
	if n := rw.Reader.Buffered(); n > 0 {
		early := make([]byte, n)
		_, _ = io.ReadFull(rw.Reader, early)
		c.r = io.MultiReader(bytes.NewReader(early), nc)
	}
	c.wmu.Unlock()
	handedOver = true
	go c.readLoop()
}

// admit decides the handshake status and the subprotocol to accept.
func (g *Gateway) admit(c *conn, route *cfn.Route, ev *event, r *http.Request) (int, string) {
	if !g.throttle.allow("$connect") {
		return http.StatusTooManyRequests, ""
	}
	if route == nil {
		return http.StatusOK, ""
	}
	if route.ApiKeyRequired && !g.validAPIKey(r) {
		return http.StatusForbidden, ""
	}
	if route.AuthorizationType == "AWS_IAM" {
		if err := g.verifier.Verify(r, nil); err != nil {
			g.log.Info("IAM authorization failed on $connect", "error", err)
			return http.StatusForbidden, ""
		}
	}
	g.register(c) // pending: @connections answers 410 until the 101
	if route.Authorizer != nil {
		if status := g.authorize(context.Background(), c, route.Authorizer, ev); status != 0 {
			return status, ""
		}
	}
	res, err := g.invoke(context.Background(), c, route, ev)
	switch {
	case errors.Is(err, errTimeout):
		return http.StatusGatewayTimeout, ""
	case err != nil:
		g.log.Info("$connect integration failed", "connectionId", c.id, "error", err)
		return http.StatusBadGateway, ""
	case res.status/100 != 2:
		return res.status, ""
	}
	return http.StatusOK, res.header.Get("Sec-WebSocket-Protocol")
}

// validAPIKey checks x-api-key against the template's API keys, or for any
// value when the template defines none.
func (g *Gateway) validAPIKey(r *http.Request) bool {
	key := r.Header.Get("X-Api-Key")
	if key == "" {
		return false
	}
	return len(g.api.APIKeys) == 0 || slices.Contains(g.api.APIKeys, key)
}

func isUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
