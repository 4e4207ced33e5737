package constructs_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

const backend = "https://dotnetify.example.com"

// apiError returns the error NewWebSocketApi panics with for props.
func apiError(t *testing.T, props *wsgate.WebSocketApiProps) string {
	t.Helper()
	stack := newStack(t)
	return propsError(t, func() { wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), props) })
}

// serviceError returns the error NewRealtimeService panics with for props.
func serviceError(t *testing.T, props func(stack awscdk.Stack) *wsgate.RealtimeServiceProps) string {
	t.Helper()
	stack := newStack(t)
	p := props(stack)
	return propsError(t, func() { wsgate.NewRealtimeService(stack, jsii.String("Realtime"), p) })
}

func propsError(t *testing.T, create func()) string {
	t.Helper()
	v := panicOf(create)
	err, ok := v.(error)
	var pe *wsgate.PropsError
	if !ok || !errors.As(err, &pe) {
		t.Fatalf("want a *PropsError panic, got %v", v)
	}
	return pe.Error()
}

func TestWebSocketApiValidation(t *testing.T) {
	const head = "wsgate: invalid WebSocketApi props at Test/Realtime (1 problem):\n  - "
	cases := []struct {
		name  string
		props *wsgate.WebSocketApiProps
		want  string
	}{
		{"no backend", &wsgate.WebSocketApiProps{},
			head + `BackendUrl and PrivateBackend: got neither; allowed: exactly one of them; fix: set BackendUrl to your server's base URL (such as "https://dotnetify.example.com") or PrivateBackend to a VPC link and NLB`},
		{"two backends", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), PrivateBackend: &wsgate.PrivateBackend{}},
			head + `BackendUrl and PrivateBackend: got both (BackendUrl "https://dotnetify.example.com"); allowed: exactly one of them; fix: remove BackendUrl for a private backend, or PrivateBackend for one on the internet`},
		{"backend url with query", &wsgate.WebSocketApiProps{BackendUrl: jsii.String("https://x.example.com/?a=1")},
			head + `BackendUrl: got "https://x.example.com/?a=1"; allowed: an absolute http:// or https:// base URL without user info, query or fragment; fix: give the server's base URL, such as "https://dotnetify.example.com" (the routes append /api/dotnetify/vm)`},
		{"backend url not absolute", &wsgate.WebSocketApiProps{BackendUrl: jsii.String("dotnetify.example.com")},
			head + `BackendUrl: got "dotnetify.example.com"; allowed: an absolute http:// or https:// base URL without user info, query or fragment; fix: give the server's base URL, such as "https://dotnetify.example.com" (the routes append /api/dotnetify/vm)`},
		{"private backend incomplete", &wsgate.WebSocketApiProps{PrivateBackend: &wsgate.PrivateBackend{Port: jsii.Number(70000)}},
			"wsgate: invalid WebSocketApi props at Test/Realtime (3 problems):\n" +
				"  - PrivateBackend.VpcLink: got nothing; allowed: an API Gateway VPC link (awsapigateway.NewVpcLink) targeting the load balancer; fix: set PrivateBackend.VpcLink\n" +
				"  - PrivateBackend.LoadBalancer: got nothing; allowed: the Network Load Balancer in front of the backend; fix: set PrivateBackend.LoadBalancer\n" +
				"  - PrivateBackend.Port: got 70000; allowed: a whole number from 1 to 65535; fix: set PrivateBackend.Port to a valid TCP port or leave it unset for 80"},
		{"stage name charset", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{StageName: jsii.String("$default")}},
			head + `StageName: got "$default"; allowed: 1 to 128 letters, digits, '-' or '_'; fix: use a name such as "prod", or leave it unset for "prod"`},
		{"api name length", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{ApiName: jsii.String("")}},
			head + `ApiName: got ""; allowed: 1 to 128 characters; fix: shorten ApiName or leave it unset for a generated name`},
		{"throttle rate", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{ThrottleRateLimit: jsii.Number(0)}},
			head + `ThrottleRateLimit: got 0; allowed: more than 0 requests per second (at most the account quota, 10000 by default); fix: set a positive rate, or leave it unset for 1000`},
		{"throttle burst", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{ThrottleBurstLimit: jsii.Number(0)}},
			head + `ThrottleBurstLimit: got 0; allowed: a whole number of at least 1 (at most the account quota, 5000 by default); fix: set a burst of at least 1 (0 rejects every request), or leave it unset for 500`},
		{"integration timeout", &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend), ApiOptions: wsgate.ApiOptions{IntegrationTimeout: awscdk.Duration_Seconds(jsii.Number(30))}},
			head + `IntegrationTimeout: got 30000ms; allowed: 50 ms to 29 s (API Gateway's integration limits); fix: use a timeout within the limits, or leave it unset for 29 s`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := apiError(t, c.props); got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

