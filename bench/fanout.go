package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/push"
)

// FanOutOptions configure FanOut.
type FanOutOptions struct {
	// Quick uses 50 connections and one round.
	Quick bool
	// Sizes are the numbers of connections (default 1,000, 5,000 and 10,000).
	Sizes []int
	// Rounds per size and path, alternating; the best round counts (default 5).
	Rounds int
	// Quota is the pacer's rate for the paced run at the largest size, in pushes/s.
	// Default: half the unpaced rate measured at that size, rounded down to 100, at most
	// 2,000, so the pacer and not the machine sets the pace.
	Quota float64
	// Concurrency is the pushes in flight for both paths (default 256, the server's default).
	Concurrency int
	// Log receives progress lines.
	Log io.Writer
	// GatewayCommand runs the local gateway as a process (see Options); empty: in process.
	GatewayCommand []string
}

// fanRound tracks one broadcast of Seq = seq until every connection received it.
type fanRound struct {
	seq   int
	want  int64
	got   atomic.Int64
	last  atomic.Int64 // unix nanoseconds of the last delivery
	first atomic.Int64 // of the first
	done  chan struct{}
}

// fanClients is the receiving side: the last Seq each client saw, and anomalies.
type fanClients struct {
	seen       []atomic.Int64 // last Seq per client, -1 before the first frame
	joined     atomic.Int64
	duplicated atomic.Int64
	reordered  atomic.Int64
	cur        atomic.Pointer[fanRound]
}

func (fc *fanClients) onFrame(c *wsClient, f frame) {
	if f.VMID != feedVMID {
		return
	}
	var d struct{ Seq int }
	if json.Unmarshal(f.Data, &d) != nil {
		c.errors.Add(1)
		return
	}
	prev := fc.seen[c.n].Swap(int64(d.Seq))
	switch {
	case prev == -1:
		fc.joined.Add(1)
		return
	case int64(d.Seq) == prev:
		fc.duplicated.Add(1)
		return
	case int64(d.Seq) < prev:
		fc.reordered.Add(1)
	}
	r := fc.cur.Load()
	if r == nil || d.Seq != r.seq {
		return
	}
	now := f.At.UnixNano()
	r.first.CompareAndSwap(0, now)
	r.last.Store(now)
	if r.got.Add(1) == r.want {
		close(r.done)
	}
}

// FanOut measures one shared view-model change delivered to N connections through the
// local gateway (pushes/s and time to the last delivery) against a bare signed client
// posting the same frames to the same gateway with the same concurrency (goal ≥ 0.8x), and
// a paced run at a quota Q (goal: achieved rate within 5% of Q, nothing dropped).
func FanOut(ctx context.Context, o FanOutOptions) (*Result, error) {
	if len(o.Sizes) == 0 {
		o.Sizes = pick2(o.Quick, []int{50}, []int{1000, 5000, 10000})
	}
	if o.Rounds == 0 {
		o.Rounds = pick2(o.Quick, 1, 5)
	}
	if o.Concurrency == 0 {
		o.Concurrency = 256
	}
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, "    "+format+"\n", args...)
		}
	}
	st, err := startStack(stackOptions{Push: push.Config{Concurrency: o.Concurrency}, GatewayCommand: o.GatewayCommand})
	if err != nil {
		return nil, err
	}
	defer st.close()
	maxN := slices.Max(o.Sizes)
	fc := &fanClients{seen: make([]atomic.Int64, maxN)}
	for i := range fc.seen {
		fc.seen[i].Store(-1)
	}
	r := &Result{
		Title:  "Fan-out: one shared view-model change to N connections through the local gateway",
		Params: map[string]any{"sizes": o.Sizes, "rounds": o.Rounds, "concurrency": o.Concurrency},
		Columns: []Column{
			{Key: "connections", Header: "N"},
			{Key: "pushes_per_sec", Header: "pushes/s", Chart: true},
			{Key: "last_delivery_ms", Header: "last delivery ms", Chart: true},
		},
	}
	bare := newBareSigner(st.Callback, credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, ""))
	bareHC := &http.Client{Transport: &http.Transport{MaxIdleConns: o.Concurrency, MaxIdleConnsPerHost: o.Concurrency}, Timeout: 30 * time.Second}
	var clients []*wsClient
	defer func() { closeAll(clients) }()
	seq := 0
	for _, n := range o.Sizes {
		more, err := dialAll(ctx, st.WS, len(clients), n-len(clients), 20000, 64, fc.onFrame)
		if err != nil {
			return nil, err
		}
		for _, c := range more {
			if err := c.send(requestVM(feedVMID)); err != nil {
				return nil, err
			}
		}
		clients = append(clients, more...)
		if err := waitFor(ctx, 60*time.Second, fmt.Sprintf("%d clients to join the feed", n), func() bool { return fc.joined.Load() == int64(n) }); err != nil {
			return nil, err
		}
		ids := st.feed.Load().Members()
		if len(ids) != n {
			return nil, fmt.Errorf("feed has %d members, want %d", len(ids), n)
		}
		var best [2]time.Duration
		// Round 0 warms both paths up (keep-alive connections, buffers) and is not counted.
		for round := range o.Rounds + 1 {
			for k, path := range []string{"bare", "wsgate"} {
				seq++
				d, err := fc.broadcast(ctx, seq, n, func() error {
					if path == "wsgate" {
						return st.publish(seq)
					}
					return bare.postAll(ctx, bareHC, ids, protocol.Response(feedVMID, []byte(`{"Seq":`+strconv.Itoa(seq)+`}`)), o.Concurrency)
				})
				if err != nil {
					return nil, fmt.Errorf("N=%d %s round %d: %w", n, path, round, err)
				}
				if round > 0 && (best[k] == 0 || d < best[k]) {
					best[k] = d
				}
			}
		}
		logf("N=%d: bare %s, wsgate %s", n, best[0].Round(time.Millisecond), best[1].Round(time.Millisecond))
		for k, name := range []string{"bare signed client", "wsgate push"} {
			role := RoleBaseline
			if k == 1 {
				role = RoleSubject
			}
			r.add(fmt.Sprintf("%s, N=%d", name, n), role, map[string]float64{
				"connections": float64(n), "pushes_per_sec": float64(n) / best[k].Seconds(), "last_delivery_ms": float64(best[k].Microseconds()) / 1e3,
			})
		}
		r.Goals = append(r.Goals, NewGoal(fmt.Sprintf("pushes/s vs bare signed client, N=%d", n), best[0].Seconds()/best[1].Seconds(), ">=", 0.8, "x"))
	}
	if err := pacedRun(ctx, st, fc, r, o, maxN, &seq, logf); err != nil {
		return nil, err
	}
	st0 := st.server.main.Stats()
	r.Counters = map[string]float64{
		"duplicated": float64(fc.duplicated.Load()), "reordered": float64(fc.reordered.Load()),
		"push_failed": float64(st0.Failed), "push_dropped": float64(st0.Dropped), "push_retried": float64(st0.Retried),
	}
	return r, nil
}

