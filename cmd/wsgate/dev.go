package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

func init() {
	commands["dev"] = command{
		summary: "synthesize your CDK app, run the local gateway and your server (and a built page)",
		run:     runDev,
	}
}

// Defaults inside this repository (docs/architecture.md).
const (
	demoServerPackage = wsgateModule + "/server/cmd/wsgate-server"
	webDistDir        = "examples/web/dist"
)

// devOptions are the flags of `wsgate dev`.
type devOptions struct {
	gatewayOptions
	demoAddr      string
	serverAddr    string
	web           string
	serverPackage string
	stack         string
	// authorizerPackage is the main package of the Lambda authorizer the
	// template's routes name, run under the local Lambda Runtime API.
	authorizerPackage string
}

const devUsage = `usage: wsgate dev [--server-package PKG] [--authorizer-package PKG] [--template FILE | --stack NAME] [flags]

Runs your app on this machine as API Gateway and ECS run it: synthesizes the
CDK app that cdk.json names (the stack holding the WebSocket API) unless
--template gives a template, builds your server's main package and runs it
behind the local API Gateway WebSocket emulator, then prints

  websocket: ws://127.0.0.1:PORT/STAGE    (for the dotnetify client)
  callback: http://127.0.0.1:PORT/STAGE   (the server's @connections URL)

When $connect has a Lambda authorizer, --authorizer-package builds its main
package (an aws-lambda-go handler) and runs it against a local Lambda Runtime
API, with wsgate dev's environment, so the gateway admits only what it
admits. Run it from your Go module. A server or authorizer that exits is
started again; Ctrl-C or SIGTERM stops everything. Inside the wsgate
repository the server package defaults to the demo server, and the demo page
is served when it is built.

Examples:
  wsgate dev --server-package ./cmd/counter
  go tool wsgate dev --server-package ./cmd/counter      (after go get -tool github.com/wsgate/wsgate/cmd/wsgate)
  go run github.com/wsgate/wsgate/cmd/wsgate dev --server-package ./cmd/counter
  wsgate dev --server-package ./cmd/counter --stack CounterStack --addr 127.0.0.1:4000
  wsgate dev --server-package ./cmd/counter --template cdk.out/CounterStack.template.json
  wsgate dev --server-package ./cmd/counter --web ./web/dist
  AUTHORIZER_SECRET=… wsgate dev --server-package ./cmd/counter --authorizer-package ./cmd/authorizer

Flags:
`

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wsgate dev", flag.ContinueOnError)
	var o devOptions
	o.register(fs)
	fs.StringVar(&o.template, "template", "", "use this template instead of synthesizing the CDK app")
	fs.StringVar(&o.stack, "stack", "", "stack to run when several of the app's stacks define a WebSocket API")
	fs.StringVar(&o.serverPackage, "server-package", "", "main package of your server, as for go build (default in the wsgate repository: its demo server)")
	fs.StringVar(&o.authorizerPackage, "authorizer-package", "", "main package of the Lambda authorizer the template's $connect names (an aws-lambda-go handler), run with wsgate dev's environment")
	fs.StringVar(&o.demoAddr, "demo-addr", "127.0.0.1:3001", "address of the page, when there is one to serve")
	fs.StringVar(&o.serverAddr, "server-addr", "127.0.0.1:0", "address of your server (port 0 picks a free one)")
	fs.StringVar(&o.web, "web", "", "directory of a built page to serve with a config.json holding the websocket URL (default in the wsgate repository: examples/web/dist)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), devUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (the server package is given with --server-package)", fs.Arg(0))}
	}
	cwd, err := os.Getwd()
	if err != nil {
		return err
	}
	mod, err := findModule(cwd)
	if err != nil {
		return err
	}
	buildDir, pkg, err := o.serverToBuild(cwd, mod)
	if err != nil {
		return err
	}
	work, err := workDir(mod)
	if err != nil {
		return err
	}
	// Claim the addresses first so a port in use fails before the slow steps.
	if o.listener, err = localgateway.Listen(o.addr); err != nil {
		return err
	}
	defer o.listener.Close()
	var pageListener net.Listener
	if page := o.pageDir(mod, stderr); page != "" {
		if pageListener, err = localgateway.Listen(o.demoAddr); err != nil {
			return err
		}
		defer pageListener.Close()
	}
	if o.template == "" {
		app, err := findCDKApp(cwd, mod)
		if err != nil {
			return err
		}
		if o.template, err = app.synth(ctx, o.stack, work, stderr); err != nil {
			return stopped(ctx, stderr, err)
		}
	}
	secret, err := o.localSecret()
	if err != nil {
		return err
	}
	authorizers, err := o.authorizersToRun()
	if err != nil {
		return err
	}
	bin, err := buildServer(ctx, buildDir, pkg, work, stderr)
	if err != nil {
		return stopped(ctx, stderr, err)
	}
	if len(authorizers) > 0 {
		authBin, err := buildMain(ctx, "authorizer", cwd, o.authorizerPackage, work, stderr)
		if err != nil {
			return stopped(ctx, stderr, err)
		}
		stopAuthorizer, err := o.runAuthorizer(ctx, authorizers, authBin, mod.root, stderr)
		if err != nil {
			return stopped(ctx, stderr, err)
		}
		defer stopAuthorizer()
	}
	if o.serverAddr, err = freeAddr(o.serverAddr); err != nil {
		return err
	}
	o.backend = "http://" + o.serverAddr
	gw, err := startGateway(o.gatewayOptions, stderr)
	if err != nil {
		return err
	}
	defer stopGateway(gw)
	spec := newServerSpec(bin, mod.root, o.serverAddr, gw.callbackURL, secret, stderr)
	server, err := spec.start()
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, o.serverAddr, server); err != nil {
		server.stop()
		return stopped(ctx, stderr, err)
	}
	fmt.Fprintf(stdout, "websocket: %s\ncallback: %s\n", gw.websocketURL, gw.callbackURL)
	if pageListener != nil {
		page := &http.Server{Handler: pageHandler(o.web, gw.websocketURL), ReadHeaderTimeout: 10 * time.Second}
		go page.Serve(pageListener)
		defer page.Close()
		fmt.Fprintf(stdout, "demo: http://%s/\n", pageListener.Addr())
	}
	spec.keepRunning(ctx, server)
	return stopped(ctx, stderr, nil)
}