func TestRealtimeServiceValidation(t *testing.T) {
	const head = "wsgate: invalid RealtimeService props at Test/Realtime (1 problem):\n  - "
	plain := func(p *wsgate.RealtimeServiceProps) func(awscdk.Stack) *wsgate.RealtimeServiceProps {
		return func(awscdk.Stack) *wsgate.RealtimeServiceProps { return p }
	}
	cases := []struct {
		name  string
		props func(awscdk.Stack) *wsgate.RealtimeServiceProps
		want  string
	}{
		{"desired count above one", plain(&wsgate.RealtimeServiceProps{DesiredCount: jsii.Number(2)}),
			head + "DesiredCount: got 2; allowed: 0 or 1; fix: leave DesiredCount unset (1): the server keeps view-model sessions in its own memory, so a second task would not know the connections of the first; running several tasks needs a shared session store"},
		{"container port", plain(&wsgate.RealtimeServiceProps{ContainerPort: jsii.Number(0)}),
			head + "ContainerPort: got 0; allowed: a whole number from 1 to 65535; fix: set ContainerPort to a valid TCP port or leave it unset for 8080"},
		{"listener port", plain(&wsgate.RealtimeServiceProps{ListenerPort: jsii.Number(80.5)}),
			head + "ListenerPort: got 80.5; allowed: a whole number from 1 to 65535; fix: set ListenerPort to a valid TCP port or leave it unset for 80"},
		{"health check path", plain(&wsgate.RealtimeServiceProps{HealthCheckPath: jsii.String("healthz")}),
			head + `HealthCheckPath: got "healthz"; allowed: an absolute path starting with "/"; fix: use "/healthz" (the server's health endpoint) or leave it unset`},
		{"cpu", plain(&wsgate.RealtimeServiceProps{Cpu: jsii.Number(300)}),
			head + "Cpu: got 300; allowed: 256, 512, 1024, 2048, 4096, 8192 or 16384; fix: pick one of Fargate's CPU sizes, or leave Cpu unset for 256"},
		{"memory", plain(&wsgate.RealtimeServiceProps{Cpu: jsii.Number(512), MemoryLimitMiB: jsii.Number(512)}),
			head + "MemoryLimitMiB: got 512 with Cpu 512; allowed: the memory sizes Fargate pairs with that CPU (for 256: 512, 1024 or 2048; for 512: 1024 to 4096 in steps of 1024; for 1024: 2048 to 8192; …); fix: choose a memory size from Fargate's table for the CPU (docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html)"},
		{"healthy percent", plain(&wsgate.RealtimeServiceProps{MinHealthyPercent: jsii.Number(100), MaxHealthyPercent: jsii.Number(100)}),
			head + "MaxHealthyPercent: got 100 with MinHealthyPercent 100; allowed: at least 100 and more than MinHealthyPercent; fix: raise MaxHealthyPercent (200 lets the new task start before the old one stops), or leave it unset"},
		{"min healthy percent", plain(&wsgate.RealtimeServiceProps{MinHealthyPercent: jsii.Number(-1)}),
			head + "MinHealthyPercent: got -1; allowed: 0 to 100; fix: set MinHealthyPercent within 0 to 100, or leave it unset for 100"},
		{"reserved environment", plain(&wsgate.RealtimeServiceProps{Environment: &map[string]*string{"WSGATE_REGION": jsii.String("x"), "WSGATE_CALLBACK_URL": jsii.String("y"), "WSGATE_PUSH_RATE": jsii.String("10")}}),
			head + "Environment: got WSGATE_CALLBACK_URL, WSGATE_REGION; allowed: any variable except WSGATE_CALLBACK_URL, WSGATE_INTEGRATION_SECRET, WSGATE_LISTEN_ADDR, WSGATE_REGION, WSGATE_SERVICE_NAME; fix: remove WSGATE_CALLBACK_URL, WSGATE_REGION: the construct sets the callback URL, region and listen address from the stage, region and ContainerPort, the metrics' service name from the construct path, and the integration secret from IntegrationSecret in Secrets Manager"},
		{"integration secret in environment", plain(&wsgate.RealtimeServiceProps{Environment: &map[string]*string{"WSGATE_INTEGRATION_SECRET": jsii.String("hunter2")}}),
			head + "Environment: got WSGATE_INTEGRATION_SECRET; allowed: any variable except WSGATE_CALLBACK_URL, WSGATE_INTEGRATION_SECRET, WSGATE_LISTEN_ADDR, WSGATE_REGION, WSGATE_SERVICE_NAME; fix: remove WSGATE_INTEGRATION_SECRET: the construct sets the callback URL, region and listen address from the stage, region and ContainerPort, the metrics' service name from the construct path, and the integration secret from IntegrationSecret in Secrets Manager"},
		{"source dir without go.mod", plain(&wsgate.RealtimeServiceProps{SourceDir: jsii.String("/nonexistent/wsgate")}),
			head + `SourceDir: got "/nonexistent/wsgate"; allowed: the root directory of a Go module (holding go.mod); fix: point SourceDir at the module root, or leave it unset for the module of the working directory (no go.mod in /nonexistent/wsgate)`},
		{"image and source dir", plain(&wsgate.RealtimeServiceProps{Image: awsecs.ContainerImage_FromRegistry(jsii.String("example/wsgate:1"), nil), SourceDir: jsii.String("/src")}),
			head + `Image and SourceDir: got both (SourceDir "/src"); allowed: one of them; fix: remove SourceDir to use Image, or remove Image to build from SourceDir`},
		{"vpc and cluster", func(stack awscdk.Stack) *wsgate.RealtimeServiceProps {
			vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), nil)
			cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})
			return &wsgate.RealtimeServiceProps{Vpc: vpc, Cluster: cluster}
		}, head + "Vpc and Cluster: got both; allowed: one of them (the service runs in the Cluster's VPC); fix: remove Vpc, or remove Cluster to get a new cluster in Vpc"},
		{"stage options too", plain(&wsgate.RealtimeServiceProps{ApiOptions: wsgate.ApiOptions{StageName: jsii.String("pr od")}}),
			head + `StageName: got "pr od"; allowed: 1 to 128 letters, digits, '-' or '_'; fix: use a name such as "prod", or leave it unset for "prod"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := serviceError(t, c.props); got != c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, c.want)
			}
		})
	}
}

// TestValidationCollectsEveryProblem checks that one failure lists all
// problems, in the order of the props.
func TestValidationCollectsEveryProblem(t *testing.T) {
	got := serviceError(t, func(awscdk.Stack) *wsgate.RealtimeServiceProps {
		return &wsgate.RealtimeServiceProps{
			ApiOptions:    wsgate.ApiOptions{StageName: jsii.String("a/b"), ThrottleBurstLimit: jsii.Number(0.5)},
			DesiredCount:  jsii.Number(3),
			ContainerPort: jsii.Number(-1),
		}
	})
	want := "wsgate: invalid RealtimeService props at Test/Realtime (4 problems):\n" +
		`  - StageName: got "a/b"; allowed: 1 to 128 letters, digits, '-' or '_'; fix: use a name such as "prod", or leave it unset for "prod"` + "\n" +
		"  - ThrottleBurstLimit: got 0.5; allowed: a whole number of at least 1 (at most the account quota, 5000 by default); fix: set a burst of at least 1 (0 rejects every request), or leave it unset for 500\n" +
		"  - ContainerPort: got -1; allowed: a whole number from 1 to 65535; fix: set ContainerPort to a valid TCP port or leave it unset for 8080\n" +
		"  - DesiredCount: got 3; allowed: 0 or 1; fix: leave DesiredCount unset (1): the server keeps view-model sessions in its own memory, so a second task would not know the connections of the first; running several tasks needs a shared session store"
	if got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
}

// TestValidationLeavesScopeUntouched checks that a rejected construct adds
// nothing to its scope, so the caller can fix the props and retry.
func TestValidationLeavesScopeUntouched(t *testing.T) {
	stack := newStack(t)
	propsError(t, func() { wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{}) })
	if n := len(*stack.Node().Children()); n != 0 {
		t.Fatalf("stack has %d children after a rejected construct", n)
	}
	wsgate.NewWebSocketApi(stack, jsii.String("Realtime"), &wsgate.WebSocketApiProps{BackendUrl: jsii.String(backend)})
}
