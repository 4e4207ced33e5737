package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/localgateway"
	"github.com/wsgate/wsgate/server/push"
)

// LoadOptions configure Load.
type LoadOptions struct {
	// Quick runs 20 clients for 2 seconds.
	Quick bool
	// Clients is the number of WebSocket clients (default 5,000).
	Clients int
	// Duration is how long the clients send (default 60s).
	Duration time.Duration
	// Group is the number of clients per source address, hence per SimpleList group
	// (default 20).
	Group int
	// Every is each client's HelloWorld update period and each group's SimpleList add
	// period (default: 1s, or Clients/1000 seconds when longer, so that the clients offer
	// about 1,000 updates per second whatever their number).
	Every time.Duration
	// FaultRate is the fraction of @connections POSTs the gateway answers 429 (default 0.1;
	// negative for none).
	FaultRate float64
	// Log receives progress lines.
	Log io.Writer
	// GatewayCommand runs the local gateway as a process (see Options); empty: in process.
	GatewayCommand []string
}

// seqTracker checks one stream of numbered frames: each number must arrive once, in
// increasing order.
type seqTracker struct {
	seen       map[int]bool
	last       int
	duplicated int
	reordered  int
}

func (t *seqTracker) saw(k int) {
	if t.seen == nil {
		t.seen = map[int]bool{}
	}
	switch {
	case t.seen[k]:
		t.duplicated++
		return
	case k < t.last:
		t.reordered++
	}
	t.seen[k] = true
	t.last = max(t.last, k)
}

// loadClient is one client's view: its HelloWorld echoes and its group's list adds.
type loadClient struct {
	c      *wsClient
	group  int
	mu     sync.Mutex
	joined int // initial states received (HelloWorld, SimpleList)
	hello  seqTracker
	list   seqTracker
	sent   atomic.Int64 // HelloWorld updates sent
}

// loadTally sums the checks over every client. Expected counts the answers to the
// clients' own messages; produced counts what the view models sent, which is what must
// arrive (an update the gateway refused produced nothing).
type loadTally struct {
	expected, produced, delivered, lost, duplicated, reordered int
}

// Load runs mixed demo traffic through the local gateway and server with a fraction of
// @connections POSTs answered 429 by the gateway's fault injection: every client updates
// its own HelloWorld (per-connection pushes) and each group of clients shares a SimpleList
// that one member adds to (shared pushes). It checks that every frame a view model
// produced reached every client once and in order, and reports lost, duplicated and
// reordered frames (goal 0/0/0) with the push client's retry counters.
func Load(ctx context.Context, o LoadOptions) (*Result, error) {
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 20, 5000)
	}
	if o.Duration == 0 {
		o.Duration = pick2(o.Quick, 2*time.Second, 60*time.Second)
	}
	if o.Group == 0 {
		o.Group = pick2(o.Quick, 5, 20)
	}
	if o.Every == 0 {
		o.Every = pick2(o.Quick, 500*time.Millisecond, max(time.Second, time.Duration(o.Clients)*time.Second/1000))
	}
	if o.FaultRate == 0 {
		o.FaultRate = 0.1
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "    "+format+"\n", args...)
		}
	}
	st, err := startStack(stackOptions{Push: push.Config{}, GatewayCommand: o.GatewayCommand})
	if err != nil {
		return nil, err
	}
	defer st.close()
	clients, err := joinLoadClients(ctx, st, o.Clients, o.Group)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, lc := range clients {
			lc.c.close()
		}
	}()
	logf("%d clients joined HelloWorld and SimpleList (%d groups)", len(clients), (o.Clients+o.Group-1)/o.Group)
	if o.FaultRate > 0 {
		if err := st.setFault(ctx, &localgateway.Fault{Status: 429, Rate: o.FaultRate, Methods: []string{"POST"}}); err != nil {
			return nil, err
		}
	}
	adds := drive(ctx, clients, o)
	if err := st.setFault(ctx, nil); err != nil {
		return nil, err
	}
	// Wait for the frames still in retry: until every frame produced arrived, or 60s.
	settle := time.Now()
	produced := func() int { return int(st.server.pusher.produced.Load()) }
	_ = waitFor(ctx, 60*time.Second, "every frame to arrive", func() bool { return tally(clients, adds, produced()).lost == 0 })
	t := tally(clients, adds, produced())
	ps := st.server.main.Stats()
	logf("sent %d HelloWorld updates and %d SimpleList adds; settled %s after the load", totalSent(clients), sum(adds), time.Since(settle).Round(time.Millisecond))
	r := &Result{
		Title: fmt.Sprintf("Load: %d clients × %s, mixed demos, %.0f%% of @connections POSTs answered 429", o.Clients, o.Duration, o.FaultRate*100),
		Params: map[string]any{"clients": o.Clients, "seconds": o.Duration.Seconds(), "group": o.Group, "every_seconds": o.Every.Seconds(),
			"fault_rate": o.FaultRate},
		Columns: []Column{
			{Key: "expected", Header: "answers expected"},
			{Key: "produced", Header: "frames produced"},
			{Key: "delivered", Header: "delivered", Chart: true},
			{Key: "lost", Header: "lost", Chart: true},
			{Key: "duplicated", Header: "duplicated", Chart: true},
			{Key: "reordered", Header: "reordered", Chart: true},
		},
	}
	r.add("wsgate under 429 faults", RoleSubject, map[string]float64{
		"expected": float64(t.expected), "produced": float64(t.produced), "delivered": float64(t.delivered), "lost": float64(t.lost),
		"duplicated": float64(t.duplicated), "reordered": float64(t.reordered),
	})
	r.Counters = map[string]float64{
		"push_sent": float64(ps.Sent), "push_retried": float64(ps.Retried), "push_failed": float64(ps.Failed),
		"push_gone": float64(ps.Gone), "push_dropped": float64(ps.Dropped),
		"pushes_per_sec":       float64(ps.Sent) / o.Duration.Seconds(),
		"gateway_error_frames": float64(errorFrames(clients)),
	}
	if n := errorFrames(clients); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the gateway refused %d client messages with an error frame (last message: %q), so their view models produced nothing for them: "+
			"%d answers expected, %d frames produced and due", n, lastError(clients), t.expected, t.produced))
	}
	r.Goals = []Goal{
		NewGoal("lost frames", float64(t.lost), "<=", 0, "frames"),
		NewGoal("duplicated frames", float64(t.duplicated), "<=", 0, "frames"),
		NewGoal("reordered frames", float64(t.reordered), "<=", 0, "frames"),
	}
	return r, nil
}

