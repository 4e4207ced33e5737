// Package serial is wsgate's one concurrency model: a keyed serial queue. Tasks added under
// one key run one at a time, in the order they were added; tasks of different keys run
// concurrently, on goroutines that exist only while there is work (and, with Idle, a little
// after it, to be reused). The view-model runtime
// keys its sessions and shared instances by id, the push client keys frames by connection,
// and the local gateway keys a connection's integration calls, so no global lock is ever held
// around user code or I/O.
package serial

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrFull is returned by Add when the key already has MaxPerKey tasks waiting.
var ErrFull = errors.New("queue full")

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("queue closed")

// Options configures a Queue.
type Options[K comparable] struct {
	// Workers bounds the keys running at once; 0 means no bound (one goroutine per busy
	// key). With a bound, a key runs one task and then goes to the back of the line, so a busy
	// key cannot starve the others.
	Workers int
	// MaxPerKey bounds the tasks waiting under one key; 0 means no bound. Add returns
	// ErrFull beyond it.
	MaxPerKey int
	// OnPanic receives a task's panic; the queue goes on with the next task. Default: the
	// panic is re-raised, which ends the process.
	OnPanic func(key K, v any)
	// Idle keeps up to this many goroutines waiting for new work, up to IdleTimeout, once
	// no line is ready, instead of exiting at once; 0 keeps none. A goroutine starts with a
	// small stack that grows (by copying) as deep code runs on it, so under a steady stream
	// of short tasks, reusing goroutines that already grew is much cheaper than starting
	// one per task. Idle goroutines count towards Workers.
	Idle int
	// IdleTimeout is how long an idle goroutine waits for work. Default: one second.
	IdleTimeout time.Duration
}

// Queue is a keyed serial queue. The zero value is not usable; call New.
type Queue[K comparable] struct {
	opts    Options[K]
	mu      sync.Mutex
	lines   map[K]*line[K]
	peak    int        // most lines at once since lines was made
	ready   []*line[K] // lines with work, waiting for a goroutine
	running int        // goroutines serving ready or idle
	idlers  int        // idle goroutines not yet handed work (see Options.Idle)
	wake    chan struct{}
	pending int // tasks added and not finished
	idle    chan struct{}
	closed  bool
}

// line is one key's tasks. busy means it is in ready or a goroutine is running its head, so
// two tasks of one key never run at once.
type line[K comparable] struct {
	key   K
	tasks []func()
	busy  bool
}

// New returns an empty queue.
func New[K comparable](opts Options[K]) *Queue[K] {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = time.Second
	}
	// A token in wake is work handed to an idle goroutine. idlers plus the tokens never
	// exceed Idle (see serve), so a send never blocks.
	return &Queue[K]{opts: opts, lines: map[K]*line[K]{}, wake: make(chan struct{}, max(opts.Idle, 0))}
}

// Add queues task under key and returns at once.
func (q *Queue[K]) Add(key K, task func()) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	l := q.lines[key]
	if l == nil {
		l = &line[K]{key: key}
		q.lines[key] = l
		q.peak = max(q.peak, len(q.lines))
	}
	if q.opts.MaxPerKey > 0 && len(l.tasks) >= q.opts.MaxPerKey {
		q.mu.Unlock()
		return ErrFull
	}
	l.tasks = append(l.tasks, task)
	if q.pending == 0 {
		q.idle = make(chan struct{})
	}
	q.pending++
	start := false
	if !l.busy {
		l.busy = true
		start = q.schedule(l)
	}
	q.mu.Unlock()
	// Started after the unlock: the new goroutine takes q.mu first thing, and would
	// otherwise find it held and have to sleep.
	if start {
		go q.serve()
	}
	return nil
}

