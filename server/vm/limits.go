package vm

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/wsgate/wsgate/server/protocol"
)

// Defaults of the limits in Config. Every byte a client sends is hostile: each thing a
// connection can make the runtime hold has a bound.
const (
	// DefaultMaxVMIDBytes bounds a vmId. dotNetify ids are a type name, an optional
	// "$instance" and up to a few "Master." scopes: tens of bytes. 256 leaves room for long
	// names and instance keys (a UUID is 36) and keeps a refused id cheap to log and compare.
	DefaultMaxVMIDBytes = 256
	// DefaultMaxVMDepth bounds the levels of a vmId ("Master.Child" has 2). Each level is a
	// view model the runtime builds; dotNetify's own examples nest at most 3.
	DefaultMaxVMDepth = 4
	// DefaultMaxVMsPerConnection bounds the view models one connection holds at once
	// (implicitly created masters included). A page rarely shows more than a dozen; 64 leaves
	// room for busy dashboards while one connection cannot start thousands of timers.
	DefaultMaxVMsPerConnection = 64
	// DefaultMaxPendingBytes bounds the messages of one connection waiting in its line
	// (each counted as its vmId, vmArgs and value plus messageOverhead). A page asking for
	// all 64 of its view models at once queues about 40 KB; 1 MiB also holds six messages of
	// API Gateway's largest size, while one connection flooding a slow view model cannot
	// pile up more.
	DefaultMaxPendingBytes = 1 << 20
	// DefaultMaxFrameBytes is API Gateway's limit on one message to a client: a
	// PostToConnection body over 131,072 bytes is refused with 413.
	DefaultMaxFrameBytes = 128 << 10
)

// Stats counts what the runtime refused because a limit was crossed.
type Stats struct {
	// VMIDTooLong counts messages whose vmId was over MaxVMIDBytes (the connection was closed).
	VMIDTooLong uint64
	// VMTooDeep counts request_vm refused for a vmId over MaxVMDepth levels.
	VMTooDeep uint64
	// TooManyVMs counts request_vm refused because the connection held MaxVMsPerConnection.
	TooManyVMs uint64
	// FrameTooLarge counts frames over MaxFrameBytes replaced by an exception payload.
	FrameTooLarge uint64
	// BacklogFull counts messages refused because their connection's queue held
	// MaxPendingBytes (the connection was closed).
	BacklogFull uint64
}

type counters struct {
	vmIDTooLong, vmTooDeep, tooManyVMs, frameTooLarge, backlogFull atomic.Uint64
	// viewModels is the number of view models the sessions hold (a shared one once per
	// session that joined it), kept as they are added and released so that reading it
	// takes no lock.
	viewModels atomic.Int64
}

// ViewModels reports how many view models the sessions hold, a shared one once per
// session that joined it.
func (rt *Runtime) ViewModels() int { return int(rt.counts.viewModels.Load()) }

// Stats returns the runtime's counters.
func (rt *Runtime) Stats() Stats {
	return Stats{
		VMIDTooLong:   rt.counts.vmIDTooLong.Load(),
		VMTooDeep:     rt.counts.vmTooDeep.Load(),
		TooManyVMs:    rt.counts.tooManyVMs.Load(),
		FrameTooLarge: rt.counts.frameTooLarge.Load(),
		BacklogFull:   rt.counts.backlogFull.Load(),
	}
}

