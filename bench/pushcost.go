package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"

	"github.com/wsgate/wsgate/bench/serverbench"
	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/push"
)

// Local credentials every scenario signs with (the local gateway's defaults).
const (
	localAccessKey = contract.DefaultLocalAccessKeyID
	localSecretKey = contract.DefaultLocalSecretAccessKey
	// localIntegrationSecret stands in for the integration secret the stack
	// generates in Secrets Manager: the gateway sends it, the server
	// requires it.
	localIntegrationSecret = "wsgate-bench-integration-secret"
	localRegion            = contract.DefaultLocalRegion
)

// PushCostOptions configure PushCost.
type PushCostOptions struct {
	// Quick measures a few hundred pushes per path instead of tens of thousands.
	Quick bool
}

// PushCost measures the server's CPU time per push (push.Client.Post, and the queued Send
// path the runtime uses) against a bare signed http.Request to the same sink, with the
// aws-sdk-go-v2 PostToConnection call as a reference peer; and the heap allocations of each.
// The sink is an in-memory RoundTripper answering 200, so the figures are the client's own
// cost, not the network's. Goal: at most 1.25x the bare request.
//
// The CPU comparisons are the server's own measurements (package bench/serverbench:
// interleaved rounds, best of each); the allocation counts are taken here.
func PushCost(ctx context.Context, o PushCostOptions) (*Result, error) {
	n, sdkN, allocN := 50000, 20000, 2000
	if o.Quick {
		n, sdkN, allocN = 200, 100, 50
	}
	post, err := serverbench.PushCPU(n)
	if err != nil {
		return nil, fmt.Errorf("push CPU: %w", err)
	}
	queued, err := serverbench.PushQueuedCPU(n)
	if err != nil {
		return nil, fmt.Errorf("queued push CPU: %w", err)
	}
	sdkPeer, err := serverbench.SDKPeer(sdkN)
	if err != nil {
		return nil, fmt.Errorf("SDK peer CPU: %w", err)
	}
	allocs, err := pushAllocs(ctx, allocN)
	if err != nil {
		return nil, err
	}
	us := func(ns float64) float64 { return ns / 1e3 }
	r := &Result{
		Title: "Push cost: CPU and allocations per @connections POST",
		Params: map[string]any{"pushes_cpu": n, "pushes_sdk": sdkN, "pushes_allocs": allocN, "frame_bytes": len(sampleFrame()),
			"sink": "in-memory RoundTripper answering 200"},
		Columns: []Column{
			{Key: "cpu_us_per_op", Header: "CPU µs/push", Chart: true},
			{Key: "allocs_per_op", Header: "allocs/push", Chart: true},
			{Key: "bytes_per_op", Header: "bytes/push"},
		},
	}
	row := func(name, role string, cpuNs float64) {
		m := map[string]float64{"cpu_us_per_op": us(cpuNs)}
		if a, ok := allocs[name]; ok {
			m["allocs_per_op"], m["bytes_per_op"] = a.allocs, a.bytes
		}
		r.add(name, role, m)
	}
	row(pathBare, RoleBaseline, post.Baseline)
	row(pathPost, RoleSubject, post.Value)
	row(pathQueued, RoleSubject, queued.Value)
	row(pathSDK, RoleReference, sdkPeer.Value)
	r.Goals = []Goal{
		NewGoal("CPU per push (Post) vs bare signed request", post.Ratio, "<=", 1.25, "x"),
		NewGoal("CPU per push (queued Send) vs bare signed request", queued.Ratio, "<=", 1.25, "x"),
		NewGoal("allocations per push (Post) vs bare signed request", ratio(allocs[pathPost].allocs, allocs[pathBare].allocs), "<=", 1.25, "x"),
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("the queued path's bare baseline measured %.2f µs in its own interleaved rounds", us(queued.Baseline)),
		fmt.Sprintf("SDK PostToConnection costs %.2fx push.Client.Post's CPU and %.2fx the bare request's (reference peer; anchor ≈4.5x)",
			sdkPeer.Ratio, sdkPeer.Ratio*post.Ratio))
	return r, nil
}

// Names of the push paths.
const (
	pathBare   = "bare signed http.Request"
	pathPost   = "push.Client.Post"
	pathQueued = "push.Client.Send (queued)"
	pathSDK    = "aws-sdk-go-v2 PostToConnection"
)

type allocCost struct{ allocs, bytes float64 }

