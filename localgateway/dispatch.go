package localgateway

import (
	"context"
	"errors"
	"time"

	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/selection"
)

// errorFrame is the service's error frame, byte for byte: a space after the
// first colon only.
func errorFrame(message, connectionID, requestID string) []byte {
	return []byte(`{"message": "` + message + `", "connectionId":"` + connectionID + `", "requestId":"` + requestID + `"}`)
}

// Error-frame messages.
const (
	msgForbidden       = "Forbidden"
	msgTooManyRequests = "Too Many Requests"
)

// route selects the route of a message: the route selection expression over
// a JSON body, $default for anything else or no match. $connect and
// $disconnect are never selected by a message.
func (g *Gateway) route(body []byte) (*cfn.Route, string) {
	if lookup, ok := selection.BodyLookup(body); ok {
		key := selection.Evaluate(g.api.RouteSelectionExpression, lookup)
		if r := g.api.Routes[key]; r != nil && key != "$connect" && key != "$disconnect" {
			return r, key
		}
	}
	return g.api.Routes["$default"], "$default"
}

// dispatch handles one client message.
func (g *Gateway) dispatch(c *conn, body []byte) {
	ev := &event{eventType: eventMessage, requestID: newID(), messageID: newID(), requestTime: time.Now(), body: body, domainName: c.domainName}
	route, key := g.route(body)
	ev.routeKey = key
	if route == nil {
		_ = c.send(errorFrame(msgForbidden, c.id, ev.requestID))
		g.access.write(g, c, ev, 403, nil, msgForbidden)
		return
	}
	if !g.throttle.allow(key) {
		_ = c.send(errorFrame(msgTooManyRequests, c.id, ev.requestID))
		g.access.write(g, c, ev, 429, nil, msgTooManyRequests)
		return
	}
	res, err := g.invoke(context.Background(), c, route, ev)
	if err != nil {
		msg := errIntegration.Error()
		switch {
		case errors.Is(err, errTimeout):
			msg = errTimeout.Error()
		case errors.Is(err, errNoTemplate):
			msg = errNoTemplate.Error()
		}
		g.log.Info("integration failed", "connectionId", c.id, "routeKey", key, "error", err)
		_ = c.send(errorFrame(msg, c.id, ev.requestID))
		g.access.write(g, c, ev, statusOf(err), nil, msg)
		return
	}
	// One-way unless the route asks for the integration's answer; an empty
	// answer sends nothing.
	if route.TwoWay() && len(res.body) > 0 {
		_ = c.send(res.body)
	}
	g.access.write(g, c, ev, 200, res, "")
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, errTimeout):
		return 504
	case errors.Is(err, errNoTemplate):
		return 415
	}
	return 500
}

// disconnect runs the $disconnect route after the socket closed; best
// effort, as on the service.
func (g *Gateway) disconnect(c *conn) {
	ev := &event{eventType: eventDisconnect, routeKey: "$disconnect", requestID: newID(), requestTime: time.Now(),
		discCode: c.closeCode, discReason: c.closeReason, domainName: c.domainName}
	route := g.api.Routes["$disconnect"]
	if route == nil {
		g.access.write(g, c, ev, 200, nil, "")
		return
	}
	res, err := g.invoke(context.Background(), c, route, ev)
	if err != nil {
		g.log.Info("$disconnect integration failed", "connectionId", c.id, "error", err)
		g.access.write(g, c, ev, statusOf(err), nil, err.Error())
		return
	}
	g.access.write(g, c, ev, 200, res, "")
}
