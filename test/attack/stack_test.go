package attack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/localgateway/cfn"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

// waitLimit bounds every wait for a frame; reaching it is a failure, never a
// synchronisation.
const waitLimit = 5 * time.Second

// request is one integration request the server received, with its answer.
type request struct {
	path   string
	header http.Header
	body   []byte
	status int
}

// recorder keeps every integration request the server answers.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []request
}

// ServeHTTP records the request before handling it and its status before the answer
// leaves, so a client that got a frame or an upgrade finds the request recorded.
func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec.mu.Lock()
	i := len(rec.reqs)
	rec.reqs = append(rec.reqs, request{path: r.URL.Path, header: r.Header.Clone(), body: body})
	rec.mu.Unlock()
	rec.next.ServeHTTP(&statusWriter{ResponseWriter: w, rec: rec, i: i}, r)
}

func (rec *recorder) all() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

// statusWriter notes the status of request i in the recorder.
type statusWriter struct {
	http.ResponseWriter
	rec *recorder
	i   int
}

func (w *statusWriter) WriteHeader(status int) {
	w.rec.mu.Lock()
	w.rec.reqs[w.i].status = status
	w.rec.mu.Unlock()
	w.ResponseWriter.WriteHeader(status)
}

// stack is the local gateway serving a template, with the server behind it: the demo view
// models, the integration handler, and a push client signing to the gateway's
// @connections URL, as `wsgate dev` runs them.
type stack struct {
	t   *testing.T
	api *cfn.API
	ws  string
	rec *recorder
}

// startStack serves template (the bytes of a CloudFormation template) through the gateway.
func startStack(t *testing.T, template []byte) *stack {
	t.Helper()
	secrets, err := cfn.SameSecret(template, cfn.Options{}, "attack-integration-secret")
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	apis, err := cfn.Parse(template, cfn.Options{Secrets: secrets})
	if err != nil {
		t.Fatalf("template: %v", err)
	}
	creds := localgateway.Credentials{AccessKeyID: contract.DefaultLocalAccessKeyID, SecretAccessKey: contract.DefaultLocalSecretAccessKey, Region: contract.DefaultLocalRegion}

	serverLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse("http://" + serverLn.Addr().String())
	gw, err := localgateway.New(localgateway.Config{API: apis[0], Backend: backend, Credentials: creds})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	gwLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wsURL, callbackURL := gw.URLs(gwLn)
	gwSrv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = gwSrv.Serve(gwLn) }()

	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: callbackURL, Region: creds.Region},
		Registry:    reg,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: srv.Handler()}
	app := httptest.NewUnstartedServer(rec)
	app.Listener.Close()
	app.Listener = serverLn
	app.Start()

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = gwSrv.Close()
		app.Close()
		_ = srv.Close(ctx)
	})
	return &stack{t: t, api: apis[0], ws: wsURL, rec: rec}
}

// client is one browser's socket, speaking the dotnetify client's frames.
type client struct {
	t  *testing.T
	c  *websocket.Conn
	id string // the gateway's connection id, as the server saw it at $connect
}

// dial connects a client (with extra handshake headers, if any) and learns its connection
// id from the $connect request the server answered before the upgrade completed.
func (s *stack) dial(header http.Header) *client {
	s.t.Helper()
	before := len(s.rec.all())
	c, resp, err := websocket.DefaultDialer.Dial(s.ws, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		s.t.Fatalf("dial %s: %v (status %d)", s.ws, err, status)
	}
	s.t.Cleanup(func() { c.Close() })
	reqs := s.rec.all()[before:]
	if len(reqs) != 1 || reqs[0].path != contract.PathMessage {
		s.t.Fatalf("$connect: the server saw %d requests: %+v", len(reqs), reqs)
	}
	var body struct{ ConnectionID string }
	if err := json.Unmarshal(reqs[0].body, &body); err != nil || body.ConnectionID == "" {
		s.t.Fatalf("$connect body %q: %v", reqs[0].body, err)
	}
	return &client{t: s.t, c: c, id: body.ConnectionID}
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next text frame.
func (c *client) read() string {
	c.t.Helper()
	data, err := c.tryRead()
	if err != nil {
		c.t.Fatalf("%s: %v", c.id, err)
	}
	return data
}

// tryRead returns the next text frame, or why there is none within waitLimit.
func (c *client) tryRead() (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(waitLimit))
	typ, data, err := c.c.ReadMessage()
	if err != nil {
		return "", fmt.Errorf("read: %w", err)
	}
	if typ != websocket.TextMessage {
		return "", fmt.Errorf("frame type %d, want text", typ)
	}
	return string(data), nil
}

// expect reads the next frame and checks it.
func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.read(); got != want {
		c.t.Fatalf("%s: frame\n got %s\nwant %s", c.id, got, want)
	}
}

// data reads the next frame, checks it is a response_vm for vmID and returns its data
// decoded.
func (c *client) data(vmID string) map[string]json.RawMessage {
	c.t.Helper()
	frame := c.read()
	var env struct{ CallType, VMID, Data string }
	if err := json.Unmarshal([]byte(frame), &env); err != nil || env.CallType != "response_vm" || env.VMID != vmID {
		c.t.Fatalf("%s: frame %s, want a response_vm for %s (%v)", c.id, frame, vmID, err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal([]byte(env.Data), &data); err != nil {
		c.t.Fatalf("%s: data of %s: %v", c.id, frame, err)
	}
	return data
}

func readTemplate(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