// pushAllocs counts heap allocations and bytes per push for each path.
func pushAllocs(ctx context.Context, n int) (map[string]allocCost, error) {
	frame := sampleFrame()
	sink := &http.Client{Transport: discardTransport{}}
	creds := credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, "")
	const callback = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
	client, err := push.New(push.Config{CallbackURL: callback, Region: localRegion, Credentials: creds, HTTPClient: sink, Concurrency: 8})
	if err != nil {
		return nil, err
	}
	defer client.Close(context.Background())
	sdk := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region: localRegion, Credentials: aws.NewCredentialsCache(creds), BaseEndpoint: aws.String(callback), HTTPClient: sink,
	})
	bare := newBareSigner(callback, creds)
	paths := map[string]func(n int) error{
		pathBare: func(n int) error {
			for i := range n {
				if err := bare.post(ctx, sink, connIDs[i%len(connIDs)], frame); err != nil {
					return err
				}
			}
			return nil
		},
		pathPost: func(n int) error {
			for i := range n {
				if err := client.Post(ctx, connIDs[i%len(connIDs)], frame); err != nil {
					return err
				}
			}
			return nil
		},
		pathQueued: func(n int) error {
			for i := range n {
				client.Send(connIDs[i%len(connIDs)], frame)
			}
			return client.Flush(ctx)
		},
		pathSDK: func(n int) error {
			for i := range n {
				in := &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(connIDs[i%len(connIDs)]), Data: frame}
				if _, err := sdk.PostToConnection(ctx, in); err != nil {
					return fmt.Errorf("sdk PostToConnection: %w", err)
				}
			}
			return nil
		},
	}
	out := map[string]allocCost{}
	for name, run := range paths {
		if err := run(n / 10); err != nil { // warm-up: pools, credential cache
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		c, err := measure(n, run)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m := c.metrics()
		out[name] = allocCost{allocs: m["allocs_per_op"], bytes: m["bytes_per_op"]}
	}
	return out, nil
}

// connIDs are connection ids shaped like API Gateway's.
var connIDs = []string{"Wm1nYcO3IAMCJ2w=", "Xk2oZdP4JBNDK3x=", "Yl3pAeQ5KCOEL4y=", "Zm4qBfR6LDPFM5z="}

// sampleFrame is a typical response_vm push (a ChatRoom message added).
func sampleFrame() []byte {
	data := `{"Messages_add":{"Id":638500000000000001,"UserId":"Wm1nYcO3IAMCJ2w=","UserName":"user1","Date":"2024-05-01T10:00:00+00:00","Text":"Hello everyone, this is a chat message"}}`
	return protocol.Response("ChatRoomVM", []byte(data))
}

// discardTransport answers every request 200 after reading its body: the cost of the
// network is left out so only the client's CPU and allocations are measured.
type discardTransport struct{}

func (discardTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: http.NoBody, ContentLength: 0, Request: req}, nil
}

// bareSigner is the baseline: the least a correct push must do: build the request, hash
// the body, sign it with the SDK's v4 signer, send it and drain the answer.
type bareSigner struct {
	base   string
	creds  aws.CredentialsProvider
	signer *v4.Signer
}

func newBareSigner(callback string, creds aws.CredentialsProvider) *bareSigner {
	return &bareSigner{base: callback + "/%40connections/", creds: aws.NewCredentialsCache(creds),
		signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
}

func (b *bareSigner) request(ctx context.Context, connID string, frame []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base+escapeID(connID), bytes.NewReader(frame))
	if err != nil {
		return nil, fmt.Errorf("bare request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	creds, err := b.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("bare request credentials: %w", err)
	}
	sum := sha256.Sum256(frame)
	if err := b.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", localRegion, time.Now()); err != nil {
		return nil, fmt.Errorf("bare request sign: %w", err)
	}
	return req, nil
}

func (b *bareSigner) post(ctx context.Context, hc *http.Client, connID string, frame []byte) error {
	req, err := b.request(ctx, connID, frame)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("bare post: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bare post to %s: status %d", connID, resp.StatusCode)
	}
	return nil
}

// escapeID percent-encodes a connection id once (API Gateway ids may hold '=' and '+').
func escapeID(id string) string {
	const hexUpper = "0123456789ABCDEF"
	var b []byte
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if 'A' <= ch && ch <= 'Z' || 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_' || ch == '.' || ch == '~' {
			b = append(b, ch)
			continue
		}
		b = append(b, '%', hexUpper[ch>>4], hexUpper[ch&0xf])
	}
	return string(b)
}
