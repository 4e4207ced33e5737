package vm

import (
	"context"
	"sync"
)

// Base is embedded in every view model. It records changes for the next push and links the
// view model to the runtime. Its methods are meant for the view model's own code: hooks and
// commands (which run with the view model's lock held) and PushUpdates (which takes it).
type Base struct {
	mu      sync.Mutex
	inst    *instance
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

// PushUpdates runs mutate with exclusive access to the view model, then pushes the changes
// it recorded to the view model's connection (every member for a shared one). Use it from
// timers and goroutines; hooks and commands are pushed automatically and must not call it.
// After disposal it does nothing.
func (b *Base) PushUpdates(mutate func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	in := b.inst
	if in == nil || in.disposed {
		return
	}
	if mutate != nil && !in.guard(func() error { mutate(); return nil }, "", "push") {
		return
	}
	in.flush("", nil)
}

// Send pushes {prop: value} for this view model to the given connections only (members of a
// shared view model, or the owner of a per-connection one); other ids are ignored. Call it
// from hooks, commands or inside PushUpdates.
func (b *Base) Send(connIDs []string, prop string, value any) {
	in := b.inst
	if in == nil || in.disposed {
		return
	}
	in.sendDirect(connIDs, prop, value)
}

// Context is cancelled when the view model is disposed; stop goroutines with it. Call it
// from a hook or command (typically OnCreated) and hand the result to your goroutines: like
// the rest of the view model it is guarded by the runtime's lock.
func (b *Base) Context() context.Context {
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	return b.ctx
}

// VMID is the id the view model was requested under, "" before the runtime adopted it.
func (b *Base) VMID() string {
	if b.inst == nil {
		return ""
	}
	return b.inst.vmID
}

// Members lists the connections of a shared view model, or its owner.
func (b *Base) Members() []string {
	if b.inst == nil {
		return nil
	}
	return b.inst.targets()
}