// broadcast runs start and waits until all n clients got Seq = seq; it returns the time
// from start to the last delivery.
func (fc *fanClients) broadcast(ctx context.Context, seq, n int, start func() error) (time.Duration, error) {
	rd := &fanRound{seq: seq, want: int64(n), done: make(chan struct{})}
	fc.cur.Store(rd)
	t0 := time.Now()
	if err := start(); err != nil {
		return 0, err
	}
	select {
	case <-rd.done:
	case <-time.After(60 * time.Second):
		return 0, fmt.Errorf("only %d of %d connections got Seq %d within 60s", rd.got.Load(), n, seq)
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Duration(rd.last.Load() - t0.UnixNano()), nil
}

// pacedRun broadcasts to maxN connections with a push client paced at the quota.
func pacedRun(ctx context.Context, st *stack, fc *fanClients, r *Result, o FanOutOptions, maxN int, seq *int, logf func(string, ...any)) error {
	q := o.Quota
	if q == 0 {
		unpaced := r.Metric(fmt.Sprintf("wsgate push, N=%d", maxN), "pushes_per_sec")
		q = math.Min(2000, math.Floor(unpaced/2/100)*100)
		if o.Quick {
			q = math.Min(500, math.Max(100, q))
		}
		q = math.Max(q, 100)
	}
	// A burst of one makes the bucket's pace the only pace: deliveries are 1/q apart.
	burst := 1
	paced, err := st.newPusher(push.Config{Rate: q, Burst: burst, Concurrency: o.Concurrency}, func(id string) { st.server.rt.Disconnect(context.Background(), id) })
	if err != nil {
		return err
	}
	defer paced.Close(context.Background())
	main := st.server.pusher.p.Swap(paced)
	defer st.server.pusher.p.Store(main)
	// Several paced rounds; the fastest counts: a round the rest of the machine slowed
	// down can only come out slower, while a pacer that lets too much through shows in
	// every round.
	var achieved float64
	var elapsed time.Duration
	missed := int64(0)
	for round := range pick2(o.Quick, 1, 3) {
		*seq++
		rd := &fanRound{seq: *seq, want: int64(maxN), done: make(chan struct{})}
		fc.cur.Store(rd)
		t0 := time.Now()
		if err := st.publish(*seq); err != nil {
			return err
		}
		select {
		case <-rd.done:
		case <-time.After(time.Duration(float64(maxN)/q*float64(time.Second)) + 30*time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := paced.Flush(ctx); err != nil {
			return err
		}
		got := rd.got.Load()
		missed += int64(maxN) - got
		// got deliveries span got-1 intervals of the bucket, from the first to the last.
		rate := float64(got-1) / time.Duration(rd.last.Load()-rd.first.Load()).Seconds()
		took := time.Duration(rd.last.Load() - t0.UnixNano())
		logf("paced at %g/s (burst %d), round %d: %d deliveries in %s = %.0f/s", q, burst, round+1, got, took.Round(time.Millisecond), rate)
		if rate > achieved {
			achieved, elapsed = rate, took
		}
	}
	ps := paced.Stats()
	r.add(fmt.Sprintf("wsgate push paced at %g/s, N=%d", q, maxN), RoleSubject, map[string]float64{
		"connections": float64(maxN), "pushes_per_sec": achieved, "last_delivery_ms": float64(elapsed.Microseconds()) / 1e3,
	})
	r.Params["quota"], r.Params["quota_burst"] = q, burst
	r.Goals = append(r.Goals,
		NewGoal(fmt.Sprintf("paced rate vs quota %g/s (within 5%%)", q), achieved/q, "<=", 1.05, "x"),
		NewGoal(fmt.Sprintf("paced rate vs quota %g/s (at least 95%%)", q), achieved/q, ">=", 0.95, "x"),
		NewGoal("paced runs: changes missed, failed or dropped", float64(missed)+float64(ps.Failed+ps.Dropped), "<=", 0, "frames"))
	return nil
}

// postAll posts frame to every id with par requests in flight.
func (b *bareSigner) postAll(ctx context.Context, hc *http.Client, ids []string, frame []byte, par int) error {
	next := atomic.Int64{}
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for range min(par, len(ids)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if err := b.post(ctx, hc, ids[i], frame); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
