package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/server/push"
)

// RoundTripOptions configure RoundTrip.
type RoundTripOptions struct {
	// Quick uses 20 clients, one round and 3 round trips each.
	Quick bool
	// Clients is the number of concurrent clients of each path (default 1,000).
	Clients int
	// Trips is the number of round trips per client and round (default 2: 2,000 a round).
	Trips int
	// Rounds is the number of measured rounds; each runs the relay and then wsgate back to
	// back, and the goals take the best round of each path (default 10, quick 1). Many
	// short rounds give each path more chances of a round the rest of the machine left alone.
	Rounds int
	// Interval is each client's period between round trips (default 2s, quick 50ms): the
	// clients offer Clients/Interval round trips per second (500/s by default), well below
	// what either path can carry on a 2-core machine shared with other work, so the figures
	// are latency rather than queueing behind a saturated process.
	Interval time.Duration
	// GatewayCommand runs the local gateway as its own process (see Options). Empty, the
	// default of the scenario, keeps it in this process like the relay it is compared with,
	// so that both paths pay for the same number of processes.
	GatewayCommand []string
}

// Names of the round trip's measurements.
const (
	rtEcho   = "raw WebSocket echo (gorilla)"
	rtRelay  = "two-hop HTTP relay, unsigned (architecture floor)"
	rtWsgate = "wsgate: gateway + server + @connections"
)

// RoundTrip measures update_vm → response_vm latency (HelloWorld: FirstName in, FullName
// out) for concurrent clients through the local gateway and the server, against the bare
// shape of the same architecture measured in the same run: a two-hop HTTP relay (WebSocket
// → POST to a backend → POST back → WebSocket, unsigned, no template or view model). A raw
// WebSocket echo is measured once as a reference for what one socket costs.
//
// Every client keeps a fixed schedule (its phase spread evenly over the interval, one trip
// per interval whatever the previous one took); one untimed trip per client warms up each
// path; the measured rounds alternate relay and wsgate so that noise from the rest of the
// machine falls on both, and the goals compare each path's best round (noise can only slow
// a round down); the notes give every round. Goals: p50 at most 1.5x the relay's, p99 at
// most 3x.
func RoundTrip(ctx context.Context, o RoundTripOptions) (*Result, error) {
	o = o.withDefaults()
	r := &Result{
		Title: fmt.Sprintf("Round trip: update_vm → response_vm, %d concurrent clients", o.Clients),
		Params: map[string]any{"clients": o.Clients, "trips_per_client_and_round": o.Trips, "rounds": o.Rounds,
			"interval_seconds": o.Interval.Seconds(), "offered_trips_per_sec": float64(o.Clients) / o.Interval.Seconds(),
			"gateway": gatewayShape(o.GatewayCommand)},
		Columns: []Column{
			{Key: "p50_ms", Header: "p50 ms", Chart: true},
			{Key: "p99_ms", Header: "p99 ms", Chart: true},
			{Key: "max_ms", Header: "max ms"},
			{Key: "trips_per_sec", Header: "round trips/s"},
			{Key: "cpu_us_per_trip", Header: "CPU µs/trip"},
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
	echo, err := measurePath(ctx, tripPath{name: rtEcho, url: echoURL}, o, 1)
	if err != nil {
		return nil, err
	}
	paths := []tripPath{{name: rtRelay, url: relayURL}, {name: rtWsgate, url: st.WS, dotnetify: true}}
	rounds, err := measureInterleaved(ctx, paths, o)
	if err != nil {
		return nil, err
	}
	relay, wsgate := bestRounds(rounds[0]), bestRounds(rounds[1])
	if len(o.GatewayCommand) > 0 {
		delete(wsgate, "cpu_us_per_trip") // the gateway's CPU is another process's
	}
	r.add(rtEcho, RoleReference, echo[0])
	r.add(rtRelay, RoleBaseline, relay)
	r.add(rtWsgate, RoleSubject, wsgate)
	p50 := roundRatios(rounds[1], rounds[0], "p50_ms")
	p99 := roundRatios(rounds[1], rounds[0], "p99_ms")
	r.Goals = []Goal{
		NewGoal("round-trip p50 vs two-hop relay (best round of each)", ratio(wsgate["p50_ms"], relay["p50_ms"]), "<=", 1.5, "x"),
		NewGoal("round-trip p99 vs two-hop relay (best round of each)", ratio(wsgate["p99_ms"], relay["p99_ms"]), "<=", 3, "x"),
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("round by round, wsgate over the relay: p50 %s (median %.2fx), p99 %s (median %.2fx)",
			ratioRange(p50), median(p50), ratioRange(p99), median(p99)),
		"relay/wsgate ms by round: p50 "+roundPairs(rounds[0], rounds[1], "p50_ms")+"; p99 "+roundPairs(rounds[0], rounds[1], "p99_ms"),
		fmt.Sprintf("wsgate's p50 is %.2fx a raw WebSocket echo's, the relay's %.2fx (reference, one round)",
			ratio(wsgate["p50_ms"], echo[0]["p50_ms"]), ratio(relay["p50_ms"], echo[0]["p50_ms"])),
		"the local gateway runs "+gatewayShape(o.GatewayCommand)+"; CPU µs/trip is the bench process's user + system time over the round's trips")
	return r, nil
}

func (o RoundTripOptions) withDefaults() RoundTripOptions {
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 20, 1000)
	}
	if o.Trips == 0 {
		o.Trips = pick2(o.Quick, 3, 2)
	}
	if o.Rounds == 0 {
		o.Rounds = pick2(o.Quick, 1, 10)
	}
	if o.Interval == 0 {
		o.Interval = pick2(o.Quick, 50*time.Millisecond, 2*time.Second)
	}
	return o
}

