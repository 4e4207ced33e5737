// Package e2e_test runs $connect authorization end to end: a template synthesized by the
// constructs with a Lambda REQUEST authorizer, the local gateway serving it, the real
// examples/authorizer binary (aws-lambda-go's lambda.Start) behind the local Lambda Runtime
// and Invoke APIs, the integration server, and the unmodified dotnetify client in Node.
package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/localgateway/lambdaruntime"
	"github.com/wsgate/wsgate/localgateway/sigv4"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

const (
	authorizerName   = "wsgate-authorizer"
	authorizerSecret = "e2e-authorizer-secret-0123456789"
)

// whoAmI shows the view model's caller as the authorizer admitted it.
type whoAmI struct {
	vm.Base
	Principal string
	Role      string
}

// authorizedTemplate synthesizes a WebSocket API whose $connect runs the function
// authorizerName with the query-string token, forwarding the "role" context key.
func authorizedTemplate(t *testing.T) []byte {
	t.Helper()
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("AuthorizedStack"), &awscdk.StackProps{
		Env: &awscdk.Environment{Account: jsii.String("000000000000"), Region: jsii.String(contract.DefaultLocalRegion)},
	})
	fn := awslambda.Function_FromFunctionArn(stack, jsii.String("Authorizer"),
		jsii.String("arn:aws:lambda:us-east-1:000000000000:function:"+authorizerName))
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{
		BackendUrl: jsii.String("https://backend.example.com"),
		ApiOptions: wsgate.ApiOptions{ConnectAuthorization: &wsgate.ConnectAuthorization{
			Function: fn, ContextKeys: jsii.Strings("role"),
		}},
	})
	data, err := json.Marshal(*assertions.Template_FromStack(stack, nil).ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// startAuthorizer builds examples/authorizer and runs it against a local Runtime API, and
// returns the Invoke API's URL.
func startAuthorizer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "authorizer")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wsgate/wsgate/examples/authorizer").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/authorizer: %v\n%s", err, out)
	}
	fn := lambdaruntime.New(authorizerName, lambdaruntime.Config{Timeout: 20 * time.Second})
	runtimeAPI := httptest.NewServer(fn)
	t.Cleanup(runtimeAPI.Close)
	invoke := httptest.NewServer(&lambdaruntime.InvokeAPI{
		Functions: map[string]*lambdaruntime.Function{authorizerName: fn},
		Verifier: &sigv4.Verifier{Region: contract.DefaultLocalRegion, Service: "lambda", Lookup: func(id string) (string, bool) {
			return contract.DefaultLocalSecretAccessKey, id == contract.DefaultLocalAccessKeyID
		}},
	})
	t.Cleanup(invoke.Close)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(runtimeAPI.URL, "http://"), "AUTHORIZER_SECRET="+authorizerSecret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return invoke.URL
}

// A handshake without a token is refused with 401, as API Gateway refuses a missing
// identity source; the real dotnetify client with ?token=… is admitted and its view model
// sees the principal and the authorizer's context, stated by the gateway on every route.
func TestAuthorizerEndToEnd(t *testing.T) {
	template := authorizedTemplate(t)
	invokeURL := startAuthorizer(t)

	// The server requires the integration secret when the template's integrations send one.
	integrationSecret := "e2e-integration-secret"
	secrets, err := cfn.SameSecret(template, cfn.Options{}, integrationSecret)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) == 0 {
		integrationSecret = ""
	}
	apis, err := cfn.Parse(template, cfn.Options{Secrets: secrets})
	if err != nil {
		t.Fatalf("template: %v", err)
	}

	// The server's address is the gateway's backend, and the gateway's is the server's
	// callback URL: listen on both first.
	backend := httptest.NewUnstartedServer(nil)
	gatewaySrv := httptest.NewUnstartedServer(nil)
	backendURL, _ := url.Parse("http://" + backend.Listener.Addr().String())
	lambdaURL, _ := url.Parse(invokeURL)
	g, err := localgateway.New(localgateway.Config{API: apis[0], Backend: backendURL, LambdaEndpoint: lambdaURL, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Credentials: localgateway.Credentials{AccessKeyID: contract.DefaultLocalAccessKeyID, SecretAccessKey: contract.DefaultLocalSecretAccessKey, Region: contract.DefaultLocalRegion}})
	if err != nil {
		t.Fatal(err)
	}
	gatewaySrv.Config.Handler = g
	gatewaySrv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		gatewaySrv.Close()
	})

	reg := vm.NewRegistry()
	if err := vm.Register(reg, "WhoAmIVM", func(r *vm.Request) (*whoAmI, error) {
		return &whoAmI{Principal: r.Caller.Principal, Role: r.Caller.Authorizer["role"]}, nil
	}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: gatewaySrv.URL + "/" + g.StageName(), Region: contract.DefaultLocalRegion, IntegrationSecret: integrationSecret},
		Registry:    reg,
		Credentials: credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, ""),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	backend.Config.Handler = srv.Handler()
	backend.Start()
	t.Cleanup(func() {
		backend.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})

	wsURL := "ws" + strings.TrimPrefix(gatewaySrv.URL, "http") + "/" + g.StageName()
	script, _ := filepath.Abs(filepath.Join("testdata", "authorized-client.mjs"))
	out, err := exec.Command("node", script, wsURL, token("alice")).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node %s: %v\n%s%s", script, err, out, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var got struct {
		WithoutToken     int
		State            map[string]any
		UnexpectedErrors int
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	if got.WithoutToken != 401 {
		t.Errorf("handshake without a token: %d, want 401", got.WithoutToken)
	}
	if got.State["Principal"] != "alice" || got.State["Role"] != "member" || got.UnexpectedErrors != 0 {
		t.Errorf("client state %v (unexpected errors %d), want Principal alice and Role member", got.State, got.UnexpectedErrors)
	}
}

// token signs user as examples/authorizer expects.
func token(user string) string {
	mac := hmac.New(sha256.New, []byte(authorizerSecret))
	mac.Write([]byte(user))
	return user + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