func (cfg *Config) setDefaults() {
	if cfg.MaxVMIDBytes <= 0 {
		cfg.MaxVMIDBytes = DefaultMaxVMIDBytes
	}
	if cfg.MaxVMDepth <= 0 {
		cfg.MaxVMDepth = DefaultMaxVMDepth
	}
	if cfg.MaxVMsPerConnection <= 0 {
		cfg.MaxVMsPerConnection = DefaultMaxVMsPerConnection
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
}

// messageOverhead is what a queued message costs besides its text (the decoded message,
// the closure, the queue slot), so that many tiny messages count too.
const messageOverhead = 256

// argOverhead is what each parsed argument and header of a queued message holds besides
// its key's bytes (the key's and the value's headers, a map slot): a message of many tiny
// keys holds several times its text once parsed, and the bound must count what is held.
const argOverhead = 48

func messageCost(m *protocol.Message) int {
	n := len(m.VMID) + len(m.VMArgs) + len(m.Value) + messageOverhead
	for _, a := range m.Args {
		n += argOverhead + len(a.Key)
	}
	for k, v := range m.Headers {
		n += argOverhead + len(k) + len(v)
	}
	return n
}

// refuseBacklog closes a connection whose queued messages hold MaxPendingBytes: the
// message cannot be dropped silently (the client's state would diverge), and the client
// will resynchronise when it reconnects.
func (rt *Runtime) refuseBacklog(connID string, m *protocol.Message) {
	rt.counts.backlogFull.Add(1)
	rt.warn("backlog full", "closing connection", "connectionId", connID, "callType", m.CallType, "vmId", clip(m.VMID),
		"reason", fmt.Sprintf("over %d bytes of messages queued for this connection", rt.limits.MaxPendingBytes))
	if rt.closer != nil {
		rt.closer.CloseConnection(connID)
	}
}

// refuseLongVMID closes a connection that sent a vmId over the limit. A dotNetify client
// never builds such an id, and any reply would have to carry the id back (its vmId routes
// it), so there is nothing to answer: the connection is closed, counted and logged with the
// id clipped. It reports whether the message was refused.
func (rt *Runtime) refuseLongVMID(connID, callType, vmID string) bool {
	if len(vmID) <= rt.limits.MaxVMIDBytes {
		return false
	}
	rt.counts.vmIDTooLong.Add(1)
	reason := fmt.Sprintf("vmId is %d bytes, over the limit of %d", len(vmID), rt.limits.MaxVMIDBytes)
	rt.warn("vmId too long", "closing connection", "connectionId", connID, "callType", callType, "vmId", clip(vmID), "reason", reason)
	if rt.closer != nil {
		rt.closer.CloseConnection(connID)
	}
	return true
}

// checkNewVM refuses to build vmID for s when its depth or the session's view-model count
// is over the limit; the client gets the error as an exception payload and may dispose
// view models and try again. missing is how many view models the request would build.
func (rt *Runtime) checkNewVM(s *session, vmID string) error {
	if depth := strings.Count(vmID, ".") + 1; depth > rt.limits.MaxVMDepth {
		rt.counts.vmTooDeep.Add(1)
		rt.warn("vmId too deep", "view model refused", "connectionId", s.caller.ConnectionID, "vmId", clip(vmID), "reason", "too many levels")
		return &Exception{Type: "ArgumentException", Message: fmt.Sprintf("vmId '%s' has %d levels, over the limit of %d", vmID, depth, rt.limits.MaxVMDepth)}
	}
	missing := 0
	for id := vmID; ; {
		if s.find(id) != nil {
			break
		}
		missing++
		i := strings.LastIndexByte(id, '.')
		if i < 0 {
			break
		}
		id = id[:i]
	}
	if len(s.vms)+missing > rt.limits.MaxVMsPerConnection {
		rt.counts.tooManyVMs.Add(1)
		rt.warn("too many view models", "view model refused", "connectionId", s.caller.ConnectionID, "vmId", clip(vmID), "reason", "too many view models on this connection")
		return &Exception{Type: "InvalidOperationException", Message: fmt.Sprintf("this connection holds %d view models, the limit is %d: dispose one before requesting '%s'", len(s.vms), rt.limits.MaxVMsPerConnection, vmID)}
	}
	return nil
}

// frameFits reports whether a response frame for vmID can reach the client, and if not
// sends connID an exception payload instead, so the client learns why its state did not
// arrive rather than API Gateway dropping the frame with a 413 no one sees.
func (rt *Runtime) frameFits(connID, vmID string, frame []byte) bool {
	if len(frame) <= rt.limits.MaxFrameBytes {
		return true
	}
	rt.counts.frameTooLarge.Add(1)
	rt.warn("frame too large", "frame not sent", "connectionId", connID, "vmId", clip(vmID), "bytes", len(frame), "limit", rt.limits.MaxFrameBytes)
	rt.sender.Send(connID, protocol.Response(vmID, protocol.ExceptionData("PayloadTooLargeException", frameTooLarge(vmID, len(frame), rt.limits.MaxFrameBytes))))
	return false
}

func frameTooLarge(vmID string, n, limit int) string {
	return fmt.Sprintf("the update of '%s' is %d bytes, over the limit of %d bytes per message; it was not sent", vmID, n, limit)
}