func gatewayShape(cmd []string) string {
	if len(cmd) > 0 {
		return "as its own process"
	}
	return "in the bench process, as the relay does"
}

// tripPath is one way a round trip can go; its clients stay connected across rounds.
type tripPath struct {
	name      string
	url       string
	dotnetify bool // request HelloWorldVM and expect its FullName; otherwise expect an echo
	clients   []*wsClient
	inbox     []chan frame
}

// connect dials n clients and, on a dotNetify path, has each request HelloWorldVM.
func (p *tripPath) connect(ctx context.Context, n int) error {
	p.inbox = make([]chan frame, n)
	for i := range p.inbox {
		p.inbox[i] = make(chan frame, 4)
	}
	clients, err := dialAll(ctx, p.url, 0, n, 20000, 64, func(c *wsClient, f frame) { p.inbox[c.n] <- f })
	if err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.clients = clients
	if !p.dotnetify {
		return nil
	}
	for _, c := range clients {
		if err := c.send(requestVM("HelloWorldVM")); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	for i := range clients {
		if _, err := expectFullName(p.inbox[i], "Hello World"); err != nil {
			return fmt.Errorf("%s: client %d initial state: %w", p.name, i, err)
		}
	}
	return nil
}

// measurePath measures rounds rounds of one path on its own.
func measurePath(ctx context.Context, p tripPath, o RoundTripOptions, rounds int) ([]map[string]float64, error) {
	o.Rounds = rounds
	out, err := measureInterleaved(ctx, []tripPath{p}, o)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// measureInterleaved connects every path's clients, warms each path up with one untimed
// trip per client, then runs o.Rounds rounds in which the paths take turns. out[i][k] is
// path i's round k.
func measureInterleaved(ctx context.Context, paths []tripPath, o RoundTripOptions) ([][]map[string]float64, error) {
	for i := range paths {
		if paths[i].clients != nil {
			continue
		}
		err := paths[i].connect(ctx, o.Clients)
		defer closeAll(paths[i].clients)
		if err != nil {
			return nil, err
		}
	}
	for i := range paths {
		if _, err := paths[i].round(ctx, o, 1, "w"); err != nil {
			return nil, fmt.Errorf("%s, warm-up: %w", paths[i].name, err)
		}
	}
	out := make([][]map[string]float64, len(paths))
	for k := range o.Rounds {
		for i := range paths {
			m, err := paths[i].round(ctx, o, o.Trips, strconv.Itoa(k))
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", paths[i].name, k+1, err)
			}
			out[i] = append(out[i], m)
		}
	}
	return out, nil
}

// round has every client make trips round trips on a fixed schedule: client i's phase is
// i/n of the interval and its trip t starts at phase + t*interval, whatever the trip before
// took, so both paths are offered exactly the same load at the same instants. tag makes
// each trip's FirstName new (HelloWorld pushes only what changed).
func (p *tripPath) round(ctx context.Context, o RoundTripOptions, trips int, tag string) (map[string]float64, error) {
	n := len(p.clients)
	lat := make([][]time.Duration, n)
	errs := make(chan error, n)
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range p.clients {
		phase := o.Interval * time.Duration(i) / time.Duration(n)
		wg.Go(func() {
			for t := range trips {
				if err := ctx.Err(); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Until(start.Add(phase + time.Duration(t)*o.Interval))) // pacing, not synchronisation
				d, err := p.trip(c, "c"+strconv.Itoa(i)+"r"+tag+"t"+strconv.Itoa(t))
				if err != nil {
					errs <- fmt.Errorf("client %d trip %d: %w", i, t, err)
					return
				}
				lat[i] = append(lat[i], d)
			}
		})
	}
	wg.Wait()
	wall, cpu := time.Since(start), processCPU()-cpu0
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	return map[string]float64{
		"p50_ms": ms(percentile(all, 50)), "p99_ms": ms(percentile(all, 99)), "max_ms": ms(all[len(all)-1]),
		"trips_per_sec":   float64(len(all)) / wall.Seconds(),
		"cpu_us_per_trip": float64(cpu.Microseconds()) / float64(len(all)),
	}, nil
}

