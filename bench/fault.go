package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/vm"
)

// FaultOptions configure Fault.
type FaultOptions struct {
	// Quick uses 100 gone sessions and 10 restarting clients.
	Quick bool
	// GoneSessions is the number of sessions whose connection answers 410 (default 10,000).
	GoneSessions int
	// Clients is the number of clients across the server restart (default 500).
	Clients int
	// Downtime is how long the server stays down (default 1s).
	Downtime time.Duration
	// Recover bounds the wait for every client to be live again (default 30s).
	Recover time.Duration
	// ReconnectDelays is the client's wait before each reconnection attempt, the last one
	// repeating (default dotnetify's 2s, 5s, 10s).
	ReconnectDelays []time.Duration
	// Log receives progress lines.
	Log io.Writer
	// GatewayCommand runs the local gateway as a process (see Options); empty: in process.
	GatewayCommand []string
}

// Fault runs two fault drills. Gone: sessions whose connection the gateway answers 410
// for are disposed, and the memory they held is measured before and after. Restart: the
// server is killed (connections cut, state lost) and started again on the same address
// while clients are connected; each client behaves like the dotnetify client (reconnect
// after a close, re-request its view models) and probes its HelloWorld; the drill reports
// how long until every client is live again.
func Fault(ctx context.Context, o FaultOptions) (*Result, error) {
	if o.GoneSessions == 0 {
		o.GoneSessions = pick2(o.Quick, 100, 10000)
	}
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 10, 500)
	}
	if o.Downtime == 0 {
		o.Downtime = pick2(o.Quick, 200*time.Millisecond, time.Second)
	}
	if o.Recover == 0 {
		o.Recover = pick2(o.Quick, 3*time.Second, 30*time.Second)
	}
	if len(o.ReconnectDelays) == 0 {
		o.ReconnectDelays = []time.Duration{2 * time.Second, 5 * time.Second, 10 * time.Second}
	}
	r := &Result{
		Title: "Faults: 410 disposal and memory release; server killed and restarted",
		Params: map[string]any{"gone_sessions": o.GoneSessions, "clients": o.Clients, "downtime_seconds": o.Downtime.Seconds(),
			"recover_bound_seconds": o.Recover.Seconds(), "reconnect_delays": fmt.Sprint(o.ReconnectDelays)},
		Columns: []Column{
			{Key: "sessions", Header: "sessions"},
			{Key: "bytes_per_session", Header: "bytes/session", Chart: true},
			{Key: "live", Header: "clients live"},
			{Key: "seconds_to_all_live", Header: "s to all live", Chart: true},
			{Key: "p50_seconds_to_live", Header: "p50 s to live"},
		},
		Counters: map[string]float64{},
	}
	if err := goneDrill(ctx, r, o.GoneSessions); err != nil {
		return nil, fmt.Errorf("410 drill: %w", err)
	}
	if err := restartDrill(ctx, r, o); err != nil {
		return nil, fmt.Errorf("restart drill: %w", err)
	}
	return r, nil
}

