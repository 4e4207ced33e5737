package serial

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTasksOfOneKeyRunInOrderOneAtATime(t *testing.T) {
	q := New[string](Options[string]{})
	var mu sync.Mutex
	got := map[string][]int{}
	var inside [3]atomic.Int32
	for i := range 300 {
		key := fmt.Sprint(i % 3)
		k := i % 3
		if err := q.Add(key, func() {
			if n := inside[k].Add(1); n != 1 {
				t.Errorf("key %s: %d tasks running at once", key, n)
			}
			mu.Lock()
			got[key] = append(got[key], i)
			mu.Unlock()
			inside[k].Add(-1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	for key, seq := range got {
		if len(seq) != 100 || !slices.IsSorted(seq) {
			t.Errorf("key %s ran %d tasks, sorted=%v", key, len(seq), slices.IsSorted(seq))
		}
	}
}

func TestKeysRunConcurrently(t *testing.T) {
	q := New[int](Options[int]{})
	release := make(chan struct{})
	started := make(chan int, 2)
	for k := range 2 {
		_ = q.Add(k, func() { started <- k; <-release })
	}
	// Both tasks start although neither finishes: key 0 does not hold key 1 up.
	<-started
	<-started
	close(release)
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestWorkersBoundAndFairness(t *testing.T) {
	q := New[string](Options[string]{Workers: 1})
	var order []string
	gate := make(chan struct{})
	_ = q.Add("busy", func() { <-gate; order = append(order, "busy1") })
	_ = q.Add("busy", func() { order = append(order, "busy2") })
	_ = q.Add("other", func() { order = append(order, "other") })
	close(gate)
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One worker: after busy's first task, busy goes behind other.
	if want := []string{"busy1", "other", "busy2"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
}

func TestMaxPerKey(t *testing.T) {
	q := New[string](Options[string]{MaxPerKey: 2})
	gate := make(chan struct{})
	if err := q.Add("a", func() { <-gate }); err != nil {
		t.Fatal(err)
	}
	if err := q.Add("a", func() {}); err != nil {
		t.Fatal(err)
	}
	if err := q.Add("a", func() {}); !errors.Is(err, ErrFull) {
		t.Fatalf("third task: %v, want ErrFull", err)
	}
	if err := q.Add("b", func() {}); err != nil {
		t.Fatalf("another key is not full: %v", err)
	}
	close(gate)
	_ = q.Drain(context.Background())
	if q.Len("a") != 0 || q.Pending() != 0 {
		t.Fatalf("len %d pending %d after drain", q.Len("a"), q.Pending())
	}
}

func TestDiscardKeepsTheRunningTask(t *testing.T) {
	q := New[string](Options[string]{})
	gate := make(chan struct{})
	running := make(chan struct{})
	var ran atomic.Int32
	_ = q.Add("a", func() { close(running); <-gate; ran.Add(1) })
	<-running
	for range 5 {
		_ = q.Add("a", func() { ran.Add(1) })
	}
	if n := q.Discard("a"); n != 5 {
		t.Fatalf("discarded %d, want 5", n)
	}
	close(gate)
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 1 {
		t.Fatalf("%d tasks ran, want the running one only", ran.Load())
	}
}

func TestDrainTimesOutWithCount(t *testing.T) {
	q := New[string](Options[string]{})
	gate := make(chan struct{})
	defer close(gate)
	_ = q.Add("a", func() { <-gate })
	_ = q.Add("a", func() {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := q.Drain(ctx)
	if err == nil || err.Error() != "2 tasks still queued: context canceled" {
		t.Fatalf("drain: %v", err)
	}
}

func TestCloseRefusesNewTasks(t *testing.T) {
	q := New[string](Options[string]{})
	q.Close()
	if err := q.Add("a", func() {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
}

func TestPanicGoesToOnPanicAndTheKeyGoesOn(t *testing.T) {
	var got []any
	q := New[string](Options[string]{OnPanic: func(key string, v any) { got = append(got, key, v) }})
	ran := false
	_ = q.Add("a", func() { panic("boom") })
	_ = q.Add("a", func() { ran = true })
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !ran || !slices.Equal(got, []any{"a", "boom"}) {
		t.Fatalf("ran=%v panics=%v", ran, got)
	}
}

// state reads the goroutine counts under the queue's lock.
func (q *Queue[K]) state() (running, idlers int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, q.idlers
}

// awaitState yields until the queue's goroutines reach the given counts. It does not sleep:
// the goroutines it waits for need only to be scheduled.
func awaitState[K comparable](t *testing.T, q *Queue[K], running, idlers int) {
	t.Helper()
	for range 1_000_000 {
		if r, i := q.state(); r == running && i == idlers {
			return
		}
		runtime.Gosched()
	}
	r, i := q.state()
	t.Fatalf("running %d idle %d, want %d and %d", r, i, running, idlers)
}

// With Idle, a goroutine whose lines ran dry waits for the next task instead of exiting,
// and the next task runs on it: Add starts no goroutine.
func TestIdleGoroutineTakesTheNextTask(t *testing.T) {
	q := New[string](Options[string]{Idle: 1, IdleTimeout: time.Hour})
	for round := range 3 {
		gate := make(chan struct{})
		if err := q.Add(fmt.Sprint("k", round), func() { <-gate }); err != nil {
			t.Fatal(err)
		}
		if r, i := q.state(); r != 1 || i != 0 {
			t.Fatalf("round %d: running %d idle %d after Add, want the one goroutine, busy", round, r, i)
		}
		close(gate)
		awaitState(t, q, 1, 1) // it waits for the next task
	}
}

// At most Idle goroutines wait; the others exit as soon as no line is ready.
func TestIdleIsBounded(t *testing.T) {
	q := New[int](Options[int]{Idle: 2, IdleTimeout: time.Hour})
	release := make(chan struct{})
	started := make(chan struct{}, 5)
	for k := range 5 {
		_ = q.Add(k, func() { started <- struct{}{}; <-release })
	}
	for range 5 {
		<-started
	}
	awaitState(t, q, 5, 0)
	close(release)
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	awaitState(t, q, 2, 2)
}

// An idle goroutine exits after IdleTimeout; a task added later starts a new one.
func TestIdleGoroutineExitsAfterTimeout(t *testing.T) {
	q := New[string](Options[string]{Idle: 1, IdleTimeout: time.Nanosecond})
	_ = q.Add("a", func() {})
	awaitState(t, q, 0, 0)
	ran := make(chan struct{})
	_ = q.Add("a", func() { close(ran) })
	<-ran
	awaitState(t, q, 0, 0)
}

// Idle goroutines count towards Workers, keep fairness and order, and hand-offs race with
// their timeouts without losing a task (run with -race).
func TestIdleWithWorkersUnderLoad(t *testing.T) {
	q := New[int](Options[int]{Workers: 3, Idle: 2, IdleTimeout: time.Microsecond})
	var mu sync.Mutex
	got := map[int][]int{}
	var wg sync.WaitGroup
	for k := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_ = q.Add(k, func() {
					mu.Lock()
					got[k] = append(got[k], i)
					mu.Unlock()
				})
				if i%16 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	for k := range 8 {
		if len(got[k]) != 200 || !slices.IsSorted(got[k]) {
			t.Errorf("key %d ran %d tasks, in order: %v", k, len(got[k]), slices.IsSorted(got[k]))
		}
	}
	if r, _ := q.state(); r > 3 {
		t.Errorf("%d goroutines, over Workers", r)
	}
}

// After a burst of many lines the emptied map is made afresh, so the queue does not keep
// the memory of its busiest moment (a Go map never shrinks).
func TestEmptiedMapIsMadeAfresh(t *testing.T) {
	q := New[int](Options[int]{})
	gate := make(chan struct{})
	for k := range 2 * shrinkAfter {
		_ = q.Add(k, func() { <-gate })
	}
	q.mu.Lock()
	burst := reflect.ValueOf(q.lines).UnsafePointer()
	peak := q.peak
	q.mu.Unlock()
	close(gate)
	if err := q.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if peak != 2*shrinkAfter || q.peak != 0 || len(q.lines) != 0 || reflect.ValueOf(q.lines).UnsafePointer() == burst {
		t.Errorf("peak %d then %d, %d lines, map replaced %v", peak, q.peak, len(q.lines), reflect.ValueOf(q.lines).UnsafePointer() != burst)
	}
}
