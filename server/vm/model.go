// Package vm is the view-model runtime: Go types registered under dotNetify vmIds, one set of
// live view models per connection, change tracking, commands, CRUD list changes, child ids,
// shared (multicast) view models and server-initiated pushes.
//
// A view model is a struct that embeds Base. Its exported fields are its state, serialised
// under their Go names (dotNetify's PascalCase). Nothing is reachable by the client unless
// the type says so: a field tagged `vm:"write"` can be set, a method listed with Commands or a
// func field tagged `vm:"command"` can be called.
//
//	type HelloWorld struct {
//		vm.Base
//		FirstName string `vm:"write"`
//		LastName  string `vm:"write"`
//		FullName  string
//	}
//
//	func (h *HelloWorld) OnPropertySet(ctx context.Context, name string) error {
//		h.FullName = h.FirstName + " " + h.LastName
//		h.Changed("FullName")
//		return nil
//	}
//
// The runtime runs a view model's code (hooks, commands, serialisation) in the view model's
// line of its queue, one call at a time, so view-model code never needs its own locking;
// goroutines the view model starts change state through Base.PushUpdates, which queues
// there too. No lock of the runtime is held while view-model code runs: a slow hook delays
// its own view model (and, for a per-connection one, its connection), nothing else.
package vm

import (
	"context"
	"encoding/json"
)

// Model is a view model: a pointer to a struct that embeds Base.
type Model interface {
	vmBase() *Base
}

// Caller describes the connection a request comes from.
type Caller struct {
	// ConnectionID is the API Gateway connection id.
	ConnectionID string
	// SourceIP is the client's address as reported by the gateway; may be empty.
	SourceIP string
	// UserAgent is the client's User-Agent as reported by the gateway; may be empty.
	UserAgent string
	// Headers are the client's $headers (for example Authorization), cached per connection
	// from request_vm and replaced by an update_vm carrying $headers.
	Headers map[string]string
	// Principal is who $connect's authorization admitted: a Lambda authorizer's
	// principalId, or with IAM authorization the caller's ARN; "" when $connect is not
	// authorized. It comes only from the X-Wsgate-Principal header the integrations map
	// from API Gateway's $context, never from anything the client wrote ($headers and
	// $vmArg included).
	Principal string
	// Authorizer holds the keys of the Lambda authorizer's context that the integrations
	// forward (the constructs' ConnectAuthorization.ContextKeys), values as API Gateway
	// stringifies them. Keys are in lower case: they travel as HTTP header names, which
	// are case-insensitive. nil when there are none. Read it, do not change it.
	Authorizer map[string]string
}

// Request is what a view-model constructor receives.
type Request struct {
	// Caller is the connection that requested the view model.
	Caller Caller
	// VMID is the full requested id, for example "Master.Child$2".
	VMID string
	// TypeName is the registered name the id resolved to, for example "Child".
	TypeName string
	// InstanceID is the text after "$" in the id, or "".
	InstanceID string
	// Args holds the top-level keys of $vmArg. The runtime applies them as property sets or
	// command calls after construction; a constructor may also read them.
	Args map[string]json.RawMessage

	ctx context.Context
}

// Context is the context of the integration request that asked for the view model (its
// values, for example what a middleware stored, without its cancellation: the view model
// is built after the request returned), with the caller (CallerOf). It is not the view
// model's lifetime: that is Base.Context.
func (r *Request) Context() context.Context {
	ctx := r.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return withCaller(ctx, r.Caller)
}

type callerKey struct{}

// CallerOf returns the connection on whose behalf view-model code runs: the caller of a
// command or property set, the leaving member in OnLeave. ok is false outside such calls
// (for example inside PushUpdates from a timer).
func CallerOf(ctx context.Context) (c Caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(Caller)
	return c, ok
}

func withCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// Exception is an error that reaches the client as dotNetify's exception payload
// {"ExceptionType":Type,"Message":Message}. Other errors returned by view-model code are
// sent with ExceptionType "Exception" and their message.
type Exception struct {
	Type    string
	Message string
}

// Error returns "Type: Message".
func (e *Exception) Error() string { return e.Type + ": " + e.Message }

// ErrUnauthorized is the exception dotNetify sends when authorization fails.
var ErrUnauthorized = &Exception{Type: "UnauthorizedAccessException", Message: "Attempted to perform an unauthorized operation."}

// Optional hooks a view model may implement. The runtime calls them in the view model's
// line, never two at once.

// Creator is called once after construction and after $vmArg was applied; for a shared view
// model only when the first member creates it. An error disposes the view model and is sent
// as an exception payload.
type Creator interface {
	OnCreated(ctx context.Context) error
}

// PropertySetter is called after the client set a writable property (name is the property,
// or the full path for nested sets such as "Employees.$3.FirstName").
type PropertySetter interface {
	OnPropertySet(ctx context.Context, name string) error
}

// Leaver is called on a shared view model when a member connection leaves (dispose_vm,
// $disconnect, or gone); CallerOf(ctx) is the leaving connection. Changes it records are
// pushed to the remaining members.
type Leaver interface {
	OnLeave(ctx context.Context)
}

// Disposer is called when the view model is disposed (for a shared one: when its last
// member leaves). Base.Context is cancelled right after.
type Disposer interface {
	OnDispose()
}

// SubVMProvider lets a master view model supply its child for an id "Master.Child".
// Returning ok=false falls back to the registry.
type SubVMProvider interface {
	SubVM(ctx context.Context, typeName, instanceID string) (child Model, ok bool)
}

// ListItemGetter resolves list items addressed as "List.$key.Prop" by the client's
// $dispatchListState. The returned item must be a pointer to a struct whose writable fields
// are tagged `vm:"write"`.
type ListItemGetter interface {
	ListItem(list, key string) (item any, ok bool)
}

func errorException(err error) *Exception {
	if ex, ok := err.(*Exception); ok {
		return ex
	}
	return &Exception{Type: "Exception", Message: err.Error()}
}

// panicException hides the panic value from the client; the log line carries it.
func panicException() *Exception {
	return &Exception{Type: "Exception", Message: "internal error in view model"}
}
