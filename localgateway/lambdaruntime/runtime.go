// Package lambdaruntime runs Lambda functions on this machine, without SAM or a container:
// a small implementation of the Lambda Runtime API (the interface an unmodified
// github.com/aws/aws-lambda-go lambda.Start polls through AWS_LAMBDA_RUNTIME_API) for each
// function instance, and the Lambda Invoke API (POST /2015-03-31/functions/{name}/invocations)
// in front of them, which the local gateway's --lambda-endpoint calls, for example to run a
// $connect authorizer.
//
// A Function is one instance: it runs one invocation at a time, as a Lambda execution
// environment does. Everything is bounded: event and response sizes (6 MiB, Lambda's
// synchronous limit), the invocations waiting for the instance, and the time an invocation
// may take, with an error that says which bound was crossed.
package lambdaruntime

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config, Lambda's own where Lambda has one.
const (
	// DefaultTimeout is Lambda's default function timeout.
	DefaultTimeout = 3 * time.Second
	// DefaultMaxPayloadBytes is Lambda's limit on a synchronous event and response.
	DefaultMaxPayloadBytes = 6 << 20
	// DefaultMaxWaiting bounds the invocations waiting for a busy instance.
	DefaultMaxWaiting = 64
)

// runtimePrefix is the Runtime API's path prefix (version 2018-06-01).
const runtimePrefix = "/2018-06-01/runtime/"

// Config configures a Function.
type Config struct {
	// Timeout bounds an invocation from the Invoke call to the function's answer,
	// waiting for the instance included. Default: DefaultTimeout.
	Timeout time.Duration
	// MaxPayloadBytes bounds an event and a response. Default: DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// MaxWaiting bounds the invocations waiting while the instance is busy; more are
	// refused with ErrTooManyRequests. Default: DefaultMaxWaiting.
	MaxWaiting int
	// Region and AccountID make the invoked function's ARN. Default: us-east-1 and
	// 000000000000.
	Region, AccountID string
}

// Errors of Invoke that are not the function's own.
var (
	// ErrTooManyRequests: MaxWaiting invocations already wait for the instance.
	ErrTooManyRequests = errors.New("too many invocations waiting for the function instance")
	// ErrTooLarge: the event is over MaxPayloadBytes.
	ErrTooLarge = errors.New("the event is over the payload limit")
	// ErrNotPolling: no process asked the Runtime API for an invocation in time.
	ErrNotPolling = errors.New("no runtime asked for the invocation")
)

// Result is a function's answer: its response, or with FunctionError set ("Unhandled")
// the error document {"errorMessage", "errorType", …} it reported, as the Invoke API
// returns them.
type Result struct {
	Payload       []byte
	FunctionError string
}

// Function is one instance of a Lambda function: its process polls ServeHTTP (the Runtime
// API) and Invoke hands it events one at a time.
type Function struct {
	name string
	cfg  Config
	// slot holds the one invocation the instance may run; Invoke waits for it.
	slot    chan struct{}
	waiting atomic.Int32
	// offered carries the current invocation to the process's GET …/invocation/next.
	offered chan *invocation
	seq     atomic.Uint64

	mu      sync.Mutex
	running map[string]*invocation // taken by the process, not yet answered
}

// invocation is one event on its way through the instance.
type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	done     chan Result // buffered 1: the first answer wins
}

// New returns an instance of the function called name.
func New(name string, cfg Config) *Function {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	return &Function{name: name, cfg: cfg, slot: make(chan struct{}, 1), offered: make(chan *invocation), running: map[string]*invocation{}}
}

// Name is the function's name.
func (f *Function) Name() string { return f.name }

// Arn is the function's ARN, as the Runtime API tells the process.
func (f *Function) Arn() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.cfg.Region, f.cfg.AccountID, f.name)
}

// Invoke runs event on the instance and returns the function's answer. A function that
// fails, or takes longer than Timeout once it has the event, gives a Result with
// FunctionError "Unhandled", as Lambda does. The errors are ErrTooLarge, ErrTooManyRequests,
// ErrNotPolling (no process took the event within Timeout), or ctx's.
func (f *Function) Invoke(ctx context.Context, event []byte) (Result, error) {
	if len(event) > f.cfg.MaxPayloadBytes {
		return Result{}, fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(event), f.cfg.MaxPayloadBytes)
	}
	if int(f.waiting.Add(1)) > f.cfg.MaxWaiting {
		f.waiting.Add(-1)
		return Result{}, fmt.Errorf("function %s: %w (%d)", f.name, ErrTooManyRequests, f.cfg.MaxWaiting)
	}
	deadline := time.Now().Add(f.cfg.Timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	select {
	case f.slot <- struct{}{}:
		f.waiting.Add(-1)
	case <-ctx.Done():
		f.waiting.Add(-1)
		return Result{}, f.notTaken(ctx)
	}
	defer func() { <-f.slot }()

	inv := &invocation{id: f.nextID(), event: event, deadline: deadline, done: make(chan Result, 1)}
	select {
	case f.offered <- inv:
	case <-ctx.Done():
		return Result{}, f.notTaken(ctx)
	}
	select {
	case r := <-inv.done:
		return r, nil
	case <-ctx.Done():
		f.forget(inv.id)
		if ctx.Err() == context.DeadlineExceeded {
			return f.timedOut(inv.id), nil
		}
		return Result{}, ctx.Err()
	}
}