// schedule puts l at the back of the line and, unless an idle goroutine takes it, reports
// whether the bound allows one more goroutine, counting it. Caller holds q.mu and starts
// the goroutine after unlocking.
func (q *Queue[K]) schedule(l *line[K]) bool {
	q.ready = append(q.ready, l)
	if q.idlers > 0 {
		q.idlers--
		q.wake <- struct{}{}
		return false
	}
	if q.opts.Workers == 0 || q.running < q.opts.Workers {
		q.running++
		return true
	}
	return false
}

// serve runs one task of the first ready line at a time until no line is ready, then
// waits as an idle goroutine if Idle allows.
func (q *Queue[K]) serve() {
	var timer *time.Timer
	q.mu.Lock()
	for {
		for len(q.ready) > 0 {
			l := q.ready[0]
			q.ready[0] = nil
			q.ready = q.ready[1:]
			task := l.tasks[0]
			q.mu.Unlock()
			q.run(l.key, task)
			q.mu.Lock()
			l.tasks[0] = nil
			l.tasks = l.tasks[1:]
			if len(l.tasks) > 0 {
				q.ready = append(q.ready, l)
			} else {
				l.busy = false
				q.forget(l)
			}
			q.finished(1) // last, so Drain returns with the line already forgotten
		}
		if q.idlers+len(q.wake) >= q.opts.Idle {
			break
		}
		if timer == nil {
			timer = time.NewTimer(q.opts.IdleTimeout)
		} else {
			timer.Reset(q.opts.IdleTimeout)
		}
		if !q.waitForWork(timer) {
			break
		}
	}
	q.running--
	q.mu.Unlock()
}

// forget drops an empty line. A Go map keeps its memory when entries are deleted, so once
// no line is left after a burst of many, the map is made afresh. Caller holds q.mu.
func (q *Queue[K]) forget(l *line[K]) {
	delete(q.lines, l.key)
	if len(q.lines) == 0 && q.peak > shrinkAfter {
		q.lines, q.peak = map[K]*line[K]{}, 0
	}
}

// shrinkAfter is the number of lines at once after which an emptied map is made afresh.
const shrinkAfter = 256

// waitForWork waits for work handed over by schedule, or for timer. It reports whether work came.
// Caller holds q.mu, which is released while waiting.
func (q *Queue[K]) waitForWork(timer *time.Timer) bool {
	q.idlers++
	q.mu.Unlock()
	select {
	case <-q.wake:
		timer.Stop()
		q.mu.Lock()
		return true
	case <-timer.C:
	}
	q.mu.Lock()
	// schedule may have handed work over just as the timer fired.
	select {
	case <-q.wake:
		return true
	default:
		q.idlers--
		return false
	}
}

func (q *Queue[K]) run(key K, task func()) {
	if q.opts.OnPanic != nil {
		defer func() {
			if v := recover(); v != nil {
				q.opts.OnPanic(key, v)
			}
		}()
	}
	task()
}

// finished counts n tasks done and wakes Drain at zero. Caller holds q.mu.
func (q *Queue[K]) finished(n int) {
	q.pending -= n
	if q.pending == 0 && q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
}

// Discard drops the tasks waiting under key (not the one running) and returns how many.
func (q *Queue[K]) Discard(key K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lines[key]
	if l == nil || len(l.tasks) <= 1 {
		return 0
	}
	// A busy line's head is running or about to run; keep it so serve stays consistent.
	n := len(l.tasks) - 1
	clear(l.tasks[1:])
	l.tasks = l.tasks[:1]
	q.finished(n)
	return n
}

// Len reports the tasks waiting or running under key.
func (q *Queue[K]) Len(key K) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if l := q.lines[key]; l != nil {
		return len(l.tasks)
	}
	return 0
}

// Pending reports the tasks added and not yet finished, over all keys.
func (q *Queue[K]) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Close makes Add refuse new tasks; queued tasks still run. Idle goroutines still exit
// after IdleTimeout.
func (q *Queue[K]) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

// Drain waits until every task added so far has finished, or ctx ends.
func (q *Queue[K]) Drain(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d tasks still queued: %w", q.Pending(), ctx.Err())
	}
}
