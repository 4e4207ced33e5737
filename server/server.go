// Package server is wsgate's integration server as a library: the HTTP endpoints API
// Gateway's integrations call, the view-model runtime behind them, and the @connections
// client that pushes their state back, wired together.
//
// A program that serves its own view models is one call, like lambda.Start:
//
//	func main() {
//		reg := vm.NewRegistry()
//		vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
//		server.Main(reg)
//	}
//
// New is the one place where the parts meet; Main, the demo binary, `wsgate dev`, the
// benchmarks and the tests all build the server through it.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/metrics"
	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/vm"
)

// DefaultShutdownTimeout bounds the drain after the drain window: with the default window
// (config.DefaultDrainWindow) it ends within ECS's 30 s between SIGTERM and SIGKILL.
const DefaultShutdownTimeout = 20 * time.Second

// Config configures a Server.
type Config struct {
	// Settings are the WSGATE_* settings (config.FromEnv reads them). CallbackURL is
	// required; an empty Region is "us-east-1", a zero limit takes the runtime's or push
	// client's default, and a zero DrainWindow closes the listener at once on shutdown.
	Settings config.Config
	// Registry holds the view-model types. Required.
	Registry *vm.Registry
	// Credentials sign the @connections requests. Default: the AWS SDK's default chain
	// (environment, shared files, the ECS task role), resolved when first needed.
	Credentials aws.CredentialsProvider
	// Logger receives structured logs. Default: slog.Default().
	Logger *slog.Logger
	// HTTPClient sends the @connections requests. Default: a keep-alive client sized to
	// Settings.PushConcurrency.
	HTTPClient *http.Client
	// Authorize runs before every request_vm and update_vm, for every view-model type (see
	// vm.Config.Authorize). Default: allow.
	Authorize vm.AuthorizeFunc
	// ShutdownTimeout bounds the drain that follows the drain window: finishing requests,
	// queued view-model work and pushes, and closing the clients' connections. Default:
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// BaseBackoff and MaxBackoff shape the push client's retries on 429 and 5xx. Defaults:
	// the push client's (50 ms, 5 s).
	BaseBackoff, MaxBackoff time.Duration
	// Clock paces the warnings caused by clients (one line per kind per interval) and stamps
	// the metrics records. Default: time.Now.
	Clock func() time.Time
	// MetricsOutput receives the metrics as CloudWatch Embedded Metric Format records, one
	// JSON object per line, every Settings.MetricsInterval while Serve runs and once more
	// after its drain (none when the interval is 0). Default: os.Stdout, which the awslogs
	// driver turns into CloudWatch metrics; Main logs to stderr, so the two never share a
	// line.
	MetricsOutput io.Writer
	// MetricsListener, when set, is where Serve serves the Prometheus endpoint (GET
	// /metrics) instead of a listener on Settings.MetricsAddr.
	MetricsListener net.Listener
}

// Server is the integration server: its handler, runtime and push client.
type Server struct {
	cfg     Config
	log     *slog.Logger
	push    *push.Client
	runtime *vm.Runtime
	handler *integration.Handler
	metrics *metrics.Metrics
	emitter *metrics.Emitter // nil when Settings.MetricsInterval is 0
	// after starts the drain window; tests replace time.After to end it when they choose.
	after func(time.Duration) <-chan time.Time
}

// Stats are the server's counters.
type Stats struct {
	// Sessions is the number of connections the runtime holds a session for.
	Sessions int
	// Push counts the push client's outcomes.
	Push push.Stats
	// Limits counts what the runtime refused because a limit was crossed.
	Limits vm.Stats
}

