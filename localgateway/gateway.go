// Package localgateway emulates an Amazon API Gateway WebSocket API on one
// machine, from the API's CloudFormation template (see package cfn): clients
// connect to ws://HOST:PORT/<stage>, routes run their HTTP, HTTP_PROXY or
// MOCK integrations against a local backend, and the backend answers
// through the @connections management API at http://HOST:PORT/<stage>,
// signed with SigV4 and the local credentials.
//
// Behaviour, limits and error frames follow the real service: the upgrade
// waits for $connect, frames over 32 KiB or messages over 128 KiB close with
// 1009, binary frames with 1003, idle and maximum connection times apply,
// integration failures send the service's error frames.
package localgateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/serial"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// Service limits (see the API Gateway quotas for WebSocket APIs).
const (
	MaxFrameSize   = 32 << 10  // bytes in one client frame
	MaxMessageSize = 128 << 10 // bytes in one client message or PostToConnection
	MaxURLLength   = 4096      // characters of a request's target (path and query)
	// MaxHeaderBytes bounds the request line and header values of every
	// request. It is API Gateway's quota for HTTP APIs; the WebSocket quotas
	// name none, and this keeps a handshake's headers, which reach $connect
	// and authorizer events, bounded. Servers of the gateway should set
	// http.Server.MaxHeaderBytes to it so larger headers are not even read.
	MaxHeaderBytes = 10240
	DefaultIdle    = 10 * time.Minute
	DefaultMaxLife = 2 * time.Hour
	// DefaultMaxPendingBytes bounds a connection's messages that wait for
	// (or are in) their integration: eight messages of the maximum size.
	DefaultMaxPendingBytes = 8 * MaxMessageSize
)

// Local credentials: environment names and defaults (package contract holds them, so the
// server, the CLI and the benchmarks agree).
const (
	EnvAccessKeyID     = contract.EnvLocalAccessKeyID
	EnvSecretAccessKey = contract.EnvLocalSecretAccessKey
	EnvRegion          = contract.EnvLocalRegion

	DefaultAccessKeyID     = contract.DefaultLocalAccessKeyID
	DefaultSecretAccessKey = contract.DefaultLocalSecretAccessKey
	DefaultRegion          = contract.DefaultLocalRegion
)

// Credentials are the access key @connections callers must sign with.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
}

// CredentialsFromEnv reads WSGATE_LOCAL_ACCESS_KEY_ID,
// WSGATE_LOCAL_SECRET_ACCESS_KEY and WSGATE_LOCAL_REGION, with the
// documented defaults for unset variables.
func CredentialsFromEnv() Credentials {
	get := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	return Credentials{
		AccessKeyID:     get(EnvAccessKeyID, DefaultAccessKeyID),
		SecretAccessKey: get(EnvSecretAccessKey, DefaultSecretAccessKey),
		Region:          get(EnvRegion, DefaultRegion),
	}
}

// Config configures a Gateway.
type Config struct {
	API     *cfn.API // the WebSocket API to serve
	Stage   string   // stage name; "" = the template's only stage, or "prod"
	Backend *url.URL // base URL every integration URI is rewritten to (path kept)
	// LambdaEndpoint serves the Lambda Invoke API (POST
	// /2015-03-31/functions/{name}/invocations), e.g. `sam local
	// start-lambda`; needed for AWS_PROXY and AWS integrations and
	// REQUEST authorizers.
	LambdaEndpoint *url.URL
	Credentials    Credentials // zero: CredentialsFromEnv()

	IdleTimeout        time.Duration // zero: 10 minutes
	MaxConnectionTime  time.Duration // zero: 2 hours
	IntegrationTimeout time.Duration // caps every integration's TimeoutInMillis; zero: no cap
	// MaxPendingBytes bounds the bytes of one connection's messages not yet
	// answered by their integrations; past it the gateway stops reading that
	// socket until they are (TCP then slows the client). Zero: 1 MiB.
	MaxPendingBytes int

	Fault     *Fault       // initial @connections fault injection; nil: none
	AccessLog io.Writer    // where access-log lines go when the stage has a format; nil: discarded
	Logger    *slog.Logger // execution log; nil: discarded
	Client    *http.Client // for integrations; nil: a client with keep-alive
}