// trip sends one update_vm with FirstName name and returns how long its answer took.
func (p *tripPath) trip(c *wsClient, name string) (time.Duration, error) {
	msg := updateVM("HelloWorldVM", `{"FirstName":"`+name+`"}`)
	t0 := time.Now()
	if err := c.send(msg); err != nil {
		return 0, err
	}
	var at time.Time
	var err error
	if p.dotnetify {
		at, err = expectFullName(p.inbox[c.n], name+" World")
	} else {
		at, err = expectEcho(p.inbox[c.n], msg)
	}
	return at.Sub(t0), err
}

// bestRounds returns, for every metric, its best value over the rounds: the lowest, or
// for round trips per second the highest. Noise from the rest of the machine can only make
// a round slower, so the best round of each path is the closest to what its code costs.
func bestRounds(rounds []map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for key := range rounds[0] {
		var xs []float64
		for _, m := range rounds {
			xs = append(xs, m[key])
		}
		if key == "trips_per_sec" {
			out[key] = slices.Max(xs)
		} else {
			out[key] = slices.Min(xs)
		}
	}
	return out
}

// roundRatios returns sub[k][key] / base[k][key] for every round k.
func roundRatios(sub, base []map[string]float64, key string) []float64 {
	out := make([]float64, len(sub))
	for k := range sub {
		out[k] = ratio(sub[k][key], base[k][key])
	}
	return out
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// roundPairs renders base/sub of key for every round, e.g. "0.31/0.42 0.29/0.40".
func roundPairs(base, sub []map[string]float64, key string) string {
	var b strings.Builder
	for k := range base {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.3g/%.3g", base[k][key], sub[k][key])
	}
	return b.String()
}

// ratioRange renders the smallest and largest of xs, e.g. "1.1x–1.4x".
func ratioRange(xs []float64) string {
	return fmt.Sprintf("%.2fx–%.2fx", slices.Min(xs), slices.Max(xs))
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
