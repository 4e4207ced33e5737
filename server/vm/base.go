package vm

import (
	"context"
	"sync/atomic"
)

// Base is embedded in every view model. It records changes for the next push and links the
// view model to the runtime. Its methods are meant for the view model's own code: hooks and
// commands (which the runtime runs in the view model's line, one at a time) and PushUpdates
// (which queues its function there).
type Base struct {
	inst    atomic.Pointer[instance] // set when the runtime adopts the view model
	changes []change
	ctx     context.Context
	cancel  context.CancelFunc
}

// change is one key of the next push: a property (value read at send time) or a CRUD slot.
type change struct {
	key   string
	crud  bool
	value any
}

func (b *Base) vmBase() *Base { return b }

// Changed marks properties as changed so their current values go out with the next push,
// even when the value did not change (dotNetify's Changed).
func (b *Base) Changed(names ...string) {
	for _, n := range names {
		b.record(change{key: n})
	}
}

// AddList sends list_add: the client appends item to the list (send the list itself first).
func (b *Base) AddList(list string, item any) {
	b.record(change{key: list + "_add", crud: true, value: item})
}

// UpdateList sends list_update: the client merges item into the element with the same key.
func (b *Base) UpdateList(list string, item any) {
	b.record(change{key: list + "_update", crud: true, value: item})
}

// RemoveList sends list_remove: the client removes the element whose key equals key.
func (b *Base) RemoveList(list string, key any) {
	b.record(change{key: list + "_remove", crud: true, value: key})
}

// record keeps one slot per key, like dotNetify: a later change replaces an earlier one.
func (b *Base) record(c change) {
	for i := range b.changes {
		if b.changes[i].key == c.key {
			b.changes[i] = c
			return
		}
	}
	b.changes = append(b.changes, c)
}

// PushUpdates runs mutate in the view model's line (after the work queued there before it,
// and with nothing else of the view model running), then pushes the changes it recorded to
// the view model's connection (every member for a shared one), and returns when that is
// done. Use it from timers and goroutines. Hooks and commands are pushed automatically and
// must not call it on their own view model (it would wait for itself); to change another
// view model from one, call that one's PushUpdates from a new goroutine. Before the runtime
// adopted the view model and after disposal it does nothing.
func (b *Base) PushUpdates(mutate func()) {
	in := b.inst.Load()
	if in == nil {
		return
	}
	in.rt.within(in.line(), func() {
		if in.disposed {
			return
		}
		if mutate != nil && !in.guard(func() error { mutate(); return nil }, "", "push") {
			return
		}
		in.flush("", nil)
	})
}

// Send pushes {prop: value} for this view model to the given connections only (members of a
// shared view model, or the owner of a per-connection one); other ids are ignored. Call it
// from hooks, commands or inside PushUpdates.
func (b *Base) Send(connIDs []string, prop string, value any) {
	in := b.inst.Load()
	if in == nil || in.disposed {
		return
	}
	in.sendDirect(connIDs, prop, value)
}

// Context is cancelled when the view model is disposed; stop goroutines with it. Call it
// from a hook or command (typically OnCreated) and hand the result to your goroutines: like
// the rest of the view model it is used in the view model's line only.
func (b *Base) Context() context.Context {
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	return b.ctx
}

// VMID is the id the view model was requested under, "" before the runtime adopted it.
func (b *Base) VMID() string {
	if in := b.inst.Load(); in != nil {
		return in.vmID
	}
	return ""
}

// Members lists the connections of a shared view model, or its owner.
func (b *Base) Members() []string {
	if in := b.inst.Load(); in != nil {
		return in.targets()
	}
	return nil
}
