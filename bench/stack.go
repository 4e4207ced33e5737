package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/internal/stacktemplate"
	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/vm"
)

// stackTemplate is WsgateStack as the CDK app synthesizes it, so a run needs no synth.
var stackTemplate = stacktemplate.JSON

// stack is the local system in one process: the local gateway on 127.0.0.1 in front of
// the integration server (view-model runtime, push client), wired by the same contracts
// as `wsgate dev`: template, stage, local credentials, integration paths.
type stack struct {
	gw         *localgateway.Gateway // in-process gateway, or nil
	gwSrv      *http.Server
	gwProc     *gatewayProc // gateway process, or nil
	WS         string       // ws://127.0.0.1:PORT/prod
	Callback   string       // http://127.0.0.1:PORT/prod
	admin      string       // http://127.0.0.1:PORT/_wsgate/
	serverLn   string       // the server's address, kept across restarts
	server     *serverProc
	feed       atomic.Pointer[feedVM]
	pushCfg    push.Config
	liveChart  time.Duration
	transports []*http.Transport // of every push client made, closed at the end
}

// serverProc is one life of the integration server. Unlike the tests and the other
// benchmarks it is wired by hand rather than by server.New, on purpose: the fan-out
// scenario swaps the push client under the running runtime (a paced one, same sessions)
// and the load scenario counts the frames the view models produced before the push client
// sees them, and server.New hides both seams.
type serverProc struct {
	rt     *vm.Runtime
	pusher *switchSender
	main   *push.Client
	srv    *http.Server
}

// switchSender lets a scenario swap the push client (e.g. for a paced one) under a
// running runtime, and counts the frames the view models produced.
type switchSender struct {
	p        atomic.Pointer[push.Client]
	produced atomic.Int64
}

func (s *switchSender) Send(connID string, frame []byte) {
	s.produced.Add(1)
	s.p.Load().Send(connID, frame)
}

// CloseConnection closes through the current push client.
func (s *switchSender) CloseConnection(connID string) { s.p.Load().CloseConnection(connID) }

// stackOptions configure startStack.
type stackOptions struct {
	// Push configures the server's push client; CallbackURL, Region, Credentials and OnGone
	// are filled in.
	Push push.Config
	// LiveChartInterval is LiveChart's push period (default one second).
	LiveChartInterval time.Duration
	// GatewayCommand runs the gateway as a process (e.g. {"/path/wsgate", "gateway"});
	// empty runs it in this process.
	GatewayCommand []string
}

// startStack starts the server and the gateway on free 127.0.0.1 ports.
func startStack(o stackOptions) (*stack, error) {
	secrets, err := cfn.SameSecret(stackTemplate, cfn.Options{Region: localRegion}, localIntegrationSecret)
	if err != nil {
		return nil, fmt.Errorf("stack template: %w", err)
	}
	apis, err := cfn.Parse(stackTemplate, cfn.Options{Region: localRegion, Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("stack template: %w", err)
	}
	if len(apis) != 1 {
		return nil, fmt.Errorf("stack template has %d WebSocket APIs, want 1", len(apis))
	}
	api := apis[0]
	// The stage's throttle (1,000 rps) is a deployment setting, not wsgate's cost: the
	// benchmarks measure the software, so it is lifted.
	for _, st := range api.Stages {
		st.DefaultSettings = cfn.RouteSettings{}
		st.RouteSettings = map[string]cfn.RouteSettings{}
	}
	serverLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("server listen: %w", err)
	}
	backend := "http://" + serverLn.Addr().String()
	s := &stack{serverLn: serverLn.Addr().String(), pushCfg: o.Push, liveChart: o.LiveChartInterval}
	if len(o.GatewayCommand) > 0 {
		s.gwProc, s.WS, s.Callback, err = startGatewayProc(o.GatewayCommand, backend)
		if err != nil {
			serverLn.Close()
			return nil, err
		}
		s.admin = strings.TrimSuffix(s.Callback, "/prod") + "/_wsgate/"
	} else if err := s.startGatewayHere(api, backend); err != nil {
		serverLn.Close()
		return nil, err
	}
	if err := s.startServer(serverLn); err != nil {
		s.stopGateway()
		return nil, err
	}
	return s, nil
}

