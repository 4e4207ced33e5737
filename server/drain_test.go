package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

// On shutdown /healthz answers 503 while the listener still accepts, for the whole drain
// window, and the listener closes only when the window ends. The window's clock is the
// test's: it ends when the test has seen the 503, not after a sleep.
func TestHealthzIs503ForTheDrainWindowBeforeTheListenerCloses(t *testing.T) {
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	const window = 7 * time.Second
	s, err := New(Config{
		Settings:    config.Config{CallbackURL: sk.URL, Region: contract.DefaultLocalRegion, DrainWindow: window},
		Registry:    vm.NewRegistry(),
		Credentials: credentials.NewStaticCredentialsProvider(contract.DefaultLocalAccessKeyID, contract.DefaultLocalSecretAccessKey, ""),
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	asked := make(chan time.Duration, 1)
	end := make(chan time.Time)
	s.after = func(d time.Duration) <-chan time.Time { asked <- d; return end }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	health := "http://" + ln.Addr().String() + contract.PathHealth
	// Each probe on a new connection, as a load balancer's health check.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	probe := func() (int, error) {
		resp, err := client.Get(health)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	if code, err := probe(); err != nil || code != http.StatusOK {
		t.Fatalf("healthz before shutdown: %d %v", code, err)
	}
	stop()
	if d := <-asked; d != window {
		t.Errorf("drain window %v, want %v", d, window)
	}
	// The window has begun and not ended: the listener must be open and the check failing.
	for range 3 {
		if code, err := probe(); err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("healthz during the drain window: %d %v, want 503", code, err)
		}
	}
	close(end)
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := probe(); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("healthz after the window: %v, want connection refused", err)
	}
}
