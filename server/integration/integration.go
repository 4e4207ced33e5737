// Package integration serves the HTTP endpoints API Gateway's integrations call
// (POST /api/dotnetify/vm, POST /api/dotnetify/vm/disconnect), a health check, and the
// graceful shutdown that drains queued work.
package integration

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/clientlog"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// Paths of the endpoints, as dotNetify's CloudFormation template and wsgate's constructs
// configure them (package contract holds the names every part shares).
const (
	PathMessage    = contract.PathMessage
	PathDisconnect = contract.PathDisconnect
	PathHealth     = contract.PathHealth
	// SecretHeader carries the shared secret when one is configured.
	SecretHeader = contract.HeaderSecret
)

// Bounds of what the gateway states about an authorized connection. API Gateway caps an
// authorizer's result at 8 KB, so more than that did not come from it.
const (
	// MaxAuthorizerKeys bounds the X-Wsgate-Authorizer-<key> headers of one request.
	MaxAuthorizerKeys = 64
	// MaxAuthorizerBytes bounds the bytes of the principal and the context values together.
	MaxAuthorizerBytes = 8192
)

// Dispatcher receives decoded work; *vm.Runtime implements it. ctx is the integration
// request's.
type Dispatcher interface {
	Handle(ctx context.Context, c vm.Caller, m *protocol.Message)
	Disconnect(ctx context.Context, connID string)
}

// Config configures the handler.
type Config struct {
	// Runtime receives messages and disconnects. Required.
	Runtime Dispatcher
	// Secret, when non-empty, must arrive in X-Wsgate-Secret on the integration endpoints.
	Secret string
	// MaxBodyBytes limits a request body. Default: protocol.MaxBodyBytes.
	MaxBodyBytes int
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock of the refusal-log rate limit. Default: time.Now.
	Now func() time.Time
	// Observe, when set, receives every integration request once it is answered: its
	// route (contract.RouteConnect, RouteDefault or RouteDisconnect), the status it got and
	// the time it took. $connect and $default share a path; a request refused before its
	// body was decoded counts as $default. It must not block.
	Observe func(route string, status int, elapsed time.Duration)
}

// Handler serves the integration endpoints and /healthz.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	draining atomic.Bool
	warnings *clientlog.Limiter
}