// startGatewayHere serves the gateway from this process on a free port.
func (s *stack) startGatewayHere(api *cfn.API, backend string) error {
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("gateway listen: %w", err)
	}
	u, _ := url.Parse(backend)
	s.gw, err = localgateway.New(localgateway.Config{
		API: api, Stage: "prod", Backend: u,
		Credentials: localgateway.Credentials{AccessKeyID: localAccessKey, SecretAccessKey: localSecretKey, Region: localRegion},
		Client:      &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}},
	})
	if err != nil {
		gwLn.Close()
		return err
	}
	s.gwSrv = &http.Server{Handler: s.gw, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: localgateway.MaxHeaderBytes}
	s.WS, s.Callback = s.gw.URLs(gwLn)
	s.admin = "http://" + gwLn.Addr().String() + "/_wsgate/"
	go func() { _ = s.gwSrv.Serve(gwLn) }()
	return nil
}

// stopGateway closes every client socket (1001) and stops the gateway.
func (s *stack) stopGateway() {
	if s.gwProc != nil {
		s.gwProc.stop()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.gw.Shutdown(ctx)
	_ = s.gwSrv.Close()
}

// newPusher returns a push client to the gateway configured like the stack's.
func (s *stack) newPusher(cfg push.Config, onGone func(string)) (*push.Client, error) {
	cfg.CallbackURL, cfg.Region = s.Callback, localRegion
	cfg.Credentials = credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, "")
	cfg.OnGone = onGone
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	// The push client's own transport, the way push.New builds it by default, kept so that
	// close can drop its idle connections: a connection dialled but never used counts as
	// active in the gateway's graceful shutdown for 5 seconds.
	tr := push.NewTransport(max(cfg.Concurrency, 256))
	cfg.HTTPClient = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	s.transports = append(s.transports, tr)
	return push.New(cfg)
}

// startServer starts a fresh server life on ln: a new runtime with the demo view models
// and the bench feed, a new push client, the integration handler.
func (s *stack) startServer(ln net.Listener) error {
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{LiveChartInterval: s.liveChart}); err != nil {
		return fmt.Errorf("register view models: %w", err)
	}
	if err := registerFeed(reg, &s.feed); err != nil {
		return err
	}
	p := &serverProc{pusher: &switchSender{}}
	main, err := s.newPusher(s.pushCfg, func(id string) { p.rt.Disconnect(context.Background(), id) })
	if err != nil {
		return err
	}
	p.main = main
	p.pusher.p.Store(main)
	p.rt = vm.New(vm.Config{Registry: reg, Sender: p.pusher, Closer: p.pusher, Logger: discardLogger()})
	h := integration.NewHandler(integration.Config{Runtime: p.rt, Secret: localIntegrationSecret, Logger: discardLogger()})
	p.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	s.server = p
	return nil
}

// killServer stops the server the way SIGKILL would: connections cut, state lost,
// queued pushes dropped.
func (s *stack) killServer() {
	p := s.server
	_ = p.srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.main.Close(ctx)
	s.feed.Store(nil)
}

// restartServer starts a new server life on the same address.
func (s *stack) restartServer() error {
	var ln net.Listener
	var err error
	// The old listener's port can take a moment to be free again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", s.serverLn)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	if err != nil {
		return fmt.Errorf("server listen again on %s: %w", s.serverLn, err)
	}
	return s.startServer(ln)
}

// close stops everything: the server first (nothing left to push), then the gateway.
func (s *stack) close() {
	_ = s.server.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.server.main.Close(ctx)
	for _, tr := range s.transports {
		tr.CloseIdleConnections()
	}
	s.stopGateway()
}

// setFault sets (or with nil clears) the gateway's @connections fault injection through
// its admin API, as `wsgate gateway` users do.
func (s *stack) setFault(ctx context.Context, f *localgateway.Fault) error {
	method, body := http.MethodDelete, []byte(nil)
	if f != nil {
		method = http.MethodPost
		body, _ = json.Marshal(f)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.admin+"faults", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	req.Header.Set(contract.HeaderAdmin, contract.AdminHeaderValue)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fault: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fault: gateway answered %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// feedVM is the fan-out view model: one shared instance whose Seq changes are pushed to
// every member.
type feedVM struct {
	vm.Base
	Seq int
}

const feedVMID = "BenchFeedVM"

func registerFeed(reg *vm.Registry, slot *atomic.Pointer[feedVM]) error {
	return vm.Register(reg, feedVMID, func(*vm.Request) (*feedVM, error) {
		f := &feedVM{}
		slot.Store(f)
		return f, nil
	}, vm.Shared(nil))
}

// publish changes the feed's Seq, which pushes {"Seq":seq} to every member.
func (s *stack) publish(seq int) error {
	f := s.feed.Load()
	if f == nil {
		return errors.New("no client has requested the feed view model")
	}
	f.PushUpdates(func() {
		f.Seq = seq
		f.Changed("Seq")
	})
	return nil
}