// Gateway serves one stage of one WebSocket API. It is an http.Handler.
type Gateway struct {
	cfg      Config
	api      *cfn.API
	stage    *cfn.Stage
	verifier *sigv4.Verifier
	log      *slog.Logger
	client   *http.Client
	throttle *throttle
	faults   *faults
	access   *accessLog

	// readerWaits, when set, is called each time a connection's reader
	// stops for its pending messages (tests observe the bound with it).
	readerWaits atomic.Pointer[func(*conn)]

	mu      sync.RWMutex
	conns   map[string]*conn
	closing bool           // Shutdown has begun: no new connections
	wg      sync.WaitGroup // handshakes and connection readers
	// lines runs each connection's integration calls ($default, routes,
	// $disconnect) in order, one at a time; different connections at once.
	lines *serial.Queue[*conn]
}

// track counts a new handshake unless the gateway is shutting down.
func (g *Gateway) track() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// New checks the configuration against the API and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	if cfg.API == nil {
		return nil, errors.New("localgateway: no API")
	}
	if cfg.Backend == nil || cfg.Backend.Scheme == "" || cfg.Backend.Host == "" {
		return nil, errors.New("localgateway: backend must be an absolute URL such as http://127.0.0.1:8080")
	}
	if cfg.Credentials == (Credentials{}) {
		cfg.Credentials = CredentialsFromEnv()
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdle
	}
	if cfg.MaxConnectionTime == 0 {
		cfg.MaxConnectionTime = DefaultMaxLife
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	stage, err := pickStage(cfg.API, cfg.Stage)
	if err != nil {
		return nil, err
	}
	if err := checkRoutes(cfg.API, cfg.LambdaEndpoint != nil); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg: cfg, api: cfg.API, stage: stage, conns: map[string]*conn{},
		log: cfg.Logger, client: cfg.Client,
		throttle: newThrottle(stage),
		faults:   &faults{},
		access:   &accessLog{format: stage.AccessLogFormat, w: cfg.AccessLog},
		// Idle: a busy gateway reuses the goroutines of its integration calls.
		lines: serial.New(serial.Options[*conn]{Idle: 64}),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.client == nil {
		g.client = &http.Client{Transport: &http.Transport{
			Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		}}
	}
	creds := cfg.Credentials
	g.verifier = &sigv4.Verifier{
		Region: creds.Region, Service: "execute-api",
		Lookup: func(id string) (string, bool) {
			return creds.SecretAccessKey, id == creds.AccessKeyID
		},
	}
	if cfg.Fault != nil {
		g.faults.set(*cfg.Fault)
	}
	return g, nil
}

// pickStage returns the template's stage called name, or the only one, or
// a stage called name (default "prod") with no settings when the template
// has none (dotNetify's template leaves stages to the console).
func pickStage(api *cfn.API, name string) (*cfn.Stage, error) {
	for _, s := range api.Stages {
		if name == "" || s.Name == name {
			if name == "" && len(api.Stages) > 1 {
				break
			}
			return s, nil
		}
	}
	if len(api.Stages) > 0 {
		names := make([]string, len(api.Stages))
		for i, s := range api.Stages {
			names[i] = s.Name
		}
		if name == "" {
			return nil, fmt.Errorf("localgateway: API %s has several stages (%s); choose one", api.ID, strings.Join(names, ", "))
		}
		return nil, fmt.Errorf("localgateway: API %s has no stage %q (it has %s)", api.ID, name, strings.Join(names, ", "))
	}
	if name == "" {
		name = "prod"
	}
	if len(name) > 128 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return nil, fmt.Errorf("localgateway: stage name %q must be 1–128 characters of [A-Za-z0-9_-]", name)
	}
	return &cfn.Stage{Name: name, Variables: map[string]string{}, RouteSettings: map[string]cfn.RouteSettings{}}, nil
}

