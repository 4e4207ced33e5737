package vm_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/server/vm"
)

// failsafe bounds the waits of these tests. A correct runtime is done in milliseconds; the
// bound only turns a deadlock into a failure with a message instead of a hung test binary.
const failsafe = 20 * time.Second

// signalSender records frames like recorder and reports the connection of each one.
type signalSender struct {
	*recorder
	sent chan string
}

func newSignalSender() *signalSender {
	return &signalSender{recorder: &recorder{frames: map[string][]string{}}, sent: make(chan string, 1024)}
}

func (s *signalSender) Send(connID string, frame []byte) {
	s.recorder.Send(connID, frame)
	s.sent <- connID
}

// waitFor waits until connID was sent a frame; frames for other connections are skipped.
func (s *signalSender) waitFor(t *testing.T, connID, why string) {
	t.Helper()
	deadline := time.After(failsafe)
	for {
		select {
		case got := <-s.sent:
			if got == connID {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no frame for %s", why, connID)
		}
	}
}

func drain(t *testing.T, rt *vm.Runtime) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failsafe)
	defer cancel()
	if err := rt.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// NoRoom is a shared view model whose OnCreated always fails, after waiting for the test.
type NoRoom struct {
	vm.Base
	wait func(creator string)
}

func (r *NoRoom) OnCreated(ctx context.Context) error {
	c, _ := vm.CallerOf(ctx)
	r.wait(c.ConnectionID)
	return errors.New("no room")
}

// Two connections request a shared view model whose OnCreated fails. The first creator held
// the instance's lock and then wanted the shared registry's lock to forget the instance,
// while the second joiner held the registry's lock and waited for the instance's: Drain
// timed out with both messages still queued. Each joiner must get the error, every time.
func TestTwoJoinersOfASharedViewModelWhoseOnCreatedFails(t *testing.T) {
	// Authorize runs just before a connection joins: the first creator's OnCreated waits
	// until the second joiner got that far, then works a little so that the joiner reaches
	// the instance, which is when the two used to cross.
	var (
		mu        sync.Mutex
		arrived   = map[string]chan struct{}{}
		arrivedOf = func(conn string) chan struct{} {
			mu.Lock()
			defer mu.Unlock()
			if arrived[conn] == nil {
				arrived[conn] = make(chan struct{})
			}
			return arrived[conn]
		}
	)
	auth := func(_ context.Context, c vm.Caller, _ string) error {
		close(arrivedOf(c.ConnectionID))
		return nil
	}
	wait := func(creator string) {
		if creator[0] != 'a' {
			return
		}
		<-arrivedOf("b" + creator[1:])
		sum := sha256.Sum256([]byte(creator))
		for range 2000 {
			sum = sha256.Sum256(sum[:])
		}
	}
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "NoRoomVM", func(*vm.Request) (*NoRoom, error) { return &NoRoom{wait: wait}, nil }, vm.Shared(nil))
	rec := &recorder{frames: map[string][]string{}}
	rt := vm.New(vm.Config{Registry: reg, Sender: rec, Authorize: auth})
	want := resp("NoRoomVM", `{"ExceptionType":"Exception","Message":"no room"}`)
	for round := range 20 {
		a, b := fmt.Sprint("a", round), fmt.Sprint("b", round)
		rt.Handle(context.Background(), vm.Caller{ConnectionID: a}, mustDecode(t, req("NoRoomVM", "{}")))
		<-arrivedOf(a)
		rt.Handle(context.Background(), vm.Caller{ConnectionID: b}, mustDecode(t, req("NoRoomVM", "{}")))
		drain(t, rt)
		expectFrames(t, rec.take(a), want)
		expectFrames(t, rec.take(b), want)
	}
}

// Gated is a shared view model grouped by instance id ("GatedVM$a"); the hooks of instance
// "a" wait for the test when it asks them to.
type Gated struct {
	vm.Base
	N    int
	gate *gates
}

// gates lets a test hold one hook of instance "a": entered reports that the hook began,
// release lets it end.
type gates struct {
	mu      sync.Mutex
	hold    string // "new", "OnLeave" or "OnDispose"; "" holds nothing
	entered chan struct{}
	release chan struct{}
}

