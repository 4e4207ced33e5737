package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

func init() {
	commands["dev"] = command{
		summary: "synthesize the stack, run the local gateway, the server and the demo page",
		run:     runDev,
	}
}

// Contracts with the CDK app and the server (docs/architecture.md).
const (
	stackName       = "WsgateStack"
	serverPackage   = "./server/cmd/wsgate-server"
	webDistDir      = "examples/web/dist"
	serverReadyWait = 30 * time.Second
)

// devOptions are the flags of `wsgate dev`.
type devOptions struct {
	gatewayOptions
	demoAddr   string
	serverAddr string
	web        string
}

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wsgate dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o devOptions
	o.register(fs)
	fs.StringVar(&o.template, "template", "", "use this template instead of synthesizing the stack")
	fs.StringVar(&o.demoAddr, "demo-addr", "127.0.0.1:3001", "address of the demo page")
	fs.StringVar(&o.serverAddr, "server-addr", "127.0.0.1:0", "address of the wsgate server (port 0 picks a free one)")
	fs.StringVar(&o.web, "web", "", "directory of the built demo page (default: examples/web/dist in the module)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.web == "" {
		o.web = filepath.Join(root, webDistDir)
	}
	if _, err := os.Stat(filepath.Join(o.web, "index.html")); err != nil {
		return fmt.Errorf("demo page not built (%s has no index.html): run scripts/build-web.sh", o.web)
	}
	// Claim both addresses first so a port in use fails before the slow steps.
	if o.listener, err = localgateway.Listen(o.addr); err != nil {
		return err
	}
	defer o.listener.Close()
	demoListener, err := localgateway.Listen(o.demoAddr)
	if err != nil {
		return err
	}
	defer demoListener.Close()
	if o.template == "" {
		if o.template, err = synth(ctx, root, stderr); err != nil {
			return err
		}
	}
	secret, err := o.localSecret()
	if err != nil {
		return err
	}
	serverBin, err := buildServer(ctx, root, stderr)
	if err != nil {
		return err
	}
	if o.serverAddr, err = freeAddr(o.serverAddr); err != nil {
		return err
	}
	o.backend = "http://" + o.serverAddr
	gw, err := startGateway(o.gatewayOptions, stderr)
	if err != nil {
		return err
	}
	defer gw.stop()
	server, err := startServer(serverBin, o.serverAddr, gw.callbackURL, secret, stderr)
	if err != nil {
		return err
	}
	defer server.stop()
	if err := waitHealthy(ctx, o.serverAddr, server.exited); err != nil {
		return err
	}
	demo := &http.Server{Handler: demoHandler(o.web, gw.websocketURL), ReadHeaderTimeout: 10 * time.Second}
	go demo.Serve(demoListener)
	defer demo.Close()
	fmt.Fprintf(stdout, "websocket: %s\ncallback: %s\ndemo: http://%s/\n", gw.websocketURL, gw.callbackURL, demoListener.Addr())
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr, "==> stopping")
		return nil
	case err := <-server.exited:
		return fmt.Errorf("the server stopped: %v", err)
	}
}

// localSecret gives the secret the template refers to (the integration
// secret the integrations send in X-Wsgate-Secret) a value generated for
// this run unless --secret gave one, and returns it for the server, so the
// gateway sends what the server requires, as on AWS. A template that
// sends no secret (dotNetify's) gets a server that requires none.
func (o *devOptions) localSecret() (string, error) {
	data, err := os.ReadFile(o.template)
	if err != nil {
		return "", fmt.Errorf("read template: %w", err)
	}
	ids, err := cfn.SecretReferences(data, cfn.Options{})
	if err != nil {
		return "", fmt.Errorf("template %s: %w", o.template, err)
	}
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("template %s refers to %d secrets (%s); wsgate dev hands the server one integration secret", o.template, len(ids), strings.Join(ids, ", "))
	}
	if v, given := o.secrets[ids[0]]; given {
		return v, nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("integration secret: %w", err)
	}
	if o.secrets == nil {
		o.secrets = secretFlag{}
	}
	o.secrets[ids[0]] = hex.EncodeToString(b)
	return o.secrets[ids[0]], nil
}

