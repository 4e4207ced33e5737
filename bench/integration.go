package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/vm"
)

// IntegrationOptions configure Integration.
type IntegrationOptions struct {
	// Quick sends a few hundred updates instead of tens of thousands.
	Quick bool
	// Clients is the number of concurrent connections posting (default 32, quick 4).
	Clients int
	// Updates is the number of update_vm posts per client (default 1000, quick 50).
	Updates int
}

// Integration measures HelloWorld update_vm requests per second at the server's
// integration endpoint (each answered by a FullName push the runtime produces) against a
// no-op net/http handler under the same client load. Goal: at least 0.5x.
func Integration(ctx context.Context, o IntegrationOptions) (*Result, error) {
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 4, 32)
	}
	if o.Updates == 0 {
		o.Updates = pick2(o.Quick, 50, 1000)
	}
	total := o.Clients * o.Updates
	r := &Result{
		Title:  "Integration throughput: HelloWorld update_vm at POST /api/dotnetify/vm",
		Params: map[string]any{"clients": o.Clients, "updates_per_client": o.Updates},
		Columns: []Column{
			{Key: "ops_per_sec", Header: "requests/s", Chart: true},
			{Key: "cpu_us_per_op", Header: "CPU µs/request", Chart: true},
			{Key: "allocs_per_op", Header: "allocs/request"},
		},
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	})
	base, err := postLoad(ctx, noop, o.Clients, o.Updates, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("no-op handler: %w", err)
	}
	r.add("no-op net/http handler", RoleBaseline, base.metrics())

	var pushed atomic.Int64
	done := make(chan struct{})
	want := int64(total)
	sender := vm.SenderFunc(func(string, []byte) {
		if pushed.Add(1) == want {
			close(done)
		}
	})
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		return nil, fmt.Errorf("register view models: %w", err)
	}
	rt := vm.New(vm.Config{Registry: reg, Sender: sender})
	h := integration.NewHandler(integration.Config{Runtime: rt})
	setup := func(hc *http.Client, url string, i int) error {
		return postOK(ctx, hc, url, integrationBody(clientID(i), `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`))
	}
	wait := func() error {
		select {
		case <-done:
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("only %d of %d FullName pushes after 30s", pushed.Load(), total)
		}
	}
	pushed.Store(-int64(o.Clients)) // the request_vm answers are not counted
	got, err := postLoad(ctx, h, o.Clients, o.Updates, setup, wait)
	if err != nil {
		return nil, fmt.Errorf("wsgate integration handler: %w", err)
	}
	r.add("wsgate HelloWorld update_vm", RoleSubject, got.metrics())
	r.Goals = []Goal{NewGoal("HelloWorld updates/s vs no-op handler", ratio(r.Metric("wsgate HelloWorld update_vm", "ops_per_sec"), r.Metric("no-op net/http handler", "ops_per_sec")), ">=", 0.5, "x")}
	r.Notes = append(r.Notes, "each update is timed until its FullName push left the runtime (the push sink counts, it does not send)")
	return r, nil
}

// postLoad serves h on 127.0.0.1, runs setup for each client, then measures clients ×
// updates HelloWorld update_vm posts and, when given, wait for the work they caused.
func postLoad(ctx context.Context, h http.Handler, clients, updates int, setup func(*http.Client, string, int) error, wait func() error) (cost, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return cost{}, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + integration.PathMessage
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	if setup != nil {
		for i := range clients {
			if err := setup(hc, url, i); err != nil {
				return cost{}, err
			}
		}
	}
	bodies := make([][][]byte, clients)
	for i := range clients {
		for u := range updates {
			bodies[i] = append(bodies[i], integrationBody(clientID(i), `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"N`+strconv.Itoa(u)+`\"}"}`))
		}
	}
	return measure(clients*updates, func(int) error {
		errs := make(chan error, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				for _, b := range bodies[i] {
					if err := postOK(ctx, hc, url, b); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		if wait != nil {
			return wait()
		}
		return nil
	})
}

func integrationBody(connID, payload string) []byte {
	return []byte(`{"connectionId":"` + connID + `","sourceIp":"127.0.0.1","userAgent":"wsgate-bench","payload":` + payload + `}`)
}

func postOK(ctx context.Context, hc *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post %s: status %d: %s", url, resp.StatusCode, msg)
	}
	return nil
}

func clientID(i int) string { return "bench-conn-" + strconv.Itoa(i) + "=" }

// pick2 returns quick when q is set, otherwise full.
func pick2[T any](q bool, quick, full T) T {
	if q {
		return quick
	}
	return full
}
