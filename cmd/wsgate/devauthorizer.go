package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/lambdaruntime"
	"github.com/wsgate/wsgate/localgateway/sigv4"
)

// authorizerReadyWait is how long a started authorizer has to ask the
// Runtime API for its first event.
const authorizerReadyWait = 30 * time.Second

// Paths of the two Lambda APIs wsgate dev serves on one local listener.
const (
	runtimeAPIPrefix = "/2018-06-01/runtime/"
	invokeAPIPrefix  = "/2015-03-31/functions/"
)

// authorizerFunctions lists the Lambda functions the API's route
// authorizers invoke, sorted and without repeats.
func authorizerFunctions(api *cfn.API) []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range api.Routes {
		if r.Authorizer != nil && !seen[r.Authorizer.Function] {
			seen[r.Authorizer.Function] = true
			names = append(names, r.Authorizer.Function)
		}
	}
	sort.Strings(names)
	return names
}

// authorizerRoutes names the routes that run an authorizer, for messages.
func authorizerRoutes(api *cfn.API) string {
	var keys []string
	for key, r := range api.Routes {
		if r.Authorizer != nil {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// authorizersToRun checks the template's Lambda authorizers against the
// flags before anything is built: an authorizer needs --authorizer-package
// or --lambda-endpoint (not both), and --authorizer-package needs an
// authorizer. It returns the functions the package is to serve, or none
// when there is no package to run.
func (o *devOptions) authorizersToRun() ([]string, error) {
	apis, err := cfn.Load(o.template, cfn.Options{Region: localgateway.CredentialsFromEnv().Region, Secrets: o.secrets})
	if err != nil {
		return nil, err
	}
	api, err := chooseAPI(apis, o.api)
	if err != nil {
		return nil, err
	}
	names := authorizerFunctions(api)
	switch {
	case len(names) == 0 && o.authorizerPackage != "":
		return nil, usageError{fmt.Sprintf("--authorizer-package %s: the template's WebSocket API has no Lambda authorizer to run (ConnectAuthorization.Function sets one)", o.authorizerPackage)}
	case len(names) == 0:
		return nil, nil
	case o.authorizerPackage != "" && o.lambdaEndpoint != "":
		return nil, usageError{fmt.Sprintf("give --authorizer-package or --lambda-endpoint, not both: the authorizer %s runs in one of them", strings.Join(names, ", "))}
	case o.authorizerPackage == "" && o.lambdaEndpoint == "":
		return nil, usageError{fmt.Sprintf("the template's %s route runs the Lambda authorizer %s: give --authorizer-package with its main package (such as --authorizer-package ./cmd/authorizer), or --lambda-endpoint with a Lambda Invoke API that runs it",
			authorizerRoutes(api), strings.Join(names, ", "))}
	case o.lambdaEndpoint != "":
		return nil, nil
	}
	return names, nil
}

// lambdaAPIs serves, on one local listener, the Lambda Runtime API the
// authorizer process polls and the Invoke API the gateway calls, SigV4
// checked with the local credentials as on AWS. Every authorizer function
// of the template is the one process: one instance, one event at a time.
type lambdaAPIs struct {
	fn       *lambdaruntime.Function
	names    []string
	server   *http.Server
	endpoint string        // http://127.0.0.1:PORT, the gateway's --lambda-endpoint
	runtime  string        // 127.0.0.1:PORT, the process's AWS_LAMBDA_RUNTIME_API
	polled   chan struct{} // a process asked for an event (buffered 1)
}

// serveLambdaAPIs starts the Runtime and Invoke APIs for the functions
// names.
func serveLambdaAPIs(names []string) (*lambdaAPIs, error) {
	creds := localgateway.CredentialsFromEnv()
	// Lambda's default timeout: an authorizer that is slow on AWS is slow here.
	fn := lambdaruntime.New(names[0], lambdaruntime.Config{Region: creds.Region})
	invoke := &lambdaruntime.InvokeAPI{
		Functions: map[string]*lambdaruntime.Function{},
		Verifier: &sigv4.Verifier{Region: creds.Region, Service: "lambda", Lookup: func(id string) (string, bool) {
			return creds.SecretAccessKey, id == creds.AccessKeyID
		}},
	}
	for _, n := range names {
		invoke.Functions[n] = fn
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the local Lambda APIs: %w", err)
	}
	a := &lambdaAPIs{fn: fn, names: names, polled: make(chan struct{}, 1), endpoint: "http://" + l.Addr().String(), runtime: l.Addr().String()}
	mux := http.NewServeMux()
	mux.Handle(runtimeAPIPrefix, a.notePolls(fn))
	mux.Handle(invokeAPIPrefix, invoke)
	// No write timeout: the process's GET …/invocation/next waits for an event.
	a.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go a.server.Serve(l)
	return a, nil
}

// notePolls tells waitPolling that a process asked for its next event, the
// sign that lambda.Start is up.
func (a *lambdaAPIs) notePolls(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == runtimeAPIPrefix+"invocation/next" {
			select {
			case a.polled <- struct{}{}:
			default:
			}
		}
		next.ServeHTTP(w, r)
	})
}

// close stops serving at once; the process is stopped before.
func (a *lambdaAPIs) close() { _ = a.server.Close() }

// authorizerSpec runs the built authorizer bin as Lambda would run it: the
// Runtime API in AWS_LAMBDA_RUNTIME_API and the function's variables. It
// inherits wsgate dev's environment (the authorizer's secrets and settings
// come from there) but for _LAMBDA_SERVER_PORT, which would make
// lambda.Start take the old RPC mode, and AWS_LAMBDA_MAX_CONCURRENCY: one
// event at a time, as one instance runs them.
func (a *lambdaAPIs) authorizerSpec(bin, dir string, stderr io.Writer) childSpec {
	region := localgateway.CredentialsFromEnv().Region
	name := a.fn.Name()
	env := append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+a.runtime,
		"AWS_LAMBDA_FUNCTION_NAME="+name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+name,
		"AWS_LAMBDA_LOG_STREAM_NAME=local",
		"AWS_REGION="+region, "AWS_DEFAULT_REGION="+region,
		"_LAMBDA_SERVER_PORT=", "AWS_LAMBDA_MAX_CONCURRENCY=")
	return childSpec{
		name: "authorizer", bin: bin, dir: dir, env: env, stderr: stderr,
		where:       "(" + strings.Join(a.names, ", ") + ")",
		beforeStart: a.forgetPolls,
		ready:       a.waitPolling,
	}
}

