package integration_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/vm"
)

// Every malformed class gets a 4xx with a JSON error saying what was wrong, and the session
// is untouched: the next good update still works on the same view model.
func TestBadInputIsRejectedAndChangesNothing(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.send(conn, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	big := `{"connectionId":"` + conn + `","payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"` + strings.Repeat("x", 200<<10) + `\"}"}}`
	tests := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"not JSON", integration.PathMessage, `FirstName=Jane`, 400, `{"error":"body is not a JSON object: not an object"}`},
		{"no connectionId", integration.PathMessage, `{"payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"X\"}"}}`, 400, `{"error":"connectionId is missing"}`},
		{"unknown callType", integration.PathMessage, `{"connectionId":"` + conn + `","payload":{"callType":"hack_vm","vmId":"HelloWorldVM"}}`, 400, `{"error":"payload.callType \"hack_vm\" is not one of request_vm, update_vm, dispose_vm"}`},
		{"object value", integration.PathMessage, `{"connectionId":"` + conn + `","payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":{"FirstName":"X"}}}`, 400, `{"error":"payload.value must be a string, got an object"}`},
		{"object vmArgs", integration.PathMessage, `{"connectionId":"` + conn + `","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":{}}}`, 400, `{"error":"payload.vmArgs must be a string, got an object"}`},
		{"oversize", integration.PathMessage, big, 413, `{"error":"body is over the limit of 163840 bytes"}`},
		{"disconnect without id", integration.PathDisconnect, `{}`, 400, `{"error":"connectionId is missing"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := s.post(tt.path, tt.body)
			if status != tt.status || strings.TrimSpace(body) != tt.want {
				t.Errorf("got %d %s, want %d %s", status, body, tt.status, tt.want)
			}
		})
	}
	s.send(conn, `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"LastName\":\"Doe\"}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Hello Doe\"}"}`)
	s.quiet(conn)
}

func TestMethodsAndPaths(t *testing.T) {
	s := newStack(t, stackOptions{})
	resp, err := http.Get(s.server.URL + integration.PathMessage)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s = %d", integration.PathMessage, resp.StatusCode)
	}
	if status, _ := s.post("/api/other", `{}`); status != http.StatusNotFound {
		t.Errorf("unknown path = %d", status)
	}
}

func TestSharedSecret(t *testing.T) {
	s := newStack(t, stackOptions{secret: "s3cret"})
	body := `{"connectionId":"` + conn + `","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`
	for _, h := range [][]string{nil, {integration.SecretHeader, "wrong"}, {integration.SecretHeader, "s3cre"}} {
		status, resp := s.post(integration.PathMessage, body, h...)
		if status != http.StatusUnauthorized || strings.TrimSpace(resp) != `{"error":"missing or wrong X-Wsgate-Secret header"}` {
			t.Errorf("header %q: %d %s", h, status, resp)
		}
	}
	s.quiet(conn)
	if status, _ := s.post(integration.PathMessage, body, integration.SecretHeader, "s3cret"); status != http.StatusOK {
		t.Fatalf("right secret: %d", status)
	}
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	// The health check needs no secret.
	resp, err := http.Get(s.server.URL + integration.PathHealth)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A panic in view-model code is an exception payload for that view model; the server and
// the other view models keep working.
func TestPanicBecomesExceptionPayload(t *testing.T) {
	s := newStack(t, stackOptions{register: func(r *vm.Registry) error {
		return vm.Register(r, "PanicVM", func(*vm.Request) (*panicky, error) { return &panicky{}, nil }, vm.Commands("Explode"))
	}})
	s.send(conn, `{"callType":"request_vm","vmId":"PanicVM","vmArgs":"{}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"PanicVM","data":"{\"N\":0}"}`)
	s.send(conn, `{"callType":"update_vm","vmId":"PanicVM","value":"{\"Explode\":null}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"PanicVM","data":"{\"ExceptionType\":\"Exception\",\"Message\":\"internal error in view model\"}"}`)
	s.send(conn, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	s.quiet(conn)
}

type panicky struct {
	vm.Base
	N int
}

func (p *panicky) Explode() { panic("unexpected state") }

// On shutdown Serve runs Unready while the listener still accepts, then closes it, then runs
// the steps in order: queued pushes are delivered before Serve returns.
func TestServeShutsDownInOrder(t *testing.T) {
	s := newStack(t, stackOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	var events []string
	sd := integration.Shutdown{
		Timeout: 5 * time.Second,
		Unready: func() {
			resp, err := http.Get(url + integration.PathHealth)
			if err != nil {
				events = append(events, "unready: "+err.Error())
				return
			}
			resp.Body.Close()
			events = append(events, fmt.Sprintf("unready: healthz %d", resp.StatusCode))
		},
		Steps: []func(context.Context) error{
			func(ctx context.Context) error { events = append(events, "flush"); return s.srv.Flush(ctx) },
			func(context.Context) error { events = append(events, "second step"); return nil },
		},
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Any http.Handler: here the server's handler inside a wrapper that adds a route.
	mux := http.NewServeMux()
	mux.Handle("/", s.srv.Handler())
	mux.HandleFunc("GET /extra", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "extra") })
	go func() { done <- integration.Serve(ctx, ln, mux, sd) }()
	for i := range 20 {
		id := "c" + string(rune('a'+i))
		resp, err := http.Post(url+integration.PathMessage, "application/json",
			strings.NewReader(`{"connectionId":"`+id+`","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("post: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(url + "/extra")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "extra" {
		t.Errorf("GET /extra = %d %q", resp.StatusCode, b)
	}
	resp.Body.Close()
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := []string{"unready: healthz 200", "flush", "second step"}; !slices.Equal(events, want) {
		t.Errorf("shutdown ran %q, want %q", events, want)
	}
	if got := s.sink.Accepted(); got != 20 {
		t.Errorf("pushes delivered before exit = %d, want 20", got)
	}
	if _, err := http.Post(url+integration.PathMessage, "application/json", strings.NewReader(`{}`)); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

// SetDraining turns /healthz to 503 for load balancers; the endpoints keep working.
func TestHealthDraining(t *testing.T) {
	s := newStack(t, stackOptions{})
	h := s.srv.Handler().(*integration.Handler)
	for _, tt := range []struct {
		drain bool
		code  int
		body  string
	}{{false, 200, `{"status":"ok"}`}, {true, 503, `{"status":"draining"}`}} {
		if tt.drain {
			h.SetDraining()
		}
		rec := httptestRecorder()
		h.ServeHTTP(rec, httpGet(integration.PathHealth))
		if rec.Code != tt.code || rec.Body.String() != tt.body {
			t.Errorf("healthz (draining %v) = %d %s, want %d %s", tt.drain, rec.Code, rec.Body, tt.code, tt.body)
		}
	}
	s.send("c1", `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
}