// moduleRoot finds the directory of wsgate's go.mod above the working
// directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module github.com/wsgate/wsgate\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run wsgate dev inside the wsgate module (no go.mod of github.com/wsgate/wsgate above the working directory)")
		}
		dir = parent
	}
}

// synth runs the CDK app (go run .) with CDK_OUTDIR=cdk.out and returns the
// stack's template. No AWS account is involved.
func synth(ctx context.Context, root string, stderr io.Writer) (string, error) {
	out := filepath.Join(root, "cdk.out")
	fmt.Fprintf(stderr, "==> synthesizing %s (go run . with CDK_OUTDIR=cdk.out; the first run compiles the CDK libraries and takes a while)\n", stackName)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "run", ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+out, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	if err := runLogged(cmd, filepath.Join(root, ".cache", "wsgate-dev", "synth.log"), "synthesizing", stderr); err != nil {
		return "", fmt.Errorf("synth failed: %v", err)
	}
	template := filepath.Join(out, stackName+".template.json")
	if _, err := os.Stat(template); err != nil {
		return "", fmt.Errorf("synth failed: %s was not written", template)
	}
	fmt.Fprintf(stderr, "==> synthesized %s in %s\n", template, time.Since(start).Round(100*time.Millisecond))
	return template, nil
}

// buildServer compiles the server binary into .cache/wsgate-dev.
func buildServer(ctx context.Context, root string, stderr io.Writer) (string, error) {
	bin := filepath.Join(root, ".cache", "wsgate-dev", "wsgate-server")
	fmt.Fprintf(stderr, "==> building the server (go build %s)\n", serverPackage)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, serverPackage)
	cmd.Dir = root
	if err := runLogged(cmd, filepath.Join(root, ".cache", "wsgate-dev", "build.log"), "building", stderr); err != nil {
		return "", fmt.Errorf("building the server failed: %v", err)
	}
	fmt.Fprintf(stderr, "==> built the server in %s\n", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// runLogged runs cmd with its output in logPath, telling stderr every 10 s
// that it is still at it; a failure is the last meaningful output line plus
// where the full log is.
func runLogged(cmd *exec.Cmd, logPath, doing string, stderr io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// go run and go build start children of their own (the compiled app,
	// jsii's node): on Ctrl-C the whole process group goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	done := make(chan struct{})
	defer close(done)
	go func() {
		start := time.Now()
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(stderr, "    … still %s (%s)\n", doing, time.Since(start).Round(time.Second))
			}
		}
	}()
	err := cmd.Run()
	_ = os.WriteFile(logPath, buf.Bytes(), 0o644)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s (full output in %s)", lastLine(buf.String(), err.Error()), logPath)
}

// lastLine returns the last line that is not part of a "!!" banner (jsii
// prints one about the Node.js version after every run).
func lastLine(out, fallback string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "!!") {
			return l
		}
	}
	return fallback
}

// freeAddr turns HOST:0 into HOST:PORT with a port free right now.
func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--server-addr %q: %v", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("no free port for the server: %v", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// child is the running server process.
type child struct {
	cmd    *exec.Cmd
	exited chan error
}

// startServer starts the server wired to the gateway with the local
// credentials; its log goes to stderr.
func startServer(bin, addr, callback, secret string, stderr io.Writer) (*child, error) {
	creds := localgateway.CredentialsFromEnv()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"WSGATE_CALLBACK_URL="+callback, "WSGATE_LISTEN_ADDR="+addr, contract.EnvIntegrationSecret+"="+secret,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_REGION="+creds.Region,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own process group: the terminal's Ctrl-C reaches wsgate, which
	// stops the server in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the server: %v", err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	go func() { c.exited <- cmd.Wait() }()
	return c, nil
}

// stop sends SIGTERM, then SIGKILL after 10 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// waitHealthy polls GET /healthz until it answers 200.
func waitHealthy(ctx context.Context, addr string, exited <-chan error) error {
	deadline := time.Now().Add(serverReadyWait)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the server exited during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not answer GET /healthz on %s within %s", addr, serverReadyWait)
		}
	}
}

// demoHandler serves the built demo page and its config.json.
func demoHandler(dir, websocketURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"websocketUrl":%q}`, websocketURL)
	})
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	return mux
}
