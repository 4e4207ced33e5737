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

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/push"
)

// Local credentials every scenario signs with (the local gateway's defaults).
const (
	localAccessKey = "AKIAWSGATELOCAL00000"
	localSecretKey = "wsgate-local-secret"
	localRegion    = "us-east-1"
)

// PushCostOptions configure PushCost.
type PushCostOptions struct {
	// Quick measures for a few milliseconds instead of about half a second per path.
	Quick bool
}

// PushCost measures the server's CPU time and allocations per push (push.Client.Post, and
// the queued Send path the runtime uses) against a bare signed http.Request to the same
// sink, with the aws-sdk-go-v2 PostToConnection call as a reference peer. The sink is an
// in-memory RoundTripper answering 200, so the figures are the client's own cost, not the
// network's. Goal: at most 1.25x the bare request.
func PushCost(ctx context.Context, o PushCostOptions) (*Result, error) {
	target, rounds := 500*time.Millisecond, 3
	if o.Quick {
		target, rounds = 5*time.Millisecond, 1
	}
	frame := sampleFrame()
	sink := &discardTransport{}
	creds := credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, "")
	const callback = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
	client, err := push.New(push.Config{
		CallbackURL: callback, Region: localRegion, Credentials: creds,
		HTTPClient: &http.Client{Transport: sink}, Concurrency: 8,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close(context.Background())
	sdk := apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		Region: localRegion, Credentials: aws.NewCredentialsCache(creds),
		BaseEndpoint: aws.String(callback), HTTPClient: &http.Client{Transport: sink},
	})
	bare := newBareSigner(callback, creds)
	bareClient := &http.Client{Transport: sink}

	paths := []struct {
		name, role string
		run        func(n int) error
	}{
		{"bare signed http.Request", RoleBaseline, func(n int) error {
			for i := range n {
				if err := bare.post(ctx, bareClient, connIDs[i%len(connIDs)], frame); err != nil {
					return err
				}
			}
			return nil
		}},
		{"push.Client.Post", RoleSubject, func(n int) error {
			for i := range n {
				if err := client.Post(ctx, connIDs[i%len(connIDs)], frame); err != nil {
					return err
				}
			}
			return nil
		}},
		{"push.Client.Send (queued)", RoleSubject, func(n int) error {
			for i := range n {
				client.Send(connIDs[i%len(connIDs)], frame)
			}
			return client.Flush(ctx)
		}},
		{"aws-sdk-go-v2 PostToConnection", RoleReference, func(n int) error {
			for i := range n {
				_, err := sdk.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(connIDs[i%len(connIDs)]), Data: frame,
				})
				if err != nil {
					return fmt.Errorf("sdk PostToConnection: %w", err)
				}
			}
			return nil
		}},
	}
	r := &Result{
		Title:  "Push cost: CPU and allocations per @connections POST",
		Params: map[string]any{"frame_bytes": len(frame), "measure_seconds": target.Seconds(), "rounds": rounds, "sink": "in-memory RoundTripper answering 200"},
		Columns: []Column{
			{Key: "cpu_us_per_op", Header: "CPU µs/push", Chart: true},
			{Key: "allocs_per_op", Header: "allocs/push", Chart: true},
			{Key: "bytes_per_op", Header: "bytes/push"},
			{Key: "ops_per_cpu_sec", Header: "pushes/CPU-s"},
		},
	}
	for _, p := range paths {
		c, err := measureBest(target, rounds, p.run)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		r.add(p.name, p.role, c.metrics())
	}
	base := r.Metric("bare signed http.Request", "cpu_us_per_op")
	baseAllocs := r.Metric("bare signed http.Request", "allocs_per_op")
	r.Goals = []Goal{
		NewGoal("CPU per push (Post) vs bare signed request", ratio(r.Metric("push.Client.Post", "cpu_us_per_op"), base), "<=", 1.25, "x"),
		NewGoal("CPU per push (queued Send) vs bare signed request", ratio(r.Metric("push.Client.Send (queued)", "cpu_us_per_op"), base), "<=", 1.25, "x"),
		NewGoal("allocations per push (Post) vs bare signed request", ratio(r.Metric("push.Client.Post", "allocs_per_op"), baseAllocs), "<=", 1.25, "x"),
	}
	r.Notes = append(r.Notes, fmt.Sprintf("SDK PostToConnection costs %.2fx the bare request's CPU (reference peer, no goal)",
		ratio(r.Metric("aws-sdk-go-v2 PostToConnection", "cpu_us_per_op"), base)))
	return r, nil
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
