package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/server/push"
)

// RoundTripOptions configure RoundTrip.
type RoundTripOptions struct {
	// Quick uses 20 clients and 5 round trips each.
	Quick bool
	// Clients is the number of concurrent clients (default 1,000).
	Clients int
	// Trips is the number of sequential round trips per client and round (default 10).
	Trips int
	// Rounds alternate the two paths; the best p50 of each counts (default 2, quick 1).
	Rounds int
	// Interval is each client's pause between round trips (default 1s, quick 50ms): the
	// clients offer Clients/Interval round trips per second, below what either path can
	// carry, so the figures are latency rather than queueing behind a saturated machine.
	Interval time.Duration
	// GatewayCommand runs the local gateway as a process (see Options); empty: in process.
	GatewayCommand []string
}

// RoundTrip measures update_vm → response_vm latency (HelloWorld: FirstName in, FullName
// out) for concurrent clients through the local gateway and the server, against a raw
// WebSocket echo server on the same machine with the same clients, frames and pacing.
// Goal: p50 at most 4x the echo's.
func RoundTrip(ctx context.Context, o RoundTripOptions) (*Result, error) {
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 20, 1000)
	}
	if o.Trips == 0 {
		o.Trips = pick2(o.Quick, 5, 5)
	}
	if o.Rounds == 0 {
		o.Rounds = pick2(o.Quick, 1, 2)
	}
	if o.Interval == 0 {
		o.Interval = pick2(o.Quick, 50*time.Millisecond, time.Second)
	}
	r := &Result{
		Title: fmt.Sprintf("Round trip: update_vm → response_vm, %d concurrent clients", o.Clients),
		Params: map[string]any{"clients": o.Clients, "trips_per_client_and_round": o.Trips, "rounds": o.Rounds,
			"interval_seconds": o.Interval.Seconds(), "offered_trips_per_sec": float64(o.Clients) / o.Interval.Seconds()},
		Columns: []Column{
			{Key: "p50_ms", Header: "p50 ms", Chart: true},
			{Key: "p99_ms", Header: "p99 ms", Chart: true},
			{Key: "max_ms", Header: "max ms"},
			{Key: "trips_per_sec", Header: "round trips/s"},
		},
	}
	echoURL, stopEcho, err := startEcho()
	if err != nil {
		return nil, err
	}
	defer stopEcho()
	relayURL, stopRelay, err := startRelay()
	if err != nil {
		return nil, err
	}
	defer stopRelay()
	st, err := startStack(stackOptions{Push: push.Config{}, GatewayCommand: o.GatewayCommand})
	if err != nil {
		return nil, err
	}
	defer st.close()
	// Interleaved rounds, the best p50 of each path kept, so that a burst of noise from
	// the rest of the machine hits both alike.
	var echo, relayed, got map[string]float64
	for round := range o.Rounds {
		e, err := measureTrips(ctx, echoURL, o, false)
		if err != nil {
			return nil, fmt.Errorf("raw WebSocket echo, round %d: %w", round+1, err)
		}
		rel, err := measureTrips(ctx, relayURL, o, false)
		if err != nil {
			return nil, fmt.Errorf("two-hop HTTP relay, round %d: %w", round+1, err)
		}
		if relayed == nil || rel["p50_ms"] < relayed["p50_ms"] {
			relayed = rel
		}
		g, err := measureTrips(ctx, st.WS, o, true)
		if err != nil {
			return nil, fmt.Errorf("gateway and server, round %d: %w", round+1, err)
		}
		if echo == nil || e["p50_ms"] < echo["p50_ms"] {
			echo = e
		}
		if got == nil || g["p50_ms"] < got["p50_ms"] {
			got = g
		}
	}
	r.add("raw WebSocket echo (gorilla)", RoleBaseline, echo)
	r.add("two-hop HTTP relay, unsigned (architecture floor)", RoleReference, relayed)
	r.add("wsgate: gateway + server + @connections", RoleSubject, got)
	r.Goals = []Goal{NewGoal("round-trip p50 vs raw WebSocket echo", ratio(got["p50_ms"], echo["p50_ms"]), "<=", 4, "x")}
	r.Notes = append(r.Notes, fmt.Sprintf("p99 is %.2fx the echo's (no goal)", ratio(got["p99_ms"], echo["p99_ms"])),
		fmt.Sprintf("p50 is %.2fx, p99 %.2fx a bare two-hop HTTP relay's (WebSocket → HTTP POST to a backend → HTTP POST back → WebSocket, unsigned, one process): the architecture's own floor; the relay is %.2fx the echo",
			ratio(got["p50_ms"], relayed["p50_ms"]), ratio(got["p99_ms"], relayed["p99_ms"]), ratio(relayed["p50_ms"], echo["p50_ms"])))
	return r, nil
}

