package vm

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// AuthorizeFunc decides whether a caller may request or update a view model; it sees the
// caller's cached $headers. Returning an error (typically ErrUnauthorized) sends it to the
// client as an exception payload; on request_vm the view model is not constructed.
type AuthorizeFunc func(ctx context.Context, c Caller, vmID string) error

// Registry maps vmId type names to view-model constructors. Register every type before the
// runtime serves requests.
type Registry struct {
	mu    sync.RWMutex
	types map[string]*vmType
}

type vmType struct {
	name      string
	info      *typeInfo
	newVM     func(*Request) (Model, error)
	shared    bool
	group     func(*Request) string
	authorize AuthorizeFunc
	commands  []string
}

// Option configures a registered view-model type.
type Option func(*vmType)

// Commands lists the methods of the view model the client may call by name. Each method
// takes an optional context.Context first, then zero or one argument (a struct binds several
// arguments by field name), and returns nothing or an error. Methods not listed are
// unreachable.
func Commands(names ...string) Option {
	return func(t *vmType) { t.commands = append(t.commands, names...) }
}

// Shared makes the type a multicast view model: connections that request it share one
// instance per group. group computes the group name from the request (nil: one instance for
// everyone). Changes go to every member; a member's own update reply goes to it first.
// $vmArg is applied only when the instance is created.
func Shared(group func(*Request) string) Option {
	return func(t *vmType) {
		t.shared = true
		t.group = group
	}
}

// Authorize sets a check run before request_vm and update_vm of this type, after the
// runtime-wide one.
func Authorize(fn AuthorizeFunc) Option {
	return func(t *vmType) { t.authorize = fn }
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{types: map[string]*vmType{}}
}

// Register adds the view-model type M under name (the vmId the client uses, without "$"
// instance or "." scope parts). It validates the type's tags and commands and returns an
// error that lists every problem.
func Register[M Model](r *Registry, name string, newVM func(*Request) (M, error), opts ...Option) error {
	if name == "" || strings.ContainsAny(name, ".$") {
		return fmt.Errorf("register %q: a view-model name must be non-empty and contain no '.' or '$'", name)
	}
	if newVM == nil {
		return fmt.Errorf("register %q: nil constructor", name)
	}
	t := &vmType{name: name}
	for _, o := range opts {
		o(t)
	}
	info, err := inspect(reflect.TypeFor[M](), t.commands)
	if err != nil {
		return fmt.Errorf("register %q: %w", name, err)
	}
	t.info = info
	t.newVM = func(req *Request) (Model, error) {
		m, err := newVM(req)
		if err != nil {
			return nil, err
		}
		if reflect.ValueOf(m).IsNil() {
			return nil, fmt.Errorf("constructor of %s returned nil", name)
		}
		return m, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.types[name]; dup {
		return fmt.Errorf("register %q: already registered", name)
	}
	r.types[name] = t
	return nil
}

// MustRegister is Register that panics on error, for registrations at program start.
func MustRegister[M Model](r *Registry, name string, newVM func(*Request) (M, error), opts ...Option) {
	if err := Register(r, name, newVM, opts...); err != nil {
		panic(err)
	}
}

// Names lists the registered type names.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.types))
	for n := range r.types {
		out = append(out, n)
	}
	return out
}

func (r *Registry) lookup(name string) (*vmType, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.types[name]
	return t, ok
}

// infoFor finds the type info of a model built by a SubVMProvider.
func (r *Registry) infoFor(t reflect.Type) (*typeInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, vt := range r.types {
		if vt.info.ptr == t {
			return vt.info, nil
		}
	}
	return inspect(t, nil)
}
