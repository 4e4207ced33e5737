// Package serverbench measures the server against baselines run in the same process and
// reports ratios, so the numbers mean the same on any machine: CPU per push against a bare
// SigV4-signed request (and against the AWS SDK's PostToConnection), HelloWorld update
// throughput at the integration endpoint against a no-op net/http handler, and memory per
// idle session. `go test -bench . ./bench/serverbench` and `wsgate bench` use it.
package serverbench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/push"
)

// Result is one comparison. Ratio is Value/Baseline; Goal says which way is good.
type Result struct {
	Name     string
	Value    float64
	Baseline float64
	Unit     string
	Ratio    float64
	Goal     string
}

// String renders the result as one "name ratio=… value=… baseline=… goal=…" line.
func (r Result) String() string {
	return fmt.Sprintf("%s ratio=%.3f value=%.4g%s baseline=%.4g%s goal=%s", r.Name, r.Ratio, r.Value, r.Unit, r.Baseline, r.Unit, r.Goal)
}

func result(name string, value, baseline float64, unit, goal string) Result {
	return Result{Name: name, Value: value, Baseline: baseline, Unit: unit, Ratio: value / baseline, Goal: goal}
}

var (
	frame     = []byte(`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	benchKeys = credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, "")
)

// okTransport answers 200 without a network, so a run measures the client's own CPU.
type okTransport struct{ n atomic.Int64 }

// RoundTrip implements http.RoundTripper.
func (t *okTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	t.n.Add(1)
	return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}, Request: r, ProtoMajor: 1, ProtoMinor: 1}, nil
}

// timePerOp runs fn n times and returns the process CPU time (user + system, every
// goroutine, GC included) per call in nanoseconds.
func timePerOp(n int, fn func(i int) error) (float64, error) {
	start := cpuTime()
	for i := range n {
		if err := fn(i); err != nil {
			return 0, err
		}
	}
	return float64((cpuTime() - start).Nanoseconds()) / float64(n), nil
}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bareSigned is the baseline: build the request, hash the body, SigV4-sign it, send it.
func bareSigned(client *http.Client, callbackURL string) func(int) error {
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.NewCredentialsCache(benchKeys)
	return func(i int) error {
		req, err := http.NewRequest(http.MethodPost, callbackURL+"/%40connections/Wm1nYcO3IAMCJ2w%3D", strings.NewReader(string(frame)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		c, err := creds.Retrieve(req.Context())
		if err != nil {
			return err
		}
		sum := sha256.Sum256(frame)
		if err := signer.SignHTTP(req.Context(), c, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("baseline push: status %d", resp.StatusCode)
		}
		return nil
	}
}

// offlineURL is the callback URL of the push measurements; offlinePush's transport
// answers 200 for it without a network.
const offlineURL = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"

// offlinePush returns a push client for offlineURL and the network-free HTTP client
// under it, which the baselines of the same measurement share.
func offlinePush() (*push.Client, *http.Client, error) {
	client := &http.Client{Transport: &okTransport{}}
	pc, err := push.New(push.Config{CallbackURL: offlineURL, Region: "us-east-1", Credentials: benchKeys, HTTPClient: client, Concurrency: 1})
	return pc, client, err
}

// PushCPU compares the CPU of one push through push.Client.Post with a bare signed
// http.Request, both on a transport that answers without a network. Goal: ≤ 1.25.
func PushCPU(n int) (Result, error) {
	pc, client, err := offlinePush()
	if err != nil {
		return Result{}, err
	}
	defer pc.Close(context.Background())
	ctx := context.Background()
	ours := func(int) error { return pc.Post(ctx, "Wm1nYcO3IAMCJ2w=", frame) }
	base, value, err := alternate(n, bareSigned(client, offlineURL), ours)
	if err != nil {
		return Result{}, err
	}
	return result("push_cpu", value, base, "ns/push", "<=1.25"), nil
}

// PushQueuedCPU is PushCPU through the queue (Send, then Flush): ordering, worker handoff
// and bookkeeping included.
func PushQueuedCPU(n int) (Result, error) {
	pc, client, err := offlinePush()
	if err != nil {
		return Result{}, err
	}
	defer pc.Close(context.Background())
	ours := func(i int) error {
		pc.Send("Wm1nYcO3IAMCJ2w=", frame)
		if i%256 == 255 {
			return pc.Flush(context.Background())
		}
		return nil
	}
	base, value, err := alternate(n, bareSigned(client, offlineURL), ours)
	if err != nil {
		return Result{}, err
	}
	if err := pc.Flush(context.Background()); err != nil {
		return Result{}, err
	}
	return result("push_queued_cpu", value, base, "ns/push", "<=1.25"), nil
}

// SDKPeer compares the AWS SDK's generated PostToConnection with push.Client.Post on the
// same network-free transport (the anchors measured ≈4.5× for the SDK against a bare
// request). Lower than 1 means the SDK is cheaper.
func SDKPeer(n int) (Result, error) {
	pc, client, err := offlinePush()
	if err != nil {
		return Result{}, err
	}
	defer pc.Close(context.Background())
	sdk := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(offlineURL), Region: "us-east-1", Credentials: aws.NewCredentialsCache(benchKeys), HTTPClient: client,
	})
	ctx := context.Background()
	in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("Wm1nYcO3IAMCJ2w="), Data: frame}
	ours := func(int) error { return pc.Post(ctx, "Wm1nYcO3IAMCJ2w=", frame) }
	theirs := func(int) error { _, err := sdk.PostToConnection(ctx, in); return err }
	base, value, err := alternate(n, ours, theirs)
	if err != nil {
		return Result{}, err
	}
	return result("sdk_post_to_connection_vs_push", value, base, "ns/push", "informative (anchor ≈4.5× a bare request)"), nil
}

// alternate measures baseline and candidate in interleaved rounds and keeps the best round
// of each, so a burst of noise from a neighbour hits both alike.
func alternate(n int, baseline, candidate func(int) error) (base, value float64, err error) {
	const rounds = 5
	per := max(1, n/rounds)
	base, value = -1, -1
	for range rounds {
		runtime.GC()
		b, err := timePerOp(per, baseline)
		if err != nil {
			return 0, 0, err
		}
		v, err := timePerOp(per, candidate)
		if err != nil {
			return 0, 0, err
		}
		if base < 0 || b < base {
			base = b
		}
		if value < 0 || v < value {
			value = v
		}
	}
	return base, value, nil
}