// goneDrill creates n sessions (HelloWorld and ControlTypes each) pushing to a verifying
// @connections sink, marks every connection gone, makes each session push once more, and
// measures what the disposal gave back.
func goneDrill(ctx context.Context, r *Result, n int) error {
	sk, err := sink.Start(sink.Config{Discard: true})
	if err != nil {
		return err
	}
	defer sk.Close()
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		return fmt.Errorf("register view models: %w", err)
	}
	var rt *vm.Runtime
	hc := &http.Client{Transport: push.NewTransport(256), Timeout: 10 * time.Second}
	goroutines := runtime.NumGoroutine()
	pusher, err := push.New(push.Config{
		CallbackURL: sk.URL, Region: localRegion, Logger: discardLogger(), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(localAccessKey, localSecretKey, ""),
		OnGone:      func(id string) { rt.Disconnect(context.Background(), id) },
	})
	if err != nil {
		return err
	}
	defer pusher.Close(context.Background())
	goroutines += runtime.NumGoroutine() - goroutines // the push workers
	// quiesce closes the push client's idle connections (and so the sink's ends of them)
	// before a heap reading, so that only sessions are compared.
	quiesce := func() (uint64, error) {
		hc.CloseIdleConnections()
		err := waitFor(ctx, 10*time.Second, "idle connections to close", func() bool { return runtime.NumGoroutine() <= goroutines+8 })
		return heapInUse(), err
	}
	rt = vm.New(vm.Config{Registry: reg, Sender: pusher, Logger: discardLogger()})
	// Fill the push client's keep-alive pool first, so that only the sessions are counted.
	for i := range 1024 {
		pusher.Send("warm-up-"+strconv.Itoa(i), []byte("{}"))
	}
	if err := pusher.Flush(ctx); err != nil {
		return err
	}
	before, err := quiesce()
	if err != nil {
		return err
	}
	hello, _ := protocol.DecodeMessage(requestVM("HelloWorldVM"))
	controls, _ := protocol.DecodeMessage(requestVM("ControlTypesVM"))
	for i := range n {
		c := vm.Caller{ConnectionID: clientID(i), SourceIP: "127.0.0.1"}
		rt.Handle(context.Background(), c, hello)
		rt.Handle(context.Background(), c, controls)
	}
	if err := settle(ctx, rt, pusher); err != nil {
		return err
	}
	held, err := quiesce()
	if err != nil {
		return err
	}
	live := rt.Sessions()
	for i := range n {
		sk.SetGone(clientID(i))
	}
	update, _ := protocol.DecodeMessage(updateVM("HelloWorldVM", `{"FirstName":"Gone"}`))
	start := time.Now()
	for i := range n {
		rt.Handle(context.Background(), vm.Caller{ConnectionID: clientID(i)}, update)
	}
	if err := waitFor(ctx, 60*time.Second, "every gone session to be disposed", func() bool { return rt.Sessions() == 0 }); err != nil {
		return fmt.Errorf("%w (%d sessions left)", err, rt.Sessions())
	}
	disposeTime := time.Since(start)
	if err := settle(ctx, rt, pusher); err != nil {
		return err
	}
	after, err := quiesce()
	if err != nil {
		return err
	}
	ps := pusher.Stats()
	perHeld := float64(int64(held)-int64(before)) / float64(n)
	perLeft := float64(int64(after)-int64(before)) / float64(n)
	r.add("sessions held (2 view models each)", RoleBaseline, map[string]float64{"sessions": float64(live), "bytes_per_session": perHeld})
	r.add("after 410 for every connection", RoleSubject, map[string]float64{"sessions": float64(rt.Sessions()), "bytes_per_session": perLeft})
	r.Counters["gone_answers"] = float64(ps.Gone)
	r.Counters["gone_frames_dropped"] = float64(ps.Dropped)
	r.Counters["gone_dispose_seconds"] = disposeTime.Seconds()
	r.Counters["gone_memory_released_fraction"] = 1 - ratio(perLeft, perHeld)
	r.Goals = append(r.Goals, NewGoal(fmt.Sprintf("sessions left after 410 (of %d)", n), float64(rt.Sessions()), "<=", 0, "sessions"))
	// What stays is the capacity of the maps keyed by connection id (runtime sessions,
	// store, push queues): Go maps do not shrink, and the next sessions reuse it.
	r.Notes = append(r.Notes, fmt.Sprintf("410 released %.0f%% of the %.0f B each session held; the rest is map capacity keyed by connection id "+
		"(runtime, store, push queues), which Go does not shrink and new sessions reuse, plus the in-process sink's record of the gone ids",
		100*(1-ratio(perLeft, perHeld)), perHeld))
	keepAlive.Store(rt)
	return nil
}

// settle waits until the runtime has handled everything and the pushes are out.
func settle(ctx context.Context, rt *vm.Runtime, p *push.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := rt.Drain(ctx); err != nil {
		return err
	}
	return p.Flush(ctx)
}

// resClient is a client that comes back by itself, like dotnetify's: after a close it
// waits its next reconnect delay, connects again and re-requests its view models.
type resClient struct {
	i        int
	frames   chan frame
	c        *wsClient
	connects int
	liveAt   time.Time // first answered probe after the restart
}