// measureTrips connects o.Clients clients to url and has each do o.Trips sequential round
// trips at once; with dotnetify set each first requests HelloWorldVM and waits for FullName.
func measureTrips(ctx context.Context, url string, o RoundTripOptions, dotnetify bool) (map[string]float64, error) {
	inbox := make([]chan frame, o.Clients)
	for i := range inbox {
		inbox[i] = make(chan frame, 4)
	}
	clients, err := dialAll(ctx, url, 0, o.Clients, 20000, 64, func(c *wsClient, f frame) { inbox[c.n] <- f })
	if err != nil {
		return nil, err
	}
	defer closeAll(clients)
	if dotnetify {
		for _, c := range clients {
			if err := c.send(requestVM("HelloWorldVM")); err != nil {
				return nil, err
			}
		}
		for i := range clients {
			if _, err := expectFullName(inbox[i], "Hello World"); err != nil {
				return nil, fmt.Errorf("client %d initial state: %w", i, err)
			}
		}
	}
	lat := make([][]time.Duration, o.Clients)
	errs := make(chan error, o.Clients)
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			time.Sleep(rand.N(o.Interval)) // spreads the clients' phases
			for k := range o.Trips {
				if k > 0 {
					time.Sleep(o.Interval)
				}
				name := "c" + strconv.Itoa(i) + "t" + strconv.Itoa(k)
				msg := updateVM("HelloWorldVM", `{"FirstName":"`+name+`"}`)
				t0 := time.Now()
				err := c.send(msg)
				if err != nil {
					errs <- err
					return
				}
				var at time.Time
				if dotnetify {
					at, err = expectFullName(inbox[i], name+" World")
				} else {
					at, err = expectEcho(inbox[i], msg)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d trip %d: %w", i, k, err)
					return
				}
				lat[i] = append(lat[i], at.Sub(t0))
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	return map[string]float64{
		"p50_ms": ms(percentile(all, 50)), "p99_ms": ms(percentile(all, 99)), "max_ms": ms(all[len(all)-1]),
		"trips_per_sec": float64(len(all)) / wall.Seconds(),
	}, nil
}

// expectFullName waits for a HelloWorldVM response carrying FullName = want.
func expectFullName(in <-chan frame, want string) (time.Time, error) {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case f := <-in:
			var d struct{ FullName string }
			if f.VMID == "HelloWorldVM" && json.Unmarshal(f.Data, &d) == nil && d.FullName == want {
				return f.At, nil
			}
			return time.Time{}, fmt.Errorf("got %s %s, want FullName %q", f.VMID, f.Data, want)
		case <-timeout:
			return time.Time{}, fmt.Errorf("no FullName %q within 30s", want)
		}
	}
}

// expectEcho waits for the echo of msg (the echo server wraps it as a response_vm).
func expectEcho(in <-chan frame, msg []byte) (time.Time, error) {
	select {
	case f := <-in:
		if string(f.Data) != string(msg) {
			return time.Time{}, fmt.Errorf("echo %q, want %q", f.Data, msg)
		}
		return f.At, nil
	case <-time.After(30 * time.Second):
		return time.Time{}, fmt.Errorf("no echo within 30s")
	}
}

// startEcho serves a raw WebSocket echo on 127.0.0.1: every text message comes back
// wrapped as {"callType":"response_vm","vmId":"Echo","data":<message as a string>}, so the
// clients parse the same shape (and the same bytes plus an envelope) on both paths.
func startEcho() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("echo listen: %w", err)
	}
	up := websocket.Upgrader{ReadBufferSize: 2048, WriteBufferSize: 2048}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			data, _ := json.Marshal(string(msg))
			out := append(append([]byte(`{"callType":"response_vm","vmId":"Echo","data":`), data...), '}')
			if c.WriteMessage(websocket.TextMessage, out) != nil {
				return
			}
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	return "ws://" + ln.Addr().String() + "/", func() { _ = srv.Close() }, nil
}