// joinLoadClients connects n clients and has each request HelloWorldVM and SimpleListVM,
// waiting for both initial states.
func joinLoadClients(ctx context.Context, st *stack, n, group int) ([]*loadClient, error) {
	lcs := make([]*loadClient, n)
	for i := range lcs {
		lcs[i] = &loadClient{group: i / group}
	}
	cs, err := dialAll(ctx, st.WS, 0, n, group, 64, func(c *wsClient, f frame) { lcs[c.n].onFrame(f) })
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		lcs[i].c = c
		if err := c.send(requestVM("HelloWorldVM")); err != nil {
			return nil, err
		}
		if err := c.send(requestVM("SimpleListVM")); err != nil {
			return nil, err
		}
	}
	err = waitFor(ctx, 120*time.Second, "every client's initial states", func() bool {
		for _, lc := range lcs {
			lc.mu.Lock()
			j := lc.joined
			lc.mu.Unlock()
			if j < 2 {
				return false
			}
		}
		return true
	})
	if err != nil {
		for _, c := range cs {
			c.close()
		}
		return nil, err
	}
	return lcs, nil
}

// onFrame files a frame under its stream. HelloWorld answers carry FullName "h<k> World";
// SimpleList adds carry Employees_add with the group's next Id (the first seven are the
// initial list).
func (lc *loadClient) onFrame(f frame) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch f.VMID {
	case "HelloWorldVM":
		var d struct{ FullName string }
		_ = json.Unmarshal(f.Data, &d)
		if d.FullName == "Hello World" {
			lc.joined++
			return
		}
		num, ok := strings.CutPrefix(strings.TrimSuffix(d.FullName, " World"), "h")
		if k, err := strconv.Atoi(num); ok && err == nil {
			lc.hello.saw(k)
			return
		}
	case "SimpleListVM":
		var d struct {
			Employees     []json.RawMessage
			Employees_add *struct{ Id int }
		}
		_ = json.Unmarshal(f.Data, &d)
		if d.Employees != nil {
			lc.joined++
			return
		}
		if d.Employees_add != nil {
			lc.list.saw(d.Employees_add.Id - 7)
			return
		}
	}
	lc.c.errors.Add(1)
}

// drive sends for o.Duration: every client a HelloWorld update each o.Every, the first
// member of each group a SimpleList add each o.Every, at random phases. It returns the
// adds sent per group.
func drive(ctx context.Context, clients []*loadClient, o LoadOptions) []int {
	groups := (len(clients) + o.Group - 1) / o.Group
	adds := make([]int, groups)
	stop := time.Now().Add(o.Duration)
	var wg sync.WaitGroup
	for i, lc := range clients {
		wg.Go(func() {
			time.Sleep(rand.N(o.Every)) // spreads the clients' phases
			t := time.NewTicker(o.Every)
			defer t.Stop()
			for k := 1; time.Now().Before(stop); k++ {
				if lc.c.send(updateVM("HelloWorldVM", `{"FirstName":"h`+strconv.Itoa(k)+`"}`)) == nil {
					lc.sent.Add(1)
				}
				if i%o.Group == 0 && lc.c.send(updateVM("SimpleListVM", `{"Add":"Load `+strconv.Itoa(k)+`"}`)) == nil {
					adds[lc.group]++ // only this goroutine writes its group's count
				}
				select {
				case <-t.C:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	wg.Wait()
	return adds
}

// tally counts the frames: expected answers, produced (all view-model frames, initial
// states included), delivered (distinct frames every client got, initial states included),
// lost = produced − delivered, duplicated and reordered.
func tally(clients []*loadClient, adds []int, produced int) loadTally {
	t := loadTally{produced: produced}
	for _, lc := range clients {
		lc.mu.Lock()
		t.expected += int(lc.sent.Load()) + adds[lc.group]
		t.delivered += lc.joined + len(lc.hello.seen) + len(lc.list.seen)
		t.duplicated += lc.hello.duplicated + lc.list.duplicated
		t.reordered += lc.hello.reordered + lc.list.reordered
		lc.mu.Unlock()
	}
	t.lost = max(t.produced-t.delivered, 0)
	return t
}

// lastError is the message of the last gateway error frame any client got.
func lastError(clients []*loadClient) string {
	for _, lc := range clients {
		if s, ok := lc.c.lastErr.Load().(string); ok {
			return s
		}
	}
	return ""
}

func totalSent(clients []*loadClient) int {
	n := 0
	for _, lc := range clients {
		n += int(lc.sent.Load())
	}
	return n
}

func errorFrames(clients []*loadClient) int64 {
	var n int64
	for _, lc := range clients {
		n += lc.c.errors.Load()
	}
	return n
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