// NewHandler returns the handler. It panics without a Runtime, a programming error.
func NewHandler(cfg Config) *Handler {
	if cfg.Runtime == nil {
		panic("integration.NewHandler: Runtime is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = protocol.MaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), warnings: clientlog.NewLimiter(cfg.Now)}
	h.mux.HandleFunc("POST "+PathMessage, h.message)
	h.mux.HandleFunc("POST "+PathDisconnect, h.disconnect)
	h.mux.HandleFunc("GET "+PathHealth, h.health)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// SetDraining makes /healthz answer 503 so load balancers stop sending new work.
func (h *Handler) SetDraining() { h.draining.Store(true) }

func (h *Handler) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if h.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"draining"}`)
		return
	}
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// message handles $connect (no payload: nothing to do, as in dotNetify) and $default.
func (h *Handler) message(w http.ResponseWriter, r *http.Request) {
	start := h.start()
	req, who, status := h.decode(w, r)
	route := contract.RouteDefault
	if status == http.StatusOK && req.Payload == nil {
		route = contract.RouteConnect
	}
	defer h.observe(route, status, start)
	if status != http.StatusOK {
		return
	}
	if req.Payload != nil {
		h.cfg.Runtime.Handle(r.Context(), vm.Caller{ConnectionID: req.ConnectionID, SourceIP: req.SourceIP, UserAgent: req.UserAgent,
			Principal: who.principal, Authorizer: who.authorizer}, req.Payload)
	}
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) disconnect(w http.ResponseWriter, r *http.Request) {
	start := h.start()
	req, _, status := h.decode(w, r)
	defer h.observe(contract.RouteDisconnect, status, start)
	if status != http.StatusOK {
		return
	}
	h.cfg.Runtime.Disconnect(r.Context(), req.ConnectionID)
	w.WriteHeader(http.StatusOK)
}

// start is when a request began, when requests are observed.
func (h *Handler) start() time.Time {
	if h.cfg.Observe == nil {
		return time.Time{}
	}
	return time.Now()
}

// observe reports an answered request to Config.Observe.
func (h *Handler) observe(route string, status int, start time.Time) {
	if h.cfg.Observe != nil {
		h.cfg.Observe(route, status, time.Since(start))
	}
}

// decode checks the secret and decodes the body and the principal headers. It returns
// http.StatusOK, or the status of the JSON error it has written.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request) (protocol.IntegrationRequest, principal, int) {
	if h.cfg.Secret != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(SecretHeader)), []byte(h.cfg.Secret)) != 1 {
		writeError(w, http.StatusUnauthorized, "missing or wrong "+SecretHeader+" header")
		return protocol.IntegrationRequest{}, principal{}, http.StatusUnauthorized
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.cfg.MaxBodyBytes)+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read body: "+err.Error())
		return protocol.IntegrationRequest{}, principal{}, http.StatusBadRequest
	}
	id, err := statedIdentity(r.Header)
	var who principal
	if err == nil {
		who, err = statedPrincipal(r.Header)
	}
	if err == nil {
		var req protocol.IntegrationRequest
		if req, err = protocol.DecodeIntegrationFrom(body, h.cfg.MaxBodyBytes, id); err == nil {
			return req, who, http.StatusOK
		}
	}
	status := http.StatusBadRequest
	if protocol.IsTooLarge(err) {
		status = http.StatusRequestEntityTooLarge
		err = fmt.Errorf("body is over the limit of %d bytes", h.cfg.MaxBodyBytes)
	}
	msg := err.Error()
	// One line per kind of refusal per interval: a client repeating a bad frame in a loop
	// must not turn into a log line per frame.
	h.warnings.Warn(h.cfg.Logger, fmt.Sprintf("%s %d", r.URL.Path, status), "rejected integration request", "path", r.URL.Path, "status", status,
		"connectionId", clientlog.Clip(r.Header.Get(contract.HeaderConnectionID)), "error", clientlog.Clip(msg))
	writeError(w, status, msg)
	return protocol.IntegrationRequest{}, principal{}, status
}

// statedIdentity reads the identity headers the integrations set from API Gateway's
// $context (request parameters, which a client cannot write). An absent header states
// nothing; a repeated one is refused, since the gateway sets each exactly once.
func statedIdentity(h http.Header) (protocol.Identity, error) {
	var id protocol.Identity
	for _, f := range []struct {
		name string
		dst  **string
	}{
		{contract.HeaderConnectionID, &id.ConnectionID},
		{contract.HeaderSourceIP, &id.SourceIP},
		{contract.HeaderUserAgent, &id.UserAgent},
	} {
		switch v := h.Values(f.name); len(v) {
		case 0:
		case 1:
			*f.dst = &v[0]
		default:
			return protocol.Identity{}, fmt.Errorf("the %s header appears %d times", f.name, len(v))
		}
	}
	return id, nil
}

// principal is who $connect's authorization admitted, as the gateway states it.
type principal struct {
	principal  string
	authorizer map[string]string // lower-case context keys; nil without any
}

// statedPrincipal reads the principal and the authorizer's context from the headers the
// integrations map from $context.authorizer (or $context.identity.userArn with IAM). API
// Gateway keeps an authorized connection's authorizer context for its lifetime and states
// it on every route, so the server needs no memory of $connect: any task can serve any
// request. Each header is set once by the gateway; a repeated one, more than
// MaxAuthorizerKeys context keys or more than MaxAuthorizerBytes in all are refused. An
// empty value states nothing (a context key the authorizer did not return).
func statedPrincipal(h http.Header) (principal, error) {
	var who principal
	size := 0
	for name, values := range h {
		key, isContext := strings.CutPrefix(name, contract.HeaderAuthorizerPrefix)
		if name != contract.HeaderPrincipal && (!isContext || key == "") {
			continue
		}
		if len(values) > 1 {
			return principal{}, fmt.Errorf("the %s header appears %d times", name, len(values))
		}
		size += len(values[0])
		if values[0] == "" {
			continue
		}
		if !isContext {
			who.principal = values[0]
			continue
		}
		if who.authorizer == nil {
			who.authorizer = map[string]string{}
		}
		key = strings.ToLower(key)
		if _, dup := who.authorizer[key]; dup {
			return principal{}, fmt.Errorf("the %s header appears 2 times", name)
		}
		who.authorizer[key] = values[0]
	}
	if n := len(who.authorizer); n > MaxAuthorizerKeys {
		return principal{}, fmt.Errorf("%d %s headers, over the limit of %d", n, contract.HeaderAuthorizerPrefix, MaxAuthorizerKeys)
	}
	if size > MaxAuthorizerBytes {
		return principal{}, fmt.Errorf("the %s and %s headers hold %d bytes, over the limit of %d", contract.HeaderPrincipal, contract.HeaderAuthorizerPrefix, size, MaxAuthorizerBytes)
	}
	return who, nil
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// Shutdown says how Serve stops once its context ends.
type Shutdown struct {
	// Unready runs first, while the listener still accepts: it makes the health check fail
	// (Handler.SetDraining) and returns once load balancers had time to see that, so they
	// stop sending work before connections are refused. Optional.
	Unready func()
	// Timeout bounds everything after Unready: closing the listener, finishing the requests
	// in flight, and the Steps. Default: 25 s.
	Timeout time.Duration
	// Steps run in order once the listener is closed (typically the runtime's Drain, then the
	// push client's Flush and Close). Every step runs even when an earlier one failed.
	Steps []func(context.Context) error
}

// defaultShutdownTimeout fits in ECS's 30 s between SIGTERM and SIGKILL.
const defaultShutdownTimeout = 25 * time.Second

// Serve runs h on ln until ctx ends (for example on SIGTERM), then shuts down gracefully as
// sd says: Unready (the health check turns 503 and stays so for the drain window), then the
// listener closes, in-flight requests finish, and each step runs, all within sd.Timeout. h
// is any handler (a Handler, or one wrapping it), so Serve also serves routes of the caller.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, sd Shutdown) error {
	if sd.Timeout <= 0 {
		sd.Timeout = defaultShutdownTimeout
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if sd.Unready != nil {
		sd.Unready()
	}
	sctx, cancel := context.WithTimeout(context.Background(), sd.Timeout)
	defer cancel()
	errs := []error{}
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
	}
	for _, step := range sd.Steps {
		if err := step(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