// notTaken is the error of an invocation no process took before ctx ended.
func (f *Function) notTaken(ctx context.Context) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("function %s: %w within %s: is its process running with AWS_LAMBDA_RUNTIME_API set to this function's Runtime API address, and not busy with an earlier event?", f.name, ErrNotPolling, f.cfg.Timeout)
	}
	return ctx.Err()
}

// timedOut is Lambda's answer when the function overran its timeout.
func (f *Function) timedOut(id string) Result {
	doc, _ := json.Marshal(map[string]string{
		"errorType":    "Sandbox.Timedout",
		"errorMessage": fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", id, f.cfg.Timeout.Seconds()),
	})
	return Result{Payload: doc, FunctionError: "Unhandled"}
}

func (f *Function) nextID() string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", time.Now().Unix()&0xffffffff, f.seq.Add(1))
}

// forget drops an invocation whose caller stopped waiting; a late answer then gets 400.
func (f *Function) forget(id string) {
	f.mu.Lock()
	delete(f.running, id)
	f.mu.Unlock()
}

// ServeHTTP serves the Runtime API to the function's process:
// GET /2018-06-01/runtime/invocation/next, POST …/invocation/{id}/response,
// POST …/invocation/{id}/error and POST /2018-06-01/runtime/init/error.
func (f *Function) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !fromProcess(r) {
		writeJSONError(w, http.StatusForbidden, "Forbidden", "the Runtime API answers local processes only, not web pages")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, runtimePrefix)
	switch {
	case !ok:
		writeJSONError(w, http.StatusNotFound, "NotFound", "not a Runtime API path: "+r.URL.Path)
	case rest == "invocation/next" && r.Method == http.MethodGet:
		f.next(w, r)
	case rest == "init/error" && r.Method == http.MethodPost:
		// The process failed before its first poll; Invoke then reports ErrNotPolling.
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, int64(f.cfg.MaxPayloadBytes)))
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(rest, "invocation/") && r.Method == http.MethodPost:
		id, kind, _ := strings.Cut(strings.TrimPrefix(rest, "invocation/"), "/")
		if kind != "response" && kind != "error" {
			writeJSONError(w, http.StatusNotFound, "NotFound", "not a Runtime API path: "+r.URL.Path)
			return
		}
		f.answer(w, r, id, kind == "error")
	default:
		writeJSONError(w, http.StatusNotFound, "NotFound", "not a Runtime API path: "+r.Method+" "+r.URL.Path)
	}
}

// fromProcess refuses what a web page could send: browsers add Origin or Sec-Fetch-* to
// cross-site requests, and a DNS-rebound name would arrive as a Host other than an IP or
// localhost. The runtime client of aws-lambda-go sends none of these.
func fromProcess(r *http.Request) bool {
	if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Mode") != "" {
		return false
	}
	host := r.Host
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

// next hands the process the next invocation, waiting until there is one or the process
// goes away.
func (f *Function) next(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-f.offered:
	case <-r.Context().Done():
		return
	}
	f.mu.Lock()
	f.running[inv.id] = inv
	f.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", f.Arn())
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-"+strings.Repeat("0", 24)+";Sampled=0")
	_, _ = w.Write(inv.event)
}

// answer takes the process's response or error for invocation id.
func (f *Function) answer(w http.ResponseWriter, r *http.Request, id string, failed bool) {
	f.mu.Lock()
	inv := f.running[id]
	delete(f.running, id)
	f.mu.Unlock()
	if inv == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, int64(f.cfg.MaxPayloadBytes)))
		writeJSONError(w, http.StatusBadRequest, "InvalidRequestID", fmt.Sprintf("invocation %q is not running (unknown, answered, or past its timeout)", id))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(f.cfg.MaxPayloadBytes)+1))
	switch {
	case err != nil:
		inv.done <- failure("Runtime.ResponseError", "reading the function's answer: "+err.Error())
		writeJSONError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	case len(body) > f.cfg.MaxPayloadBytes:
		msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", f.cfg.MaxPayloadBytes)
		inv.done <- failure("Function.ResponseSizeTooLarge", msg)
		writeJSONError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		return
	}
	switch {
	case failed:
		inv.done <- Result{Payload: body, FunctionError: "Unhandled"}
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// aws-lambda-go reports an error while streaming the response in trailers.
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		if !json.Valid(doc) {
			doc, _ = json.Marshal(map[string]string{"errorType": r.Trailer.Get("Lambda-Runtime-Function-Error-Type"), "errorMessage": "the function failed while sending its response"})
		}
		inv.done <- Result{Payload: doc, FunctionError: "Unhandled"}
	default:
		inv.done <- Result{Payload: body}
	}
	w.WriteHeader(http.StatusAccepted)
}

// failure is an error document the runtime makes on the function's behalf.
func failure(errorType, msg string) Result {
	doc, _ := json.Marshal(map[string]string{"errorType": errorType, "errorMessage": msg})
	return Result{Payload: doc, FunctionError: "Unhandled"}
}

func writeJSONError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": errorType, "errorMessage": msg})
}
