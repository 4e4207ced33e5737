package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"

	"github.com/wsgate/wsgate/server/protocol"
)

// instance is a live view model as the runtime sees it. After construction it is used in
// its line of the runtime's queue only (see line), and so is the model.
type instance struct {
	rt       *Runtime
	vmID     string
	info     *typeInfo
	typ      *vmType // nil for children supplied by a SubVMProvider
	model    Model
	rv       reflect.Value
	owner    string    // connection of a per-connection view model
	shared   *sharedVM // non-nil for a multicast view model
	disposed bool
}

// sharedVM is the membership of a multicast instance. Broadcast is O(members).
type sharedVM struct {
	key     string
	members map[string]struct{}
	order   []string // join order, so every broadcast visits members the same way
}

func (rt *Runtime) newInstance(vmID string, t *vmType, info *typeInfo, m Model, owner string) *instance {
	in := &instance{rt: rt, vmID: vmID, info: info, typ: t, model: m, rv: reflect.ValueOf(m), owner: owner}
	m.vmBase().inst.Store(in)
	return in
}

func (in *instance) base() *Base { return in.model.vmBase() }

// line is where the instance's work runs: its session's line for a per-connection view
// model (with the session's messages), its own for a shared one.
func (in *instance) line() lineKey {
	if in.shared != nil {
		return lineKey{shared: in.shared.key}
	}
	return lineKey{conn: in.owner}
}

// targets lists the connections this view model pushes to.
func (in *instance) targets() []string {
	if in.shared == nil {
		return []string{in.owner}
	}
	return slices.Clone(in.shared.order)
}

// send pushes a frame to one connection, or an exception payload in its place when the
// frame is over the limit API Gateway accepts.
func (in *instance) send(connID string, frame []byte) {
	if in.rt.frameFits(connID, in.vmID, frame) {
		in.rt.sender.Send(connID, frame)
	}
}

// sendState sends a full state to one connection. A state over the frame limit is not sent
// and returned as an exception, so the caller does not count the connection as served.
func (in *instance) sendState(connID string, state []byte) error {
	frame := protocol.Response(in.vmID, state)
	if len(frame) > in.rt.limits.MaxFrameBytes {
		in.rt.counts.frameTooLarge.Add(1)
		in.rt.warn("frame too large", "full state not sent", "connectionId", connID, "vmId", clip(in.vmID), "bytes", len(frame), "limit", in.rt.limits.MaxFrameBytes)
		return &Exception{Type: "PayloadTooLargeException", Message: frameTooLarge(in.vmID, len(frame), in.rt.limits.MaxFrameBytes)}
	}
	in.rt.sender.Send(connID, frame)
	return nil
}

// sendData pushes data (a JSON object) to one connection.
func (in *instance) sendData(connID string, data []byte) {
	in.send(connID, protocol.Response(in.vmID, data))
}

// sendException reports err to one connection as dotNetify's exception payload.
func (in *instance) sendException(connID string, ex *Exception) {
	in.sendData(connID, protocol.ExceptionData(ex.Type, ex.Message))
}

// guard runs fn, turning panics and errors into an exception payload for caller (every
// target when caller is "", nobody for noReport) plus a log line. It reports whether fn succeeded.
func (in *instance) guard(fn func() error, caller, what string) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			in.rt.log.Error("view model panicked", "vmId", in.vmID, "during", clip(what), "panic", clip(fmt.Sprint(v)), "stack", string(debug.Stack()))
			in.report(caller, panicException())
			ok = false
		}
	}()
	if err := fn(); err != nil {
		ex := errorException(err)
		// Client input reaches these (a bad value, an unknown command argument): clipped, and
		// one line per exception type per interval however often a client repeats it.
		in.rt.warn("view model error\x00"+ex.Type, "view model error", "vmId", in.vmID, "during", clip(what), "exceptionType", clip(ex.Type), "error", clip(ex.Message))
		in.report(caller, ex)
		return false
	}
	return true
}

// noReport as a caller makes guard log only (disposal has nobody left to tell).
const noReport = "\x00"

func (in *instance) report(caller string, ex *Exception) {
	if caller == noReport {
		return
	}
	if caller != "" {
		in.sendException(caller, ex)
		return
	}
	for _, c := range in.targets() {
		in.sendException(c, ex)
	}
}