// checkRoutes refuses what the gateway cannot run, naming the route: Lambda
// functions without a Lambda endpoint.
func checkRoutes(api *cfn.API, haveLambda bool) error {
	if haveLambda {
		return nil
	}
	keys := make([]string, 0, len(api.Routes))
	for key := range api.Routes {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		r := api.Routes[key]
		if r.Authorizer != nil {
			return fmt.Errorf("localgateway: route %s (%s): authorizer %s is Lambda function %s; give a Lambda endpoint (--lambda-endpoint, e.g. sam local start-lambda)", key, r.ID, r.Authorizer.ID, r.Authorizer.Function)
		}
		if in := r.Integration; in != nil && in.Function != "" {
			return fmt.Errorf("localgateway: route %s (%s): %s integration %s calls Lambda function %s; give a Lambda endpoint (--lambda-endpoint, e.g. sam local start-lambda)", key, r.ID, in.Type, in.ID, in.Function)
		}
	}
	return nil
}

// StageName is the stage this gateway serves.
func (g *Gateway) StageName() string { return g.stage.Name }

// ServeHTTP routes client upgrades, @connections calls and the admin API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(r.RequestURI) > MaxURLLength {
		writeError(w, http.StatusRequestURITooLong, "BadRequestException", "Request-URI Too Long")
		return
	}
	if requestHeadSize(r) > MaxHeaderBytes {
		writeError(w, http.StatusRequestHeaderFieldsTooLarge, "BadRequestException", "Request Header Fields Too Large")
		return
	}
	path := r.URL.Path
	if strings.HasPrefix(path, adminPrefix) {
		g.serveAdmin(w, r)
		return
	}
	if id, ok := g.connectionPath(path); ok {
		g.serveManagement(w, r, id)
		return
	}
	if path == "/"+g.stage.Name || path == "/"+g.stage.Name+"/" {
		g.serveUpgrade(w, r)
		return
	}
	writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
}

// requestHeadSize is the size of the request line and the header values,
// the measure of API Gateway's header quota.
func requestHeadSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host)
	for _, values := range r.Header {
		for _, v := range values {
			n += len(v)
		}
	}
	return n
}

// connectionPath extracts the id of /{stage}/@connections/{id} or
// /@connections/{id}.
func (g *Gateway) connectionPath(path string) (string, bool) {
	rest := strings.TrimPrefix(path, "/"+g.stage.Name)
	id, ok := strings.CutPrefix(rest, "/@connections/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	return id, true
}

// Shutdown closes every client socket with 1001 "Going away", as a
// deployment does, and waits for their $disconnect calls or ctx.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
	g.DropAll()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The readers have ended, so every $disconnect is queued.
	if err := g.lines.Drain(ctx); err != nil {
		return ctx.Err()
	}
	return nil
}

// DropAll closes every client socket with 1001 "Going away" and returns how
// many were open.
func (g *Gateway) DropAll() int {
	g.mu.RLock()
	all := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		if c.state.Load() == connStateOpen { // pending ones finish their handshake first
			all = append(all, c)
		}
	}
	g.mu.RUnlock()
	n := 0
	for _, c := range all {
		if c.closeWith(closeGoingAway, "Going away") {
			n++
		}
	}
	return n
}

// ConnectionCount returns the number of connections, pending or open.
func (g *Gateway) ConnectionCount() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.conns)
}

func (g *Gateway) lookup(id string) *conn {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.conns[id]
}

func (g *Gateway) register(c *conn) {
	g.mu.Lock()
	g.conns[c.id] = c
	g.mu.Unlock()
}

func (g *Gateway) unregister(c *conn) {
	g.mu.Lock()
	delete(g.conns, c.id)
	g.mu.Unlock()
}

// Listen opens a TCP listener; a port in use is a one-line error.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && strings.Contains(err.Error(), "address already in use") {
			return nil, fmt.Errorf("cannot listen on %s: address already in use", addr)
		}
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return l, nil
}

// URLs returns the client and callback URLs of the stage on a listener.
func (g *Gateway) URLs(l net.Listener) (websocket, callback string) {
	host := l.Addr().String()
	return "ws://" + host + "/" + g.stage.Name, "http://" + host + "/" + g.stage.Name
}