func (g *gates) pass(instance, hook string) {
	g.mu.Lock()
	held := instance == "a" && g.hold == hook
	if held {
		g.hold = ""
	}
	g.mu.Unlock()
	if held {
		close(g.entered)
		<-g.release
	}
}

func (g *gates) holdNext(hook string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.entered, g.release = hook, make(chan struct{}), make(chan struct{})
}

func (v *Gated) OnLeave(context.Context) { v.gate.pass(v.instance(), "OnLeave") }
func (v *Gated) OnDispose()              { v.gate.pass(v.instance(), "OnDispose") }

func (v *Gated) instance() string {
	id := v.VMID()
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '$' {
			return id[i+1:]
		}
	}
	return ""
}

// A slow constructor, OnLeave or OnDispose of one shared instance holds up no other
// instance: they used to run under the runtime's one shared-registry lock, so every shared
// join and leave on the server waited for them.
func TestSlowSharedHooksHoldUpNoOtherInstance(t *testing.T) {
	for _, hook := range []string{"new", "OnLeave", "OnDispose"} {
		t.Run(hook, func(t *testing.T) {
			g := &gates{}
			reg := vm.NewRegistry()
			vm.MustRegister(reg, "GatedVM", func(r *vm.Request) (*Gated, error) {
				g.pass(r.InstanceID, "new")
				return &Gated{gate: g}, nil
			}, vm.Shared(nil))
			snd := newSignalSender()
			rt := vm.New(vm.Config{Registry: reg, Sender: snd})
			handle := func(conn, frame string) {
				rt.Handle(context.Background(), vm.Caller{ConnectionID: conn}, mustDecode(t, frame))
			}
			if hook != "new" {
				handle("a1", req("GatedVM$a", "{}"))
				snd.waitFor(t, "a1", "first member of a")
			}
			g.holdNext(hook)
			switch hook {
			case "new":
				handle("a1", req("GatedVM$a", "{}"))
			default: // the last member leaves: OnLeave, then OnDispose
				handle("a1", `{"callType":"dispose_vm","vmId":"GatedVM$a"}`)
			}
			<-g.entered
			// While instance a's hook runs, b is created, joined, updated and left.
			handle("b1", req("GatedVM$b", "{}"))
			snd.waitFor(t, "b1", hook+" of instance a is running: joining b")
			handle("b2", req("GatedVM$b", "{}"))
			snd.waitFor(t, "b2", hook+" of instance a is running: joining b again")
			handle("b1", `{"callType":"dispose_vm","vmId":"GatedVM$b"}`)
			handle("b2", req("GatedVM$b", "{}")) // already a member: its state again
			snd.waitFor(t, "b2", hook+" of instance a is running: b after a leave")
			close(g.release)
			drain(t, rt)
			expectFrames(t, snd.take("b1"), resp("GatedVM$b", `{"N":0}`))
			expectFrames(t, snd.take("b2"), resp("GatedVM$b", `{"N":0}`), resp("GatedVM$b", `{"N":0}`))
			if err := rt.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Crowd is a shared view model whose hooks and command do real work, so that many
// connections overlap inside them. Every change bumps Seq, so the frames one connection
// gets carry rising values when they leave in the order they were made.
type Crowd struct {
	vm.Base
	Seq      int
	created  int
	disposed int
	leaves   map[string]int
}

func (c *Crowd) busy() {
	sum := sha256.Sum256([]byte(strconv.Itoa(c.Seq)))
	for range 64 {
		sum = sha256.Sum256(sum[:])
	}
}

func (c *Crowd) bump()                           { c.Seq++; c.Changed("Seq") }
func (c *Crowd) Touch()                          { c.busy(); c.bump() }
func (c *Crowd) OnCreated(context.Context) error { c.busy(); c.created++; return nil }
func (c *Crowd) OnDispose()                      { c.busy(); c.disposed++ }
func (c *Crowd) OnLeave(ctx context.Context) {
	c.busy()
	caller, _ := vm.CallerOf(ctx)
	c.leaves[caller.ConnectionID]++
	c.bump()
}

// Fifty connections join, update, leave (dispose_vm or $disconnect) and join again one
// shared view model with slow hooks while a timer pushes to it; one member stays throughout,
// so it is one instance. Run with -race: the view model is never entered by two goroutines,
// Drain returns, the member set is exactly the connections whose last act was a join, and
// each connection's frames carry rising values (none reordered).
func TestManyConnectionsJoinLeaveAndUpdateASharedViewModel(t *testing.T) {
	var (
		mu     sync.Mutex
		crowds []*Crowd
	)
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CrowdVM", func(*vm.Request) (*Crowd, error) {
		c := &Crowd{leaves: map[string]int{}}
		c.busy()
		mu.Lock()
		crowds = append(crowds, c)
		mu.Unlock()
		return c, nil
	}, vm.Commands("Touch"), vm.Shared(nil))
	rec := &recorder{frames: map[string][]string{}}
	rt := vm.New(vm.Config{Registry: reg, Sender: rec})
	handle := func(conn, frame string) {
		rt.Handle(context.Background(), vm.Caller{ConnectionID: conn}, mustDecode(t, frame))
	}
	handle("anchor", req("CrowdVM", "{}"))
	drain(t, rt)
	crowd := crowds[0]

	// A connection that was disconnected comes back under a new id, as on API Gateway.
	const conns, rounds = 50, 4
	idOf := func(i, generation int) string { return fmt.Sprintf("c%d.%d", i, generation) }
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			generation := 0
			for round := range rounds {
				conn := idOf(i, generation)
				handle(conn, req("CrowdVM", "{}"))
				handle(conn, upd("CrowdVM", `{"Touch":null}`))
				handle(conn, upd("CrowdVM", `{"Touch":null}`))
				if round == rounds-1 && i%2 == 1 {
					break // the odd connections stay
				}
				if round%2 == 0 {
					handle(conn, `{"callType":"dispose_vm","vmId":"CrowdVM"}`)
				} else {
					rt.Disconnect(context.Background(), conn)
					generation++
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			crowd.PushUpdates(crowd.bump)
		}
	})
	wg.Wait()
	drain(t, rt)

	want := []string{"anchor"}
	for i := 1; i < conns; i += 2 {
		want = append(want, idOf(i, rounds/2-1))
	}
	got := crowd.Members()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
	if len(crowds) != 1 || crowd.created != 1 || crowd.disposed != 0 {
		t.Errorf("%d instances, created %d disposed %d: want one instance, never disposed", len(crowds), crowd.created, crowd.disposed)
	}
	for i := range conns {
		for generation := range rounds / 2 {
			conn := idOf(i, generation)
			leaves := 2
			if i%2 == 1 && generation == rounds/2-1 {
				leaves = 1
			}
			if crowd.leaves[conn] != leaves {
				t.Errorf("%s left %d times, want %d", conn, crowd.leaves[conn], leaves)
			}
			frames := rec.take(conn)
			if len(frames) < 6 {
				t.Errorf("%s got %d frames, want at least 6: two states and four replies", conn, len(frames))
			}
			prev := -1
			for _, f := range frames {
				var n int
				if _, err := fmt.Sscanf(f, `{"callType":"response_vm","vmId":"CrowdVM","data":"{\"Seq\":%d}"}`, &n); err != nil {
					t.Fatalf("%s: frame %s: %v", conn, f, err)
				}
				if n <= prev {
					t.Fatalf("%s: Seq %d after %d: frames out of order", conn, n, prev)
				}
				prev = n
			}
		}
	}
	wantSeq := 200 + conns*rounds*2 + conns*rounds - conns/2
	if crowd.Seq != wantSeq {
		t.Errorf("Seq = %d, want %d (every push, command and leave counted once)", crowd.Seq, wantSeq)
	}
	if err := rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if crowd.disposed != 1 {
		t.Errorf("disposed %d times after Close, want once", crowd.disposed)
	}
}
