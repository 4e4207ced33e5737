package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wsgate/wsgate/internal/clientlog"
	"github.com/wsgate/wsgate/internal/serial"
	"github.com/wsgate/wsgate/server/protocol"
)

// Sender delivers a response_vm frame to a connection. Send must not block on the network
// and must keep the order of frames per connection; it must not modify frame.
type Sender interface {
	Send(connID string, frame []byte)
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(connID string, frame []byte)

// Send implements Sender.
func (f SenderFunc) Send(connID string, frame []byte) { f(connID, frame) }

// Closer closes a client's connection at the gateway, so that the client reconnects and
// requests its view models again (dotNetify clients do after any close). CloseConnection
// must not block on the network and must close only after the frames already sent to the
// connection. *push.Client implements it (a signed DELETE on @connections/{id}).
type Closer interface {
	CloseConnection(connID string)
}

// Config configures a Runtime.
type Config struct {
	// Registry holds the view-model types. Required.
	Registry *Registry
	// Sender delivers frames. Required.
	Sender Sender
	// Logger receives structured logs. Default: discard.
	Logger *slog.Logger
	// Authorize runs before every request_vm and update_vm. Default: allow.
	Authorize AuthorizeFunc
	// Closer, when set, closes connections that send update_vm or dispose_vm although this
	// runtime holds no session for them (it was restarted, or the client never requested a
	// view model here), so that the client reconnects and requests its view models again.
	// Default: nil, such messages are dropped with a log line. The runtime also closes,
	// through it, a connection that sends a vmId over MaxVMIDBytes.
	Closer Closer

	// MaxVMIDBytes bounds a vmId; a message with a longer one closes the connection.
	// Default: DefaultMaxVMIDBytes (256).
	MaxVMIDBytes int
	// MaxVMDepth bounds the levels of a requested vmId ("Master.Child" has 2); a deeper
	// request_vm gets an exception payload. Default: DefaultMaxVMDepth (4).
	MaxVMDepth int
	// MaxVMsPerConnection bounds the view models one connection holds, masters included; a
	// request_vm over it gets an exception payload. Default: DefaultMaxVMsPerConnection (64).
	MaxVMsPerConnection int
	// MaxFrameBytes bounds one frame to a client; a larger one is replaced by an exception
	// payload. Default: DefaultMaxFrameBytes (131,072, API Gateway's limit).
	MaxFrameBytes int
	// MaxPendingBytes bounds the messages of one connection waiting to be handled; a
	// message over it closes the connection. Default: DefaultMaxPendingBytes (1 MiB).
	MaxPendingBytes int
}

// Runtime runs view models for many connections.
//
// All of its work runs in one keyed serial queue (internal/serial), in lines: one per
// connection (its session: its messages in order, and everything done to its per-connection
// view models, PushUpdates included) and one per shared instance (joins, leaves, updates and
// PushUpdates of that instance). A line runs one task at a time, in order; different lines
// run at once, on goroutines that exist while there is work (a few wait a second for more,
// to be reused). A session's task
// that reaches a shared instance hands the work to the instance's line and waits for it;
// an instance's task never waits for a session, so the waits cannot form a cycle. No lock
// of the runtime is ever held around view-model code: mu and sharedMu guard maps only.
type Runtime struct {
	reg       *Registry
	sender    Sender
	log       *slog.Logger
	authorize AuthorizeFunc
	closer    Closer
	limits    Config // only the Max… fields are read
	counts    counters
	warnings  *clientlog.Limiter

	// work has no bound on its workers: a session's task may wait for an instance's line,
	// and a bound could leave every worker waiting for a line that has none.
	work *serial.Queue[lineKey]

	mu       sync.Mutex // guards sessions and each session's queued, tasks and closed
	sessions map[string]*session

	sharedMu sync.Mutex // guards the map shared; each entry is used in its own line only
	shared   map[string]*instance
}

// lineKey names a line of the runtime's queue: a connection's session (conn) or a shared
// instance (shared, its key: vmId and group).
type lineKey struct {
	conn   string
	shared string
}

// session is the per-connection set of live view models. A session that handled a
// request_vm is kept (even without view models) until $disconnect or a 410; one that never
// did is forgotten as soon as it has no work. caller, vms and requested are used in the
// session's line only.
type session struct {
	caller    Caller
	vms       []*instance // creation order
	requested bool        // a request_vm was handled
	queued    int         // bytes of its messages queued or running, bounded by MaxPendingBytes
	tasks     int         // its messages and disconnections queued or running
	closed    bool        // disconnected: its later tasks do nothing
}

// New returns a runtime. It panics if Registry or Sender is nil, a programming error.
func New(cfg Config) *Runtime {
	if cfg.Registry == nil || cfg.Sender == nil {
		panic("vm.New: Registry and Sender are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.setDefaults()
	rt := &Runtime{
		reg: cfg.Registry, sender: cfg.Sender, log: cfg.Logger, authorize: cfg.Authorize, closer: cfg.Closer,
		limits:   Config{MaxVMIDBytes: cfg.MaxVMIDBytes, MaxVMDepth: cfg.MaxVMDepth, MaxVMsPerConnection: cfg.MaxVMsPerConnection, MaxFrameBytes: cfg.MaxFrameBytes, MaxPendingBytes: cfg.MaxPendingBytes},
		warnings: clientlog.NewLimiter(time.Now),
		sessions: map[string]*session{}, shared: map[string]*instance{},
	}
	rt.work = serial.New(serial.Options[lineKey]{OnPanic: rt.linePanicked, Idle: idleWorkers})
	return rt
}

// idleWorkers is how many of the runtime's goroutines wait for the next message instead of
// exiting (for a second): enough for the requests a task serves at once, so that a steady
// stream of messages runs on goroutines whose stacks already grew.
const idleWorkers = 64

// linePanicked logs a panic outside view-model code (view-model panics are caught closer to
// the code, and reported to the client); the line goes on with its next task.
func (rt *Runtime) linePanicked(key lineKey, v any) {
	rt.log.Error("runtime panicked", "connectionId", key.conn, "group", clip(key.shared), "panic", clip(fmt.Sprint(v)), "stack", string(debug.Stack()))
}

// Handle queues a client message from connection c.ConnectionID and returns at once. The
// message's work runs later, in the connection's line, with ctx's values but not its
// cancellation: an integration request ends as soon as its message is queued. ctx reaches
// the authorization hooks and constructors (Request.Context).
func (rt *Runtime) Handle(ctx context.Context, c Caller, m *protocol.Message) {
	ctx = context.WithoutCancel(ctx)
	if rt.refuseLongVMID(c.ConnectionID, m.CallType, m.VMID) {
		return
	}
	accepted := rt.enqueue(c.ConnectionID, true, messageCost(m), func(s *session) {
		s.caller.ConnectionID = c.ConnectionID
		if c.SourceIP != "" {
			s.caller.SourceIP = c.SourceIP
		}
		if c.UserAgent != "" {
			s.caller.UserAgent = c.UserAgent
		}
		// The gateway states the principal on every request of an authorized connection;
		// one that states none leaves what an earlier request stated.
		if c.Principal != "" {
			s.caller.Principal = c.Principal
			s.caller.Authorizer = c.Authorizer
		}
		switch m.CallType {
		case protocol.CallRequestVM:
			rt.requestVM(ctx, s, m)
		case protocol.CallUpdateVM:
			rt.updateVM(ctx, s, m)
		case protocol.CallDisposeVM:
			rt.disposeVM(s, m)
		}
	})
	if !accepted {
		rt.refuseBacklog(c.ConnectionID, m)
	}
}

// Disconnect queues disposal of every view model of connID ($disconnect, or a 410 from the
// gateway). Unknown ids are ignored. Like Handle's, the work keeps ctx's values but not its
// cancellation.
func (rt *Runtime) Disconnect(ctx context.Context, connID string) {
	ctx = context.WithoutCancel(ctx)
	rt.enqueue(connID, false, 0, func(s *session) { rt.disconnect(ctx, connID, s) })
}

// Close disposes every view model of every connection (leave hooks and OnDispose run, timers
// stop through Base.Context) and waits for it, or for ctx.
func (rt *Runtime) Close(ctx context.Context) error {
	for _, id := range rt.Connections() {
		rt.Disconnect(ctx, id)
	}
	return rt.Drain(ctx)
}

// Connections lists the connections that hold view models.
func (rt *Runtime) Connections() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := make([]string, 0, len(rt.sessions))
	for id := range rt.sessions {
		out = append(out, id)
	}
	return out
}

// Sessions reports how many connections hold a session.
func (rt *Runtime) Sessions() int {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return len(rt.sessions)
}

// Drain waits until all work queued so far was done (messages, disconnections and
// PushUpdates, in every line), or ctx ends.
func (rt *Runtime) Drain(ctx context.Context) error {
	if err := rt.work.Drain(ctx); err != nil {
		return fmt.Errorf("drain view-model work: %w", err)
	}
	return nil
}

// enqueue queues fn in connID's line, creating the session when create is set. It reports
// false, queuing nothing, when the session's queued messages would hold more than
// MaxPendingBytes (a disconnection, cost 0, is always queued).
func (rt *Runtime) enqueue(connID string, create bool, cost int, fn func(*session)) bool {
	rt.mu.Lock()
	s := rt.sessions[connID]
	queued := 0
	if s != nil {
		queued = s.queued
	}
	if cost > 0 && queued+cost > rt.limits.MaxPendingBytes {
		rt.mu.Unlock()
		return false
	}
	if s == nil {
		if !create {
			rt.mu.Unlock()
			return true
		}
		s = &session{caller: Caller{ConnectionID: connID}}
		rt.sessions[connID] = s
	}
	s.queued += cost
	s.tasks++ // the session is not forgotten before its task ran
	rt.mu.Unlock()
	// Added after the unlock, so the line's goroutine does not start by waiting for rt.mu.
	rt.add(lineKey{conn: connID}, func() { rt.runSession(s, cost, fn) })
	return true
}

// add queues task in key's line. The queue is never closed and has no bound per line (the
// runtime keeps its own), so Add cannot fail.
func (rt *Runtime) add(key lineKey, task func()) {
	if err := rt.work.Add(key, task); err != nil {
		panic("vm: runtime queue refused a task: " + err.Error())
	}
}

// runSession runs one task of s, unless s was disconnected meanwhile, and then releases
// the task's share of the session's budget (also after a panic, which linePanicked logs).
func (rt *Runtime) runSession(s *session, cost int, fn func(*session)) {
	defer rt.sessionTaskDone(s, cost)
	rt.mu.Lock()
	closed := s.closed
	rt.mu.Unlock()
	if !closed {
		fn(s)
	}
}

func (rt *Runtime) sessionTaskDone(s *session, cost int) {
	rt.mu.Lock()
	s.queued -= cost
	s.tasks--
	rt.forgetIfEmpty(s)
	rt.mu.Unlock()
}

// within runs fn in key's line and waits for it; it reports whether fn returned (false: it
// panicked, which linePanicked logged). A session's task uses it to reach a shared
// instance, and PushUpdates to reach a view model from the view model's own goroutines.
func (rt *Runtime) within(key lineKey, fn func()) bool {
	done := make(chan bool, 1)
	rt.add(key, func() {
		returned := false
		defer func() { done <- returned }()
		fn()
		returned = true
	})
	return <-done
}

// enter runs fn on in from its session's line: directly for a per-connection view model
// (the session's line is its line), in the instance's line for a shared one.
func (rt *Runtime) enter(in *instance, fn func()) bool {
	if in.shared == nil {
		fn()
		return true
	}
	return rt.within(in.line(), fn)
}

// forgetIfEmpty drops a session that never handled a request_vm, holds no view model and
// has no work, so connections that only sent stray messages cost nothing. Caller holds rt.mu.
func (rt *Runtime) forgetIfEmpty(s *session) {
	if s.requested || len(s.vms) > 0 || s.tasks > 0 || s.closed {
		return
	}
	s.closed = true
	if rt.sessions[s.caller.ConnectionID] == s {
		delete(rt.sessions, s.caller.ConnectionID)
	}
}

func (rt *Runtime) sendException(connID, vmID string, ex *Exception) {
	frame := protocol.Response(vmID, protocol.ExceptionData(ex.Type, ex.Message))
	if rt.frameFits(connID, vmID, frame) {
		rt.sender.Send(connID, frame)
	}
}

func (s *session) find(vmID string) *instance {
	for _, in := range s.vms {
		if in.vmID == vmID {
			return in
		}
	}
	return nil
}

func (rt *Runtime) checkAccess(ctx context.Context, c Caller, vmID string, t *vmType) error {
	ctx = withCaller(ctx, c)
	if rt.authorize != nil {
		if err := rt.authorize(ctx, c, vmID); err != nil {
			return err
		}
	}
	if t != nil && t.authorize != nil {
		return t.authorize(ctx, c, vmID)
	}
	return nil
}

// requestVM creates the view model (or finds the live one) and sends its full state.
func (rt *Runtime) requestVM(ctx context.Context, s *session, m *protocol.Message) {
	conn := s.caller.ConnectionID
	s.requested = true
	if m.Headers != nil {
		s.caller.Headers = m.Headers
	}
	if in := s.find(m.VMID); in != nil {
		rt.resendState(in, conn)
		return
	}
	if err := rt.checkNewVM(s, m.VMID); err != nil {
		rt.sendException(conn, m.VMID, errorException(err))
		return
	}
	if _, err := rt.create(ctx, s, m.VMID, m.Args, true); err != nil {
		if err != errReported {
			rt.sendException(conn, m.VMID, errorException(err))
		}
		return
	}
	rt.flushSession(s, m.VMID)
}

func (rt *Runtime) resendState(in *instance, conn string) {
	rt.enter(in, func() {
		state, err := in.fullState()
		if err != nil {
			in.sendException(conn, errorException(err))
			return
		}
		in.sendData(conn, state)
	})
}

// create builds vmID for the session. For "Master.Child" the master chain is created first
// without a response. Errors were not yet reported to the client.
func (rt *Runtime) create(ctx context.Context, s *session, vmID string, args []entry, respond bool) (*instance, error) {
	var master *instance
	local := vmID
	if i := strings.LastIndexByte(vmID, '.'); i >= 0 {
		local = vmID[i+1:]
		if master = s.find(vmID[:i]); master == nil {
			var err error
			if master, err = rt.create(ctx, s, vmID[:i], nil, false); err != nil {
				return nil, err
			}
		}
	}
	typeName, instanceID, _ := strings.Cut(local, "$")
	req := &Request{Caller: s.caller, VMID: vmID, TypeName: typeName, InstanceID: instanceID, Args: argMap(args), ctx: ctx}
	t, known := rt.reg.lookup(typeName)
	if err := rt.checkAccess(ctx, s.caller, vmID, t); err != nil {
		return nil, err
	}
	child, err := rt.subVM(master, req)
	if err != nil {
		return nil, err
	}
	if child == nil && !known {
		return nil, &Exception{Type: "Exception", Message: fmt.Sprintf("'%s' is not a known view model", vmID)}
	}
	if child == nil && t.shared {
		in, err := rt.joinShared(s, t, req, args, respond)
		if err != nil {
			return nil, err
		}
		s.vms = append(s.vms, in)
		rt.counts.viewModels.Add(1)
		return in, nil
	}
	in, err := rt.construct(s, t, child, req, args, respond)
	if err != nil {
		return nil, err
	}
	s.vms = append(s.vms, in)
	rt.counts.viewModels.Add(1)
	return in, nil
}

func (rt *Runtime) subVM(master *instance, req *Request) (Model, error) {
	if master == nil {
		return nil, nil
	}
	p, ok := master.model.(SubVMProvider)
	if !ok {
		return nil, nil
	}
	var child Model
	ok = false
	rt.enter(master, func() {
		ok = master.guard(func() error {
			c, found := p.SubVM(master.callCtx(req.Caller), req.TypeName, req.InstanceID)
			if found {
				child = c
			}
			return nil
		}, req.Caller.ConnectionID, "SubVM")
	})
	if !ok {
		return nil, &Exception{Type: "Exception", Message: fmt.Sprintf("cannot create '%s'", req.VMID)}
	}
	return child, nil
}

// newModel runs a constructor, turning a panic into an error.
func (rt *Runtime) newModel(t *vmType, req *Request) (m Model, err error) {
	defer func() {
		if v := recover(); v != nil {
			rt.log.Error("view-model constructor panicked", "vmId", clip(req.VMID), "panic", clip(fmt.Sprint(v)), "stack", string(debug.Stack()))
			m, err = nil, panicException()
		}
	}()
	return t.newVM(req)
}

// construct builds a per-connection view model, applies $vmArg, runs OnCreated and sends the
// full state when respond is set.
func (rt *Runtime) construct(s *session, t *vmType, child Model, req *Request, args []entry, respond bool) (*instance, error) {
	conn := s.caller.ConnectionID
	m := child
	info := (*typeInfo)(nil)
	if m == nil {
		var err error
		if m, err = rt.newModel(t, req); err != nil {
			return nil, err
		}
		info = t.info
	} else {
		var err error
		if info, err = rt.reg.infoFor(reflect.TypeOf(m)); err != nil {
			return nil, err
		}
		t = nil
	}
	in := rt.newInstance(req.VMID, t, info, m, conn)
	if !rt.initialise(in, s.caller, args) {
		in.dispose()
		return nil, errReported
	}
	if respond {
		state, err := in.fullState()
		if err == nil {
			err = in.sendState(conn, state)
		}
		if err != nil {
			in.dispose()
			return nil, err
		}
	}
	// Changes made while creating are part of the full state; do not send them again.
	in.base().changes = nil
	return in, nil
}

// errReported marks failures whose exception payload was already sent.
var errReported = &Exception{Type: "Exception", Message: "reported"}

// initialise applies $vmArg entries and runs OnCreated, in the view model's line.
func (rt *Runtime) initialise(in *instance, c Caller, args []entry) bool {
	conn := c.ConnectionID
	for _, e := range args {
		if !in.guard(func() error { return rt.apply(in, c, e) }, conn, "$vmArg "+e.Key) {
			return false
		}
	}
	if cr, ok := in.model.(Creator); ok {
		return in.guard(func() error { return cr.OnCreated(in.callCtx(c)) }, conn, "OnCreated")
	}
	return true
}

// joinShared adds the session's connection to the shared instance for the request's group,
// creating it on first use, and sends the full state to the new member. The work runs in
// the instance's line, so joiners and leavers of one instance take turns while other
// instances go on. The connection becomes a member only once its full state was sent: a
// joiner whose state cannot be sent (it fails to encode, or is over the frame limit) gets
// the error and no later pushes.
func (rt *Runtime) joinShared(s *session, t *vmType, req *Request, args []entry, respond bool) (*instance, error) {
	group := ""
	if t.group != nil {
		var err error
		if group, err = rt.groupOf(t, req); err != nil {
			return nil, err
		}
	}
	key := req.VMID + "\x00" + group
	var in *instance
	var err error
	if !rt.within(lineKey{shared: key}, func() { in, err = rt.join(t, req, key, args, respond) }) {
		return nil, panicException()
	}
	if err != nil {
		return nil, err
	}
	return in, nil
}

// join finds or creates the instance for key and admits req's caller. It runs in key's
// line, so the instance cannot be created, joined or left by anyone else meanwhile; a new
// instance is published only once its first member was admitted.
func (rt *Runtime) join(t *vmType, req *Request, key string, args []entry, respond bool) (*instance, error) {
	rt.sharedMu.Lock()
	in := rt.shared[key]
	rt.sharedMu.Unlock()
	created := in == nil
	if created {
		m, err := rt.newModel(t, req)
		if err != nil {
			return nil, err
		}
		in = rt.newInstance(req.VMID, t, t.info, m, "")
		in.shared = &sharedVM{key: key, members: map[string]struct{}{}}
	}
	if err := rt.admit(in, req.Caller, args, created, respond); err != nil {
		if len(in.shared.members) == 0 {
			in.dispose()
			rt.forgetShared(in)
		}
		return nil, err
	}
	if created {
		rt.sharedMu.Lock()
		rt.shared[key] = in
		rt.sharedMu.Unlock()
	}
	return in, nil
}

// admit initialises a new shared instance, sends the joiner its full state and only then
// makes it a member. It runs in the instance's line.
func (rt *Runtime) admit(in *instance, c Caller, args []entry, created, respond bool) error {
	conn := c.ConnectionID
	if created && !rt.initialise(in, c, args) {
		return errReported
	}
	if respond {
		state, err := in.fullState()
		if err == nil {
			err = in.sendState(conn, state)
		}
		if err != nil {
			return err
		}
	}
	in.shared.members[conn] = struct{}{}
	in.shared.order = append(in.shared.order, conn)
	// Pending changes go to the other members; the new one has them in its full state.
	in.flushExcept(conn)
	return nil
}

// forgetShared drops a disposed shared instance from the map, unless it was replaced.
func (rt *Runtime) forgetShared(in *instance) {
	rt.sharedMu.Lock()
	if rt.shared[in.shared.key] == in {
		delete(rt.shared, in.shared.key)
	}
	rt.sharedMu.Unlock()
}

func (rt *Runtime) groupOf(t *vmType, req *Request) (g string, err error) {
	defer func() {
		if v := recover(); v != nil {
			rt.log.Error("group function panicked", "vmId", clip(req.VMID), "panic", clip(fmt.Sprint(v)))
			err = panicException()
		}
	}()
	return t.group(req), nil
}

// flushExcept pushes pending changes to every target but one.
func (in *instance) flushExcept(conn string) {
	all, _ := in.takeChanges(nil)
	if all == nil {
		return
	}
	frame := protocol.Response(in.vmID, all)
	for _, c := range in.targets() {
		if c != conn {
			in.send(c, frame)
		}
	}
}

// updateVM applies property sets and command calls, replies with the changes (minus the
// caller's echo) and pushes the other view models of the session.
func (rt *Runtime) updateVM(ctx context.Context, s *session, m *protocol.Message) {
	conn := s.caller.ConnectionID
	if rt.closeUnknown(s, m) {
		return
	}
	entries := m.Args
	if m.Headers != nil {
		s.caller.Headers = m.Headers
	}
	if len(entries) == 0 {
		return
	}
	in := s.find(m.VMID)
	if in == nil {
		rt.warn("update before request", "update received before request_vm", "connectionId", conn, "vmId", clip(m.VMID))
		return
	}
	if err := rt.checkAccess(ctx, s.caller, m.VMID, in.typ); err != nil {
		rt.sendException(conn, m.VMID, errorException(err))
		return
	}
	if in.shared == nil {
		rt.update(in, s.caller, entries)
	} else {
		caller := s.caller
		rt.within(in.line(), func() { rt.update(in, caller, entries) })
	}
	rt.flushSession(s, m.VMID)
}

// update applies a client's entries in order, stopping at the first that fails, and
// replies with the changes (minus the caller's echo). It runs in in's line.
func (rt *Runtime) update(in *instance, c Caller, entries []entry) {
	if in.disposed {
		return
	}
	conn := c.ConnectionID
	echo := make(map[string]string, len(entries))
	for _, e := range entries {
		echo[e.Key], _ = scalarText(e.Value)
	}
	for _, e := range entries {
		if !in.guard(func() error { return rt.apply(in, c, e) }, conn, "update "+e.Key) {
			break
		}
	}
	in.flush(conn, echo)
}

// flushSession pushes pending changes of the session's other per-connection view models (a
// command of one may change another, a master and its child for example). A shared
// instance pushes its changes at the end of each of its own tasks; other view models change
// it through its PushUpdates, in its line.
func (rt *Runtime) flushSession(s *session, except string) {
	for _, in := range s.vms {
		if in.vmID == except || in.shared != nil {
			continue
		}
		if !in.disposed && len(in.base().changes) > 0 {
			in.flush("", nil)
		}
	}
}

// closeUnknown handles an update_vm or dispose_vm from a connection this runtime holds no
// session for: no request_vm was ever handled for it here, typically because the server
// was restarted without draining while the gateway kept the client's socket open. The
// client believes it has view models, so the connection is closed (with a Closer): the
// client reconnects and requests them again. A connection that has a session but not that
// view model is not closed, as API Gateway does not guarantee the order of messages.
func (rt *Runtime) closeUnknown(s *session, m *protocol.Message) bool {
	if s.requested || len(s.vms) > 0 {
		return false
	}
	conn := s.caller.ConnectionID
	if rt.closer == nil {
		rt.warn("no session\x00"+m.CallType, m.CallType+" from a connection without a session, dropped", "connectionId", conn, "vmId", clip(m.VMID))
		return true
	}
	rt.log.Info("closing connection", "connectionId", conn, "callType", m.CallType, "vmId", clip(m.VMID),
		"reason", "no session for this connection (server restarted, or no request_vm seen here): the client reconnects and requests its view models again")
	rt.closer.CloseConnection(conn)
	return true
}

// disposeVM removes vmID and its children ("vmID.…"), longest ids first.
func (rt *Runtime) disposeVM(s *session, m *protocol.Message) {
	vmID := m.VMID
	if rt.closeUnknown(s, m) {
		return
	}
	var victims []*instance
	for _, in := range s.vms {
		if in.vmID == vmID || strings.HasPrefix(in.vmID, vmID+".") {
			victims = append(victims, in)
		}
	}
	slices.SortStableFunc(victims, func(a, b *instance) int { return len(b.vmID) - len(a.vmID) })
	for _, in := range victims {
		rt.release(s.caller, in)
		s.vms = slices.DeleteFunc(s.vms, func(x *instance) bool { return x == in })
		rt.counts.viewModels.Add(-1)
	}
}

func (rt *Runtime) disconnect(ctx context.Context, connID string, s *session) {
	for i := len(s.vms) - 1; i >= 0; i-- {
		rt.release(s.caller, s.vms[i])
	}
	rt.counts.viewModels.Add(-int64(len(s.vms)))
	s.vms = nil
	rt.mu.Lock()
	s.closed = true
	if rt.sessions[connID] == s {
		delete(rt.sessions, connID)
	}
	rt.mu.Unlock()
}

// release disposes a per-connection view model or leaves a shared one.
func (rt *Runtime) release(c Caller, in *instance) {
	if in.shared == nil {
		in.dispose()
		return
	}
	rt.within(in.line(), func() { rt.leave(c, in) })
}

// leave removes c's connection from a shared instance, runs OnLeave and pushes its changes
// to the members left; the last one to leave disposes the instance. It runs in the
// instance's line.
func (rt *Runtime) leave(c Caller, in *instance) {
	if in.disposed {
		return
	}
	conn := c.ConnectionID
	if _, ok := in.shared.members[conn]; ok {
		delete(in.shared.members, conn)
		in.shared.order = slices.DeleteFunc(in.shared.order, func(x string) bool { return x == conn })
		if l, ok := in.model.(Leaver); ok {
			in.guard(func() error { l.OnLeave(in.callCtx(c)); return nil }, noReport, "OnLeave")
		}
	}
	if len(in.shared.members) == 0 {
		in.dispose()
		rt.forgetShared(in)
		return
	}
	in.flush("", nil)
}

func argMap(args []entry) map[string]json.RawMessage {
	if len(args) == 0 {
		return nil
	}
	m := make(map[string]json.RawMessage, len(args))
	for _, e := range args {
		m[e.Key] = e.Value
	}
	return m
}
