package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

func init() {
	commands["gateway"] = command{
		summary: "run the local API Gateway WebSocket emulator on a CloudFormation template",
		run:     runGateway,
	}
}

// gatewayOptions are the flags shared by `wsgate gateway` and `wsgate dev`.
type gatewayOptions struct {
	template           string
	backend            string
	addr               string
	stage              string
	api                string
	idleTimeout        time.Duration
	maxConnectionTime  time.Duration
	integrationTimeout time.Duration
	fault              string
	lambdaEndpoint     string
	listener           net.Listener // already listening on addr (wsgate dev claims it early)
	accessLog          string
	verbose            bool
	secrets            secretFlag // values of the template's secretsmanager dynamic references
}

func (o *gatewayOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:3000", "gateway listen address (HOST:PORT; port 0 picks a free one)")
	fs.StringVar(&o.stage, "stage", "", "stage to serve (default: the template's stage, or prod when it has none)")
	fs.StringVar(&o.api, "api", "", "logical id of the API when the template has several")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", localgateway.DefaultIdle, "close connections idle this long")
	fs.DurationVar(&o.maxConnectionTime, "max-connection-time", localgateway.DefaultMaxLife, "close connections open this long")
	fs.DurationVar(&o.integrationTimeout, "integration-timeout", 0, "cap every integration timeout (default: the template's, at most 29s)")
	fs.StringVar(&o.fault, "fault", "", "inject @connections faults, e.g. status=429,rate=0.5,count=10,latency=200ms,methods=POST")
	fs.StringVar(&o.accessLog, "access-log", "-", "file for access-log lines in the stage's format (- for stderr, empty to disable)")
	fs.StringVar(&o.lambdaEndpoint, "lambda-endpoint", "", "Lambda Invoke API for AWS_PROXY/AWS integrations and authorizers, e.g. http://127.0.0.1:3001 (sam local start-lambda)")
	fs.BoolVar(&o.verbose, "v", false, "print the execution log on stderr")
	fs.Var(&o.secrets, "secret", "value of a secret the template refers to ({{resolve:secretsmanager:ID:…}}), as ID=VALUE with ID its logical id, name or ARN; repeatable")
}

// secretFlag collects --secret ID=VALUE flags.
type secretFlag map[string]string

func (s *secretFlag) String() string {
	ids := make([]string, 0, len(*s))
	for id := range *s {
		ids = append(ids, id+"=…") // never print a value
	}
	return strings.Join(ids, ",")
}

func (s *secretFlag) Set(v string) error {
	id, value, ok := strings.Cut(v, "=")
	if !ok || id == "" {
		return fmt.Errorf("want ID=VALUE, such as RealtimeIntegrationSecretC6E8562D=s3cret")
	}
	if *s == nil {
		*s = secretFlag{}
	}
	(*s)[id] = value
	return nil
}

const gatewayUsage = `usage: wsgate gateway --template FILE --backend URL [flags]

Serves the WebSocket API a CloudFormation template defines, as API Gateway
would: its routes, integrations (rewritten to --backend), responses and
stage, and the @connections management API with SigV4 checked against the
local credentials. Prints the websocket: and callback: URLs.

Examples:
  wsgate gateway --template cdk.out/WsgateStack.template.json --backend http://127.0.0.1:8080 --secret RealtimeIntegrationSecretC6E8562D=s3cret
  wsgate gateway --template dotnetify-cloudformation-template.yaml --backend http://127.0.0.1:5000 --addr 127.0.0.1:4000
  wsgate gateway --template cdk.out/MyStack.template.json --backend http://127.0.0.1:8080 --fault status=429,rate=0.5

Flags:
`

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wsgate gateway", flag.ContinueOnError)
	var o gatewayOptions
	fs.StringVar(&o.template, "template", "", "CloudFormation template (JSON or YAML) defining the WebSocket API (required)")
	fs.StringVar(&o.backend, "backend", "", "base URL integration URIs are rewritten to, path kept (required)")
	o.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), gatewayUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if o.template == "" || o.backend == "" {
		return usageError{"--template and --backend are required"}
	}
	gw, err := startGateway(o, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "websocket: %s\ncallback: %s\n", gw.websocketURL, gw.callbackURL)
	<-ctx.Done()
	return gw.stop()
}

// runningGateway is a gateway serving on its listener.
type runningGateway struct {
	gateway      *localgateway.Gateway
	server       *http.Server
	websocketURL string
	callbackURL  string
	done         chan error
	closeLog     func()
}

// startGateway loads the template and serves it.
func startGateway(o gatewayOptions, stderr io.Writer) (*runningGateway, error) {
	backend, err := url.Parse(o.backend)
	if err != nil || backend.Scheme == "" || backend.Host == "" {
		return nil, usageError{fmt.Sprintf("--backend %q: want an absolute URL such as http://127.0.0.1:8080", o.backend)}
	}
	creds := localgateway.CredentialsFromEnv()
	apis, err := cfn.Load(o.template, cfn.Options{Region: creds.Region, Secrets: o.secrets})
	if err != nil {
		return nil, err
	}
	api, err := chooseAPI(apis, o.api)
	if err != nil {
		return nil, err
	}
	cfg := localgateway.Config{
		API: api, Stage: o.stage, Backend: backend, Credentials: creds,
		IdleTimeout: o.idleTimeout, MaxConnectionTime: o.maxConnectionTime, IntegrationTimeout: o.integrationTimeout,
	}
	if o.lambdaEndpoint != "" {
		u, err := url.Parse(o.lambdaEndpoint)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, usageError{fmt.Sprintf("--lambda-endpoint %q: want an absolute URL such as http://127.0.0.1:3001", o.lambdaEndpoint)}
		}
		cfg.LambdaEndpoint = u
	}
	if o.fault != "" {
		f, err := localgateway.ParseFault(o.fault)
		if err != nil {
			return nil, usageError{err.Error()}
		}
		cfg.Fault = &f
	}
	closeLog := func() {}
	switch o.accessLog {
	case "":
	case "-":
		cfg.AccessLog = stderr
	default:
		f, err := os.OpenFile(o.accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		cfg.AccessLog = f
		closeLog = func() { f.Close() }
	}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	g, err := localgateway.New(cfg)
	if err != nil {
		closeLog()
		return nil, err
	}
	l := o.listener
	if l == nil {
		if l, err = localgateway.Listen(o.addr); err != nil {
			closeLog()
			return nil, err
		}
	}
	rg := &runningGateway{gateway: g, server: &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: localgateway.MaxHeaderBytes}, done: make(chan error, 1), closeLog: closeLog}
	rg.websocketURL, rg.callbackURL = g.URLs(l)
	go func() { rg.done <- rg.server.Serve(l) }()
	return rg, nil
}

// stop closes client sockets (running $disconnect) and the listener.
func (rg *runningGateway) stop() error {
	defer rg.closeLog()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = rg.gateway.Shutdown(ctx)
	err := rg.server.Shutdown(ctx)
	if serveErr := <-rg.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return err
}

func chooseAPI(apis []*cfn.API, id string) (*cfn.API, error) {
	if id == "" {
		if len(apis) == 1 {
			return apis[0], nil
		}
		ids := make([]string, len(apis))
		for i, a := range apis {
			ids[i] = a.ID
		}
		return nil, usageError{"the template has several WebSocket APIs; choose one with --api: " + strings.Join(ids, ", ")}
	}
	for _, a := range apis {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, usageError{fmt.Sprintf("--api %s: no such WebSocket API in the template", id)}
}
