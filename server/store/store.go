// Package store keeps the connection → view-model registrations and group memberships that
// outlive a single request. Memory is the default; the Store interface lets a shared store
// (for example DynamoDB) back several server tasks.
package store

import (
	"context"
	"slices"
	"sync"
)

// Registration is one view model a connection requested: its id and the raw vmArgs it sent,
// enough to rebuild the view model elsewhere.
type Registration struct {
	VMID   string
	VMArgs string
}

// Store records which view models each connection holds and which connections belong to
// each multicast group. Implementations must be safe for concurrent use.
type Store interface {
	// AddVM records that connID requested vmID with vmArgs, replacing an earlier record.
	AddVM(ctx context.Context, connID, vmID, vmArgs string) error
	// RemoveVM forgets vmID for connID; unknown ids are not an error.
	RemoveVM(ctx context.Context, connID, vmID string) error
	// VMs lists the registrations of connID in request order.
	VMs(ctx context.Context, connID string) ([]Registration, error)
	// RemoveConnection forgets connID, its registrations and its group memberships.
	RemoveConnection(ctx context.Context, connID string) error
	// Join adds connID to group.
	Join(ctx context.Context, group, connID string) error
	// Leave removes connID from group.
	Leave(ctx context.Context, group, connID string) error
	// Members lists the connections in group.
	Members(ctx context.Context, group string) ([]string, error)
}

// Memory is the in-process Store. The zero value is not usable; call NewMemory.
type Memory struct {
	mu     sync.Mutex
	conns  map[string]*memConn
	groups map[string]map[string]struct{}
}

type memConn struct {
	vms    []Registration
	groups []string
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{conns: map[string]*memConn{}, groups: map[string]map[string]struct{}{}}
}

// AddVM implements Store.
func (m *Memory) AddVM(_ context.Context, connID, vmID, vmArgs string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conn(connID)
	for i := range c.vms {
		if c.vms[i].VMID == vmID {
			c.vms[i].VMArgs = vmArgs
			return nil
		}
	}
	c.vms = append(c.vms, Registration{VMID: vmID, VMArgs: vmArgs})
	return nil
}

// RemoveVM implements Store.
func (m *Memory) RemoveVM(_ context.Context, connID, vmID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[connID]
	if !ok {
		return nil
	}
	c.vms = slices.DeleteFunc(c.vms, func(r Registration) bool { return r.VMID == vmID })
	m.dropIfEmpty(connID, c)
	return nil
}

// VMs implements Store.
func (m *Memory) VMs(_ context.Context, connID string) ([]Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.conns[connID]; ok {
		return slices.Clone(c.vms), nil
	}
	return nil, nil
}

// RemoveConnection implements Store.
func (m *Memory) RemoveConnection(_ context.Context, connID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.conns[connID]
	if !ok {
		return nil
	}
	for _, g := range c.groups {
		m.leave(g, connID)
	}
	delete(m.conns, connID)
	return nil
}

// Join implements Store.
func (m *Memory) Join(_ context.Context, group, connID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	members, ok := m.groups[group]
	if !ok {
		members = map[string]struct{}{}
		m.groups[group] = members
	}
	if _, in := members[connID]; in {
		return nil
	}
	members[connID] = struct{}{}
	c := m.conn(connID)
	c.groups = append(c.groups, group)
	return nil
}

// Leave implements Store.
func (m *Memory) Leave(_ context.Context, group, connID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leave(group, connID)
	if c, ok := m.conns[connID]; ok {
		c.groups = slices.DeleteFunc(c.groups, func(g string) bool { return g == group })
		m.dropIfEmpty(connID, c)
	}
	return nil
}

// Members implements Store.
func (m *Memory) Members(_ context.Context, group string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.groups[group]))
	for id := range m.groups[group] {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, nil
}

// Connections reports how many connections the store holds (for tests and metrics).
func (m *Memory) Connections() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.conns)
}

func (m *Memory) conn(connID string) *memConn {
	c, ok := m.conns[connID]
	if !ok {
		c = &memConn{}
		m.conns[connID] = c
	}
	return c
}

func (m *Memory) leave(group, connID string) {
	if members, ok := m.groups[group]; ok {
		delete(members, connID)
		if len(members) == 0 {
			delete(m.groups, group)
		}
	}
}

func (m *Memory) dropIfEmpty(connID string, c *memConn) {
	if len(c.vms) == 0 && len(c.groups) == 0 {
		delete(m.conns, connID)
	}
}
