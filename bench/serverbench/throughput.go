package serverbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// ThroughputRounds is how many interleaved rounds of each HelloWorldThroughput runs. A
// round is a fraction of a second, so a neighbour's burst can ruin one; with five, each side
// has more chances of a quiet one (three gave 0.52x to 0.70x on a machine at load 3 to 9).
const ThroughputRounds = 5

// HelloWorldThroughput compares HelloWorld update_vm requests per second at the integration
// endpoint (decode, view-model update, signed push on a network-free transport; all pushes
// finished before the clock stops) with a no-op net/http handler that reads the same bodies,
// both over loopback HTTP from `clients` concurrent senders. Goal: ≥ 0.7.
func HelloWorldThroughput(requests, clients int) (Result, error) {
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		return Result{}, err
	}
	srv, err := server.New(server.Config{
		Settings:    config.Config{CallbackURL: offlineURL, Region: "us-east-1", PushConcurrency: 8},
		Registry:    reg,
		Credentials: benchKeys,
		HTTPClient:  &http.Client{Transport: &okTransport{}},
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return Result{}, err
	}
	defer srv.Close(context.Background())
	app := httptest.NewServer(srv.Handler())
	defer app.Close()
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer noop.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxIdleConns: 2 * clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for c := range clients {
		if err := postJSON(client, app.URL+integration.PathMessage, `{"connectionId":"c`+strconv.Itoa(c)+`","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`); err != nil {
			return Result{}, err
		}
	}
	settle := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return srv.Flush(ctx)
	}
	if err := settle(); err != nil {
		return Result{}, err
	}
	// Interleaved rounds, best of each, so noise from neighbours hits both alike.
	var base, value float64
	for range ThroughputRounds {
		runtime.GC()
		b, err := load(client, noop.URL+integration.PathMessage, requests, clients, nil)
		if err != nil {
			return Result{}, err
		}
		runtime.GC()
		v, err := load(client, app.URL+integration.PathMessage, requests, clients, settle)
		if err != nil {
			return Result{}, err
		}
		base, value = max(base, b), max(value, v)
	}
	return result("helloworld_updates_per_s", value, base, "req/s", ">=0.7"), nil
}

// load sends requests update bodies from clients goroutines and returns requests per second,
// counting until after() (the push drain) returns.
func load(client *http.Client, url string, requests, clients int, after func() error) (float64, error) {
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	per := requests / clients
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				name := "Jane"
				if i%2 == 1 {
					name = "John"
				}
				body := `{"connectionId":"c` + strconv.Itoa(c) + `","payload":{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"` + name + `\"}"}}`
				if err := postJSON(client, url, body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if after != nil {
		if err := after(); err != nil {
			return 0, err
		}
	}
	return float64(per*clients) / time.Since(start).Seconds(), nil
}

func postJSON(client *http.Client, url, body string) error {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d", url, resp.StatusCode)
	}
	return nil
}

// IdleSessionBytes measures the runtime alone, on purpose: the push client's pool and
// buffers would blur the bytes a session costs.
//
// IdleSessionBytes measures heap bytes per idle connection holding one HelloWorld view model
// (runtime session, view model, store registration) at the given number of sessions,
// against the 2 KiB budget. Goal: ≤ 1.
func IdleSessionBytes(sessions int) (Result, error) {
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		return Result{}, err
	}
	rt := vm.New(vm.Config{Registry: reg, Sender: vm.SenderFunc(func(string, []byte) {})})
	msg, err := protocol.DecodeMessage([]byte(`{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`))
	if err != nil {
		return Result{}, err
	}
	before := heapInUse()
	for i := range sessions {
		rt.Handle(context.Background(), vm.Caller{ConnectionID: fmt.Sprintf("Wm1nYcO3IA%06d=", i), SourceIP: "203.0.113.7"}, msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rt.Drain(ctx); err != nil {
		return Result{}, err
	}
	after := heapInUse()
	if n := rt.Sessions(); n != sessions {
		return Result{}, fmt.Errorf("idle sessions: %d live, want %d", n, sessions)
	}
	runtime.KeepAlive(rt)
	return result("idle_session_bytes", float64(after-before)/float64(sessions), 2048, "B", "<=1 (2 KiB budget)"), nil
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