// stopped turns the failure of a step cut short by Ctrl-C or SIGTERM (its
// process group killed) into a clean stop; any other error stays.
func stopped(ctx context.Context, stderr io.Writer, err error) error {
	if err != nil && ctx.Err() == nil {
		return err
	}
	fmt.Fprintln(stderr, "==> stopped")
	return nil
}

// serverToBuild returns the directory to run go build in and the package
// to build: the --server-package given, resolved from the working
// directory as go build would, or inside this repository its demo server.
func (o *devOptions) serverToBuild(cwd string, mod goModule) (dir, pkg string, err error) {
	if o.serverPackage != "" {
		return cwd, o.serverPackage, nil
	}
	if mod.isWsgate() {
		return mod.root, demoServerPackage, nil
	}
	return "", "", usageError{"name your server's main package, such as --server-package ./cmd/counter (only inside the wsgate repository does it default to the demo server)"}
}

// pageDir returns the directory of the page to serve, or "" when there is
// none; either way it says so in one line, and a missing page never stops
// the gateway and server from starting.
func (o *devOptions) pageDir(mod goModule, stderr io.Writer) string {
	if o.web == "" && mod.isWsgate() {
		o.web = filepath.Join(mod.root, webDistDir)
	}
	if o.web == "" {
		fmt.Fprintln(stderr, "==> no page to serve (--web DIR serves a built one, with a config.json holding the websocket URL)")
		return ""
	}
	if _, err := os.Stat(filepath.Join(o.web, "index.html")); err != nil {
		hint := ""
		if mod.isWsgate() && o.web == filepath.Join(mod.root, webDistDir) {
			hint = "; scripts/build-web.sh builds the demo page"
		}
		fmt.Fprintf(stderr, "==> no page served: %s has no index.html%s\n", o.web, hint)
		return ""
	}
	return o.web
}

// stopGateway closes client sockets and the listener; it gives up after a
// short while so wsgate dev itself ends soon after its children.
func stopGateway(gw *runningGateway) {
	done := make(chan struct{})
	go func() {
		_ = gw.stop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
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

// pageHandler serves a built page and its config.json.
func pageHandler(dir, websocketURL string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, `{"websocketUrl":%q}`, websocketURL)
	})
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	return mux
}
