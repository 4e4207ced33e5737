package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

// A whole server: register the view models, then hand over to Main, which reads the
// WSGATE_* environment, serves until SIGTERM and drains.
func ExampleMain() {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
	server.Main(reg)
}

// Main with an authorization hook: every request_vm and update_vm passes through it.
func ExampleWithAuthorize() {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
	server.Main(reg, server.WithAuthorize(func(ctx context.Context, c vm.Caller, vmID string) error {
		if c.Headers["Authorization"] == "" {
			return vm.ErrUnauthorized
		}
		return nil
	}))
}

// New builds the server for embedding and tests; here its handler serves an
// httptest.Server, and a stand-in @connections endpoint prints what is pushed.
func ExampleNew() {
	connections := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		frame, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s\n%s\n", r.Method, r.URL.Path, frame)
	}))
	defer connections.Close()

	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: connections.URL + "/prod"},
		Registry:    reg,
		Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "example-secret", ""),
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	app := httptest.NewServer(srv.Handler())
	defer app.Close()

	// What API Gateway's $default integration posts for the client's request_vm.
	body := `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"request_vm","vmId":"CounterVM","vmArgs":"{}"}}`
	resp, err := http.Post(app.URL+"/api/dotnetify/vm", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Flush(ctx); err != nil {
		fmt.Println(err)
	}
	_ = srv.Close(ctx)
	// Output:
	// POST /prod/@connections/Wm1nYcO3IAMCJ2w=
	// {"callType":"response_vm","vmId":"CounterVM","data":"{\"Count\":0}"}
}