// New wires a server: the push client, the runtime sending through it, and the integration
// handler feeding the runtime. It serves nothing until Serve or Handler is used.
func New(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		return nil, errors.New("server: Registry is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Settings.Region == "" {
		cfg.Settings.Region = "us-east-1"
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Credentials == nil {
		creds, err := defaultCredentials(cfg.Settings.Region)
		if err != nil {
			return nil, err
		}
		cfg.Credentials = creds
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Settings.ServiceName == "" {
		cfg.Settings.ServiceName = config.DefaultServiceName
	}
	s := &Server{cfg: cfg, log: cfg.Logger, after: time.After}
	s.metrics = metrics.New(s.readings)
	if cfg.Settings.MetricsInterval > 0 {
		out := cfg.MetricsOutput
		if out == nil {
			out = os.Stdout
		}
		s.emitter = s.metrics.NewEmitter(metrics.EmitterConfig{Service: cfg.Settings.ServiceName, Out: out, Now: cfg.Clock})
	}
	st := cfg.Settings
	pc, err := push.New(push.Config{
		CallbackURL: st.CallbackURL,
		Region:      st.Region,
		Credentials: cfg.Credentials,
		HTTPClient:  cfg.HTTPClient,
		Rate:        st.PushRate,
		Burst:       st.PushBurst,
		Concurrency: st.PushConcurrency,
		BaseBackoff: cfg.BaseBackoff,
		MaxBackoff:  cfg.MaxBackoff,
		// A client whose frames pile up (throttled, or a view model pushing faster than the
		// gateway takes) is closed once its queue crosses a bound, so it cannot take the
		// task's memory.
		MaxQueuedBytes:  st.MaxQueuedBytes,
		MaxQueuedFrames: st.MaxQueuedFrames,
		Logger:          cfg.Logger,
		OnGone:          s.connectionGone,
		OnSent:          s.metrics.ObservePush,
		OnPaced:         s.metrics.ObservePacerWait,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.push = pc
	s.runtime = vm.New(vm.Config{
		Registry: cfg.Registry, Sender: pc, Closer: pc, Logger: cfg.Logger, Authorize: cfg.Authorize,
		MaxVMIDBytes: st.MaxVMIDBytes, MaxVMDepth: st.MaxVMDepth, MaxVMsPerConnection: st.MaxVMsPerConnection,
		MaxPendingBytes: st.MaxPendingBytes,
	})
	s.handler = integration.NewHandler(integration.Config{Runtime: s.runtime, Secret: st.IntegrationSecret, Logger: cfg.Logger, Now: cfg.Clock,
		Observe: s.metrics.ObserveRequest})
	return s, nil
}

// connectionGone is the push client's OnGone: the gateway answered 410 for a connection, or
// the client closed one whose frames it could not deliver, so its view models are disposed.
// The Server is where the push client and the runtime meet: the runtime exists before any
// frame is sent, so a report never finds it missing.
func (s *Server) connectionGone(connID string) {
	s.runtime.Disconnect(context.Background(), connID)
}

// defaultCredentials loads the AWS SDK's default credential chain. Nothing is fetched here:
// the chain is consulted when the first push is signed.
func defaultCredentials(region string) (aws.CredentialsProvider, error) {
	ac, err := awsconfig.LoadDefaultConfig(context.Background(), awsconfig.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("server: load AWS configuration: %w", err)
	}
	return ac.Credentials, nil
}

// Handler returns the integration endpoints and /healthz, for embedding the server in
// another HTTP server or in tests. Whoever serves it without Serve calls Close when done.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the handler on ln until ctx ends (Main cancels it on SIGTERM or SIGINT), then
// shuts down gracefully: /healthz answers 503 for Settings.DrainWindow while the listener
// still accepts, so load balancers see the task leave; then the listener closes, requests in
// flight finish, queued view-model work and pushes complete, and the clients' connections
// are closed (DELETE @connections/{id}) so that they reconnect and request their view models
// again from a server that has them. All of that after the window takes at most
// ShutdownTimeout. Serve is called once.
//
// While it serves, the metrics go out as configured (see MetricsOutput and
// MetricsListener); the last record, written after the drain, counts the drain too.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.log.Info("listening", "addr", ln.Addr().String(), "callbackUrl", s.cfg.Settings.CallbackURL, "region", s.cfg.Settings.Region)
	stopMetrics, err := s.startMetrics(ctx)
	if err != nil {
		return err
	}
	err = integration.Serve(ctx, ln, s.handler, integration.Shutdown{
		Unready: s.unready,
		Timeout: s.cfg.ShutdownTimeout,
		Steps:   []func(context.Context) error{s.runtime.Drain, s.push.Flush, s.closeClients, s.push.Close},
	})
	s.logStats()
	return errors.Join(err, stopMetrics())
}

// startMetrics starts the Prometheus endpoint and the EMF records' interval. The function
// it returns stops the interval, writes the last record and closes the endpoint.
func (s *Server) startMetrics(ctx context.Context) (stop func() error, err error) {
	prom, err := s.servePrometheus()
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	loopCtx, cancel := context.WithCancel(ctx)
	if s.emitter != nil {
		ticker := time.NewTicker(s.cfg.Settings.MetricsInterval)
		wg.Go(func() {
			defer ticker.Stop()
			s.emitter.Run(loopCtx, ticker.C, s.metricsFailed)
		})
	}
	return func() error {
		cancel()
		wg.Wait()
		if err := s.EmitMetrics(); err != nil {
			s.metricsFailed(err)
		}
		if prom != nil {
			return prom.Close()
		}
		return nil
	}, nil
}

// servePrometheus serves GET /metrics on MetricsListener or Settings.MetricsAddr, if any.
func (s *Server) servePrometheus() (*http.Server, error) {
	ln := s.cfg.MetricsListener
	if ln == nil && s.cfg.Settings.MetricsAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Settings.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics endpoint: listen on %s: %w", s.cfg.Settings.MetricsAddr, err)
		}
	}
	if ln == nil {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics endpoint stopped", "error", err)
		}
	}()
	s.log.Info("serving metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return srv, nil
}

func (s *Server) metricsFailed(err error) { s.log.Warn("metrics not written", "error", err) }

// EmitMetrics writes the metrics' EMF records now: what was counted since the previous
// record. It does nothing when Settings.MetricsInterval is 0. Serve calls it on the interval
// and after the drain; a server used through Handler calls it when it chooses.
func (s *Server) EmitMetrics() error {
	if s.emitter == nil {
		return nil
	}
	return s.emitter.Emit()
}

// MetricsHandler is the Prometheus endpoint, for serving it elsewhere than on
// Settings.MetricsAddr. Never serve it on the integration's port: only API Gateway may reach
// that one.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.Handler() }

// Metrics returns every metric as it is now, counters as totals since New.
func (s *Server) Metrics() metrics.Snapshot { return s.metrics.Snapshot() }

// readings are the figures the runtime and the push client keep, for the metrics.
func (s *Server) readings() metrics.Readings {
	ps, vs := s.push.Stats(), s.runtime.Stats()
	r := metrics.Readings{
		Sessions: s.runtime.Sessions(), ViewModels: s.runtime.ViewModels(),
		PushesSent: ps.Sent, PushesRetried: ps.Retried, PushesGone: ps.Gone, PushesFailed: ps.Failed, PushesDropped: ps.Dropped,
	}
	r.LimitRefusals[metrics.LimitVMIDBytes] = vs.VMIDTooLong
	r.LimitRefusals[metrics.LimitVMDepth] = vs.VMTooDeep
	r.LimitRefusals[metrics.LimitVMsPerConnection] = vs.TooManyVMs
	r.LimitRefusals[metrics.LimitPendingBytes] = vs.BacklogFull
	r.LimitRefusals[metrics.LimitFrameBytes] = vs.FrameTooLarge
	r.LimitRefusals[metrics.LimitPushQueue] = ps.Overflow
	return r
}

// unready turns /healthz to 503 and waits out the drain window.
func (s *Server) unready() {
	s.handler.SetDraining()
	if w := s.cfg.Settings.DrainWindow; w > 0 {
		s.log.Info("draining", "window", w.String())
		<-s.after(w)
	}
}

// closeClients closes every connection the runtime holds: the view models live in this
// process only, so a client left connected would talk to a server that forgot it.
func (s *Server) closeClients(ctx context.Context) error {
	return s.push.DisconnectAll(ctx, s.runtime.Connections())
}

func (s *Server) logStats() {
	st := s.push.Stats()
	s.log.Info("stopped", "sent", st.Sent, "retried", st.Retried, "gone", st.Gone, "failed", st.Failed, "dropped", st.Dropped, "closed", st.Closed,
		"gaveUp", st.GaveUp, "tooLarge", st.TooLarge, "refused", st.Refused, "maybeDelivered", st.Ambiguous, "queueOverflow", st.Overflow)
	vs := s.runtime.Stats()
	s.log.Info("view-model limits crossed", "vmIdTooLong", vs.VMIDTooLong, "vmTooDeep", vs.VMTooDeep, "tooManyVMs", vs.TooManyVMs, "frameTooLarge", vs.FrameTooLarge, "backlogFull", vs.BacklogFull)
}

// Flush waits until every message queued so far was handled and every frame it produced
// was sent or given up, or ctx ends.
func (s *Server) Flush(ctx context.Context) error {
	if err := s.runtime.Drain(ctx); err != nil {
		return err
	}
	return s.push.Flush(ctx)
}

// Close stops a server that was used through Handler: it disposes every view model (leave
// and dispose hooks run), then sends what is queued and stops the push client, or gives up
// when ctx ends. It does not close the clients' connections. After Serve there is nothing
// left to close.
func (s *Server) Close(ctx context.Context) error {
	return errors.Join(s.runtime.Close(ctx), s.push.Close(ctx))
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{Sessions: s.runtime.Sessions(), Push: s.push.Stats(), Limits: s.runtime.Stats()}
}