// startAuthorizer starts the authorizer and waits until it polls.
func (a *lambdaAPIs) startAuthorizer(ctx context.Context, spec childSpec) (*child, error) {
	c, err := spec.start()
	if err != nil {
		return nil, err
	}
	if err := spec.ready(ctx, c); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// forgetPolls drops a poll noted for an earlier process, before a new one
// starts: the earlier one is gone by then.
func (a *lambdaAPIs) forgetPolls() {
	select {
	case <-a.polled:
	default:
	}
}

// waitPolling waits for the started authorizer c to ask the Runtime API
// for an event.
func (a *lambdaAPIs) waitPolling(ctx context.Context, c *child) error {
	timer := time.NewTimer(authorizerReadyWait)
	defer timer.Stop()
	select {
	case <-a.polled:
		return nil
	case <-c.done:
		return fmt.Errorf("the authorizer exited during start-up (%s)", c.exitReason())
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return errors.New("the authorizer did not ask the Lambda Runtime API for an event within " + authorizerReadyWait.String() + ": does its main call lambda.Start?")
	}
}

// runAuthorizer serves the Lambda APIs for the functions names, starts the
// built authorizer bin against them and points the gateway's Lambda
// endpoint at them. The authorizer is started again whenever it dies until
// ctx ends (it then stops with the server, within stopGrace); stop, for
// the other ways out of wsgate dev, stops it and the APIs and returns once
// it is gone.
func (o *devOptions) runAuthorizer(ctx context.Context, names []string, bin, dir string, stderr io.Writer) (stop func(), err error) {
	apis, err := serveLambdaAPIs(names)
	if err != nil {
		return nil, err
	}
	spec := apis.authorizerSpec(bin, dir, stderr)
	c, err := apis.startAuthorizer(ctx, spec)
	if err != nil {
		apis.close()
		return nil, err
	}
	fmt.Fprintf(stderr, "==> running the authorizer %s (%s) on the local Lambda Runtime API\n", strings.Join(names, ", "), o.authorizerPackage)
	o.lambdaEndpoint = apis.endpoint
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		spec.keepRunning(runCtx, c)
		close(done)
	}()
	return func() {
		cancel()
		<-done
		apis.close()
	}, nil
}
