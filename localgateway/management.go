package localgateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// isoMillis is the timestamp format of GetConnection.
const isoMillis = "2006-01-02T15:04:05.000Z"

// writeError answers in the service's rest-json error shape: the error type
// in x-amzn-ErrorType and {"message": …}.
func writeError(w http.ResponseWriter, status int, errType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", errType)
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]string{"message": message})
	_, _ = w.Write(body)
}

// writeGone answers 410 GoneException. The service's body is not JSON; an
// empty object satisfies every SDK, which read the type from the header.
func writeGone(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", "GoneException")
	w.WriteHeader(http.StatusGone)
	_, _ = w.Write([]byte("{}"))
}

// errTooLarge reports a body over MaxMessageSize.
var errTooLarge = errors.New("request body over the limit")

// readLimited returns the whole request body, or errTooLarge as soon as it
// is known to exceed MaxMessageSize: from Content-Length before reading
// anything, otherwise (chunked) at the first byte past the limit.
func readLimited(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxMessageSize {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	if len(body) > MaxMessageSize {
		return nil, errTooLarge
	}
	return body, nil
}

// writeTooLarge answers 413 PayloadTooLargeException and closes the HTTP
// connection afterwards, so the server does not wait for (or read) the
// rest of a body it refused.
func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "Request entity too large")
}

// serveManagement implements PostToConnection, GetConnection and
// DeleteConnection.
func (g *Gateway) serveManagement(w http.ResponseWriter, r *http.Request, id string) {
	switch r.Method {
	case http.MethodPost, http.MethodGet, http.MethodDelete:
	default:
		writeError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	}
	// The size comes first, before the signature: verifying needs the hash
	// of the whole body, and the gateway never holds more than the limit.
	body, err := readLimited(r)
	if errors.Is(err, errTooLarge) {
		writeTooLarge(w)
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadRequestException", "Could not read the request body")
		return
	}
	if err := g.verifier.Verify(r, body); err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			writeError(w, http.StatusForbidden, se.Type, se.Message)
			return
		}
		writeError(w, http.StatusForbidden, "ForbiddenException", err.Error())
		return
	}
	if status, ok := g.faults.apply(r.Method); ok {
		writeError(w, status, faultType(status), faultMessage(status))
		return
	}
	c := g.lookup(id)
	if c == nil || c.state.Load() != connStateOpen {
		writeGone(w)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if err := c.send(body); err != nil {
			writeGone(w)
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		out, _ := json.Marshal(map[string]any{
			"connectedAt":  c.connectedAt.UTC().Format(isoMillis),
			"identity":     map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
			"lastActiveAt": time.Unix(0, c.lastActive.Load()).UTC().Format(isoMillis),
		})
		_, _ = w.Write(out)
	case http.MethodDelete:
		c.closeWith(closeNormal, deleteCloseReason)
		w.WriteHeader(http.StatusNoContent)
	}
}