// takeChanges encodes and clears the pending changes. all holds every change; forCaller
// drops keys the caller just sent with the same value (echo suppression). Both are nil when
// empty.
func (in *instance) takeChanges(echo map[string]string) (all, forCaller []byte) {
	b := in.base()
	changes := b.changes
	b.changes = nil
	if len(changes) == 0 {
		return nil, nil
	}
	all = append(make([]byte, 0, 64), '{')
	if echo != nil {
		forCaller = append(make([]byte, 0, 64), '{')
	}
	for _, c := range changes {
		val, err := in.changeValue(c)
		if err != nil {
			in.rt.log.Error("cannot serialise change", "vmId", in.vmID, "key", clip(c.key), "error", clip(err.Error()))
			continue
		}
		all = appendMember(all, c.key, val)
		if echo == nil {
			continue
		}
		if sent, ok := echo[c.key]; ok && !c.crud && textOf(val) == sent {
			continue
		}
		forCaller = appendMember(forCaller, c.key, val)
	}
	all = closeObject(all)
	if echo != nil {
		forCaller = closeObject(forCaller)
	}
	return all, forCaller
}

func (in *instance) changeValue(c change) ([]byte, error) {
	if c.crud {
		return appendAny(nil, c.value)
	}
	i, ok := in.info.byName[c.key]
	if !ok {
		return nil, fmt.Errorf("Changed(%q): no such property", c.key)
	}
	return appendValue(nil, in.rv.Elem().Field(in.info.props[i].index))
}

func appendMember(obj []byte, key string, val []byte) []byte {
	if len(obj) > 1 {
		obj = append(obj, ',')
	}
	obj = protocol.AppendString(obj, key)
	obj = append(obj, ':')
	return append(obj, val...)
}

func closeObject(obj []byte) []byte {
	if len(obj) == 1 {
		return nil
	}
	return append(obj, '}')
}

// textOf is the string form used for echo comparison (dotNetify compares strings).
func textOf(val []byte) string {
	s, _ := scalarText(json.RawMessage(val))
	return s
}

// flush pushes pending changes. With a caller, the caller gets its echo-suppressed reply
// first and the other members of a shared view model get every change.
func (in *instance) flush(caller string, echo map[string]string) {
	all, forCaller := in.takeChanges(echo)
	if all == nil {
		return
	}
	if caller != "" && echo != nil && forCaller != nil {
		in.sendData(caller, forCaller)
	} else if caller != "" && echo == nil {
		in.sendData(caller, all)
	}
	var frame []byte
	for _, c := range in.targets() {
		if c == caller {
			continue
		}
		if frame == nil {
			frame = protocol.Response(in.vmID, all)
		}
		in.send(c, frame)
	}
}

func (in *instance) sendDirect(connIDs []string, prop string, value any) {
	val, err := appendAny(nil, value)
	if err != nil {
		in.rt.log.Error("cannot serialise direct send", "vmId", in.vmID, "property", clip(prop), "error", clip(err.Error()))
		return
	}
	frame := protocol.Response(in.vmID, closeObject(appendMember([]byte{'{'}, prop, val)))
	for _, c := range connIDs {
		if in.isTarget(c) {
			in.send(c, frame)
		}
	}
}

func (in *instance) isTarget(connID string) bool {
	if in.shared == nil {
		return connID == in.owner
	}
	_, ok := in.shared.members[connID]
	return ok
}

// fullState serialises the whole view model.
func (in *instance) fullState() ([]byte, error) {
	return in.info.fullState(in.rv)
}

// dispose runs OnDispose and cancels the view model's context, in the view model's line.
func (in *instance) dispose() {
	if in.disposed {
		return
	}
	if d, ok := in.model.(Disposer); ok {
		in.guard(func() error { d.OnDispose(); return nil }, noReport, "dispose")
	}
	in.disposed = true
	if b := in.base(); b.cancel != nil {
		b.cancel()
	}
}

func (in *instance) callCtx(c Caller) context.Context {
	b := in.base()
	ctx := b.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return withCaller(ctx, c)
}
