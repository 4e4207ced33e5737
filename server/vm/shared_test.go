package vm_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// Room is a shared view model grouped by a $vmArg-free rule: the caller's source IP.
type Room struct {
	vm.Base
	Count   int
	Members []string
	left    *[]string
	leftMu  *sync.Mutex // instances of different groups leave at once
}

func (r *Room) Bump() { r.Count++; r.Changed("Count") }
func (r *Room) Whisper(ctx context.Context, to string) {
	c, _ := vm.CallerOf(ctx)
	r.Send([]string{to, c.ConnectionID, "not-a-member"}, "Whisper", "from "+c.ConnectionID)
}

func (r *Room) OnLeave(ctx context.Context) {
	c, _ := vm.CallerOf(ctx)
	r.leftMu.Lock()
	*r.left = append(*r.left, c.ConnectionID)
	r.leftMu.Unlock()
	r.Count--
	r.Changed("Count")
}

func (r *Room) OnDispose() {
	r.leftMu.Lock()
	*r.left = append(*r.left, "disposed")
	r.leftMu.Unlock()
}

func roomHarness(t *testing.T) (*harness, *[]string) {
	left, leftMu := &[]string{}, &sync.Mutex{}
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "RoomVM", func(*vm.Request) (*Room, error) { return &Room{left: left, leftMu: leftMu}, nil },
		vm.Commands("Bump", "Whisper"), vm.Shared(func(r *vm.Request) string { return r.Caller.SourceIP }))
	return newHarness(t, reg, nil), left
}

func (h *harness) doFrom(connID, ip, frame string) {
	h.t.Helper()
	m, err := protocol.DecodeMessage([]byte(frame))
	if err != nil {
		h.t.Fatal(err)
	}
	h.rt.Handle(context.Background(), vm.Caller{ConnectionID: connID, SourceIP: ip}, m)
	h.frames("")
}

func TestSharedGroupsLeaveAndDirectSend(t *testing.T) {
	h, left := roomHarness(t)
	h.doFrom("a", "1.1.1.1", req("RoomVM", "{}"))
	h.doFrom("b", "1.1.1.1", req("RoomVM", "{}"))
	h.doFrom("x", "2.2.2.2", req("RoomVM", "{}"))
	expectFrames(t, h.rec.take("a"), resp("RoomVM", `{"Count":0,"Members":[]}`))
	expectFrames(t, h.rec.take("b"), resp("RoomVM", `{"Count":0,"Members":[]}`))
	expectFrames(t, h.rec.take("x"), resp("RoomVM", `{"Count":0,"Members":[]}`))

	h.doFrom("b", "1.1.1.1", upd("RoomVM", `{"Bump":null}`))
	expectFrames(t, h.rec.take("b"), resp("RoomVM", `{"Count":1}`))
	expectFrames(t, h.rec.take("a"), resp("RoomVM", `{"Count":1}`))
	expectFrames(t, h.rec.take("x")) // another group

	h.doFrom("a", "1.1.1.1", upd("RoomVM", `{"Whisper":"b"}`))
	expectFrames(t, h.rec.take("b"), resp("RoomVM", `{"Whisper":"from a"}`))
	expectFrames(t, h.rec.take("a"), resp("RoomVM", `{"Whisper":"from a"}`))
	expectFrames(t, h.rec.take("not-a-member"))

	// Leaving pushes the leave hook's changes to the rest; the last one disposes.
	h.doFrom("b", "1.1.1.1", `{"callType":"dispose_vm","vmId":"RoomVM"}`)
	expectFrames(t, h.rec.take("a"), resp("RoomVM", `{"Count":0}`))
	expectFrames(t, h.rec.take("b"))
	h.rt.Disconnect(context.Background(), "a")
	h.frames("")
	if got := fmt.Sprint(*left); got != "[b a disposed]" {
		t.Errorf("hooks: %s", got)
	}
	// A new member after disposal gets a fresh instance.
	h.doFrom("c", "1.1.1.1", req("RoomVM", "{}"))
	expectFrames(t, h.rec.take("c"), resp("RoomVM", `{"Count":0,"Members":[]}`))
	// Close disposes what is left: x's instance and c's.
	if err := h.rt.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(*left); got != "[b a disposed x disposed c disposed]" && got != "[b a disposed c disposed x disposed]" {
		t.Errorf("hooks after Close: %s", got)
	}
	if n := h.rt.Sessions(); n != 0 {
		t.Errorf("sessions after Close = %d", n)
	}
}

// Ticker pushes from its own goroutine while clients update it.
type Ticker struct {
	vm.Base
	N int `vm:"write"`
}

// Frames for one connection leave in the order the view model produced them, and the
// view model is never entered by two goroutines at once (run with -race).
func TestPushUpdatesOrderingUnderConcurrency(t *testing.T) {
	var tickers []*Ticker
	var mu sync.Mutex
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "TickerVM", func(*vm.Request) (*Ticker, error) {
		tk := &Ticker{}
		mu.Lock()
		tickers = append(tickers, tk)
		mu.Unlock()
		return tk, nil
	})
	h := newHarness(t, reg, nil)
	h.do("c", req("TickerVM", "{}"))
	const pushes = 200
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range pushes {
			tickers[0].PushUpdates(func() { tickers[0].N++; tickers[0].Changed("N") })
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 50 {
			m, _ := protocol.DecodeMessage([]byte(upd("TickerVM", `{"N":`+strconv.Itoa(-i)+`}`)))
			h.rt.Handle(context.Background(), vm.Caller{ConnectionID: "c"}, m)
		}
	}()
	wg.Wait()
	got := h.frames("c")
	if len(got) < pushes {
		t.Fatalf("got %d frames, want at least %d", len(got), pushes)
	}
	// Each push increments N; a client write resets it and is echo-suppressed. So between
	// client writes, the pushed values rise by exactly one: any reordering would break that.
	prev := 0
	for i, f := range got {
		var n int
		if _, err := fmt.Sscanf(f, `{"callType":"response_vm","vmId":"TickerVM","data":"{\"N\":%d}"}`, &n); err != nil {
			t.Fatalf("frame %s: %v", f, err)
		}
		if i > 0 && n != prev+1 && n > prev {
			t.Fatalf("frame %s after N=%d: pushes out of order", f, prev)
		}
		prev = n
	}
}