// restartDrill connects o.Clients clients with HelloWorld and SimpleList, kills the server,
// starts it again after o.Downtime, and times each client's first answered probe.
func restartDrill(ctx context.Context, r *Result, o FaultOptions) error {
	st, err := startStack(stackOptions{Push: push.Config{}, GatewayCommand: o.GatewayCommand})
	if err != nil {
		return err
	}
	defer st.close()
	clients := make([]*resClient, o.Clients)
	for i := range clients {
		clients[i] = &resClient{i: i, frames: make(chan frame, 64)}
	}
	onFrame := func(c *wsClient, f frame) {
		select {
		case clients[c.n].frames <- f:
		default: // a client that stopped reading loses frames, as a slow consumer would
		}
	}
	for _, rc := range clients {
		if err := rc.connect(ctx, st.WS, onFrame); err != nil {
			return err
		}
	}
	defer func() {
		for _, rc := range clients {
			if rc.c != nil {
				rc.c.close()
			}
		}
	}()
	st.killServer()
	killedAt := time.Now()
	var restartedAt atomic.Int64
	var wg sync.WaitGroup
	deadline := killedAt.Add(o.Downtime + o.Recover)
	for _, rc := range clients {
		wg.Go(func() { rc.recover(ctx, st.WS, onFrame, o.ReconnectDelays, &restartedAt, deadline) })
	}
	time.Sleep(o.Downtime) // the outage itself
	if err := st.restartServer(); err != nil {
		return err
	}
	restartedAt.Store(time.Now().UnixNano())
	wg.Wait()
	var times []time.Duration
	reconnects := 0
	for _, rc := range clients {
		reconnects += rc.connects - 1
		if !rc.liveAt.IsZero() {
			times = append(times, rc.liveAt.Sub(time.Unix(0, restartedAt.Load())))
		}
	}
	slices.Sort(times)
	m := map[string]float64{"live": float64(len(times))}
	if len(times) > 0 {
		m["p50_seconds_to_live"] = percentile(times, 50).Seconds()
	}
	if len(times) == len(clients) {
		m["seconds_to_all_live"] = times[len(times)-1].Seconds()
	}
	r.add(fmt.Sprintf("clients after a server restart (%s down)", o.Downtime), RoleSubject, m)
	r.Counters["restart_reconnects"] = float64(reconnects)
	r.Goals = append(r.Goals, NewGoal(fmt.Sprintf("clients live again within %s of the restart", o.Recover), float64(len(times)), ">=", float64(len(clients)), "clients"))
	if len(times) < len(clients) {
		r.Notes = append(r.Notes, fmt.Sprintf("%d of %d clients were not live again within %s: their probes went unanswered",
			len(clients)-len(times), len(clients), o.Recover))
	}
	return nil
}

// connect dials, requests HelloWorldVM and SimpleListVM and waits for both states.
func (rc *resClient) connect(ctx context.Context, url string, onFrame func(*wsClient, frame)) error {
	c, err := dial(ctx, url, rc.i, 20, onFrame)
	if err != nil {
		return err
	}
	rc.connects++
	if err := c.send(requestVM("HelloWorldVM")); err == nil {
		err = c.send(requestVM("SimpleListVM"))
	}
	if err != nil {
		c.close()
		return err
	}
	got := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case f := <-rc.frames:
			got[f.VMID] = true
		case <-c.done:
			return fmt.Errorf("client %d: closed before its initial states", rc.i)
		case <-timeout:
			c.close()
			return fmt.Errorf("client %d: no initial states within 10s (got %v)", rc.i, got)
		}
	}
	rc.c = c
	return nil
}

// recover probes HelloWorld every 250ms until a probe sent after the restart is answered,
// reconnecting (after the next delay) whenever the socket closes, until deadline.
func (rc *resClient) recover(ctx context.Context, url string, onFrame func(*wsClient, frame), delays []time.Duration, restartedAt *atomic.Int64, deadline time.Time) {
	attempt := 0
	for k := 1; time.Now().Before(deadline) && ctx.Err() == nil; k++ {
		if rc.c == nil {
			time.Sleep(delays[min(attempt, len(delays)-1)])
			attempt++
			if rc.connect(ctx, url, onFrame) != nil {
				continue
			}
			attempt = 0
		}
		name := "p" + strconv.Itoa(k)
		sentAt := time.Now().UnixNano()
		if rc.c.send(updateVM("HelloWorldVM", `{"FirstName":"`+name+`"}`)) != nil {
			rc.c.close()
			rc.c = nil
			continue
		}
		if rc.awaitProbe(name) {
			if r := restartedAt.Load(); r != 0 && sentAt >= r {
				rc.liveAt = time.Now()
				return
			}
		}
	}
}

// awaitProbe waits up to 250ms for FullName "<name> World"; it notices a closed socket.
func (rc *resClient) awaitProbe(name string) bool {
	timeout := time.After(250 * time.Millisecond)
	for {
		select {
		case f := <-rc.frames:
			var d struct{ FullName string }
			if f.VMID == "HelloWorldVM" && json.Unmarshal(f.Data, &d) == nil && d.FullName == name+" World" {
				return true
			}
		case <-rc.c.done:
			rc.c.close()
			rc.c = nil
			return false
		case <-timeout:
			return false
		}
	}
}

// keepAlive keeps a measured runtime reachable until its last measurement.
var keepAlive atomic.Value
