package vm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// recorder is a Sender that keeps frames per connection.
type recorder struct {
	mu     sync.Mutex
	frames map[string][]string
}

func (r *recorder) Send(connID string, frame []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames[connID] = append(r.frames[connID], string(frame))
}

func (r *recorder) take(connID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames[connID]
	delete(r.frames, connID)
	return f
}

type harness struct {
	t   *testing.T
	rt  *vm.Runtime
	rec *recorder
}

func newHarness(t *testing.T, reg *vm.Registry, auth vm.AuthorizeFunc) *harness {
	rec := &recorder{frames: map[string][]string{}}
	return &harness{t: t, rt: vm.New(vm.Config{Registry: reg, Sender: rec, Authorize: auth}), rec: rec}
}

// do handles one client frame and returns the frames the connection got as data strings.
func (h *harness) do(connID, frame string) []string {
	h.t.Helper()
	m, err := protocol.DecodeMessage([]byte(frame))
	if err != nil {
		h.t.Fatal(err)
	}
	h.rt.Handle(context.Background(), vm.Caller{ConnectionID: connID, SourceIP: "10.1.1.1", UserAgent: "test"}, m)
	return h.frames(connID)
}

func (h *harness) frames(connID string) []string {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.rt.Drain(ctx); err != nil {
		h.t.Fatal(err)
	}
	return h.rec.take(connID)
}

func req(vmID, vmArgs string) string {
	return `{"callType":"request_vm","vmId":"` + vmID + `","vmArgs":` + quote(vmArgs) + `}`
}

func upd(vmID, value string) string {
	return `{"callType":"update_vm","vmId":"` + vmID + `","value":` + quote(value) + `}`
}

func quote(s string) string { return string(protocol.AppendString(nil, s)) }

func resp(vmID, data string) string { return string(protocol.Response(vmID, []byte(data))) }

func expectFrames(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames %q, want %d %q", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

// Account exercises the reachability rules: only tagged fields and listed commands.
type Account struct {
	vm.Base
	Name     string `vm:"write"`
	Balance  int
	Age      int  `vm:"write"`
	Active   bool `vm:"write"`
	Ratio    float64
	Tags     []string
	Secret   string `vm:"-"`
	internal string
	Refresh  func() `vm:"command"`
	Hidden   func()
	Calls    int
	LastName string
}

func (a *Account) Deposit(n int)  { a.Balance += n; a.Changed("Balance") }
func (a *Account) Withdraw(n int) { a.Balance -= n; a.Changed("Balance") }
func (a *Account) Boom()          { panic("kaboom") }
func (a *Account) Fail() error    { return errors.New("no funds") }
func (a *Account) Deny() error    { return vm.ErrUnauthorized }
func (a *Account) Rename(ctx context.Context, p struct{ First, Last string }) {
	c, _ := vm.CallerOf(ctx)
	a.Name = p.First + " " + p.Last + " by " + c.ConnectionID
	a.Changed("Name")
}

func (a *Account) OnPropertySet(_ context.Context, name string) error {
	if name == "Name" {
		a.Name = strings.TrimSpace(a.Name)
	}
	if name == "Age" && a.Age < 0 {
		return &vm.Exception{Type: "ArgumentException", Message: "Age must not be negative"}
	}
	return nil
}

func newAccount(*vm.Request) (*Account, error) {
	a := &Account{Name: "Ann", Secret: "s3cret", internal: "x"}
	a.Refresh = func() { a.Calls++; a.Changed("Calls") }
	a.Hidden = func() { a.Calls += 100 }
	return a, nil
}

func accountRegistry(t *testing.T) *vm.Registry {
	reg := vm.NewRegistry()
	if err := vm.Register(reg, "AccountVM", newAccount, vm.Commands("Deposit", "Boom", "Fail", "Deny", "Rename")); err != nil {
		t.Fatal(err)
	}
	return reg
}

const accountState = `{"Name":"Ann","Balance":0,"Age":0,"Active":false,"Ratio":0,"Tags":[],"Refresh":null,"Hidden":null,"Calls":0,"LastName":""}`

func TestFullStateRules(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	expectFrames(t, h.do("c", req("AccountVM", "{}")), resp("AccountVM", accountState))
	// A second request_vm for a live id resends the current state, no new instance.
	h.do("c", upd("AccountVM", `{"Deposit":5}`))
	expectFrames(t, h.do("c", req("AccountVM", "{}")), resp("AccountVM", strings.Replace(accountState, `"Balance":0`, `"Balance":5`, 1)))
}

func TestOnlyDeclaredNamesAreReachable(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	h.do("c", req("AccountVM", "{}"))
	for _, value := range []string{
		`{"Balance":1000}`, // not writable
		`{"Withdraw":5}`,   // a method not listed in Commands
		`{"Hidden":null}`,  // a func field not tagged command
		`{"Secret":"x"}`,   // excluded from state
		`{"internal":"x"}`, // unexported
		`{"OnPropertySet":"Name"}`,
		`{"PushUpdates":null}`,
		`{"Base.Changed":"x"}`,
		`{"Tags.0":"x"}`,
		`{"NoSuch":1}`,
	} {
		if got := h.do("c", upd("AccountVM", value)); len(got) != 0 {
			t.Errorf("%s reached the view model: %q", value, got)
		}
	}
	expectFrames(t, h.do("c", req("AccountVM", "{}")), resp("AccountVM", accountState))
}

func TestUpdatesCoercionEchoAndCommands(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	h.do("c", req("AccountVM", "{}"))
	tests := []struct{ value, want string }{
		{`{"Age":"42"}`, ""},                     // "42" → 42, echo suppressed (string forms equal)
		{`{"Active":"True"}`, `{"Active":true}`}, // .NET bool text; "True" ≠ "true", so echoed like dotNetify
		{`{"Active":false}`, ""},
		{`{"Name":"  Bo  "}`, `{"Name":"Bo"}`}, // a normalising setter is echoed
		{`{"Name":"Cy"}`, ""},
		{`{"Deposit":"7"}`, `{"Balance":7}`},
		{`{"Refresh":null}`, `{"Calls":1}`},
		{`{"Rename":{"First":"Di","Last":"Ek"}}`, `{"Name":"Di Ek by c"}`},
		{`{"Age":"x"}`, `{"ExceptionType":"FormatException","Message":"Age: cannot convert \"x\" to int"}`},
		{`{"Deposit":{"a":1}}`, `{"ExceptionType":"FormatException","Message":"argument of Deposit: cannot convert {\"a\":1} to int"}`},
		{`{"Age":-1}`, `{"ExceptionType":"ArgumentException","Message":"Age must not be negative"}`},
		{`{"Fail":null}`, `{"ExceptionType":"Exception","Message":"no funds"}`},
		{`{"Deny":null}`, `{"ExceptionType":"UnauthorizedAccessException","Message":"Attempted to perform an unauthorized operation."}`},
		{`{"Boom":null}`, `{"ExceptionType":"Exception","Message":"internal error in view model"}`},
	}
	for _, tt := range tests {
		got := h.do("c", upd("AccountVM", tt.value))
		if tt.want == "" {
			expectFrames(t, got)
			continue
		}
		if strings.Contains(tt.want, "ExceptionType") {
			// The exception comes first; changes recorded before the failure follow.
			if len(got) == 0 || got[0] != resp("AccountVM", tt.want) {
				t.Errorf("%s: got %q, want first %s", tt.value, got, tt.want)
			}
			continue
		}
		expectFrames(t, got, resp("AccountVM", tt.want))
	}
	// The process survived the panic and the view model still works.
	expectFrames(t, h.do("c", upd("AccountVM", `{"Deposit":1}`)), resp("AccountVM", `{"Balance":8}`))
}

func TestUnknownViewModelAndUpdateBeforeRequest(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	expectFrames(t, h.do("c", req("NopeVM", "{}")), resp("NopeVM", `{"ExceptionType":"Exception","Message":"'NopeVM' is not a known view model"}`))
	expectFrames(t, h.do("c", upd("AccountVM", `{"Name":"x"}`)))
	expectFrames(t, h.do("c", `{"callType":"dispose_vm","vmId":"AccountVM"}`))
	// A connection that made a request keeps its session (so that later stray messages are
	// not taken for a restart's) until $disconnect.
	if n := h.rt.Sessions(); n != 1 {
		t.Errorf("sessions = %d, want 1", n)
	}
	h.do("c", req("AccountVM", "{}"))
	h.do("c", `{"callType":"dispose_vm","vmId":"AccountVM"}`)
	if n := h.rt.Sessions(); n != 1 {
		t.Errorf("sessions after dispose_vm = %d, want 1", n)
	}
	h.rt.Disconnect(context.Background(), "c")
	if err := h.rt.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := h.rt.Sessions(); n != 0 {
		t.Errorf("sessions after $disconnect = %d, want 0", n)
	}
	// A connection that never requested anything costs nothing.
	expectFrames(t, h.do("s", upd("AccountVM", `{"Name":"x"}`)))
	if n := h.rt.Sessions(); n != 0 {
		t.Errorf("sessions after a stray update = %d, want 0", n)
	}
}

func TestVMArgApplication(t *testing.T) {
	h := newHarness(t, accountRegistry(t), nil)
	got := h.do("c", req("AccountVM", `{"$vmArg":{"Name":"Zed","Deposit":3,"Balance":99}}`))
	expectFrames(t, got, resp("AccountVM", strings.NewReplacer(`"Name":"Ann"`, `"Name":"Zed"`, `"Balance":0`, `"Balance":3`).Replace(accountState)))
	got = h.do("d", req("AccountVM", `{"$vmArg":{"Age":"old"}}`))
	expectFrames(t, got, resp("AccountVM", `{"ExceptionType":"FormatException","Message":"Age: cannot convert \"old\" to int"}`))
	// The failed instance was not registered.
	expectFrames(t, h.do("d", upd("AccountVM", `{"Deposit":1}`)))
}

func TestAuthorizeSeesHeaders(t *testing.T) {
	var constructed int
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "SecureVM", func(*vm.Request) (*Account, error) { constructed++; return newAccount(nil) }, vm.Commands("Deposit"))
	h := newHarness(t, reg, func(_ context.Context, c vm.Caller, vmID string) error {
		if c.Headers["Authorization"] != "Bearer good" {
			return vm.ErrUnauthorized
		}
		return nil
	})
	unauthorized := resp("SecureVM", `{"ExceptionType":"UnauthorizedAccessException","Message":"Attempted to perform an unauthorized operation."}`)
	expectFrames(t, h.do("c", req("SecureVM", `{"$headers":{"Authorization":"Bearer bad"}}`)), unauthorized)
	if constructed != 0 {
		t.Fatalf("constructed %d instances before authorizing", constructed)
	}
	if got := h.do("c", req("SecureVM", `{"$headers":{"Authorization":"Bearer good"}}`)); len(got) != 1 || strings.Contains(got[0], "Exception") {
		t.Fatalf("authorized request: %q", got)
	}
	// An expired token refreshed by $headers alone: no reply; a bad one fails the update.
	expectFrames(t, h.do("c", upd("SecureVM", `{"$headers":{"Authorization":"Bearer bad"}}`)))
	expectFrames(t, h.do("c", upd("SecureVM", `{"Deposit":1}`)), unauthorized)
	expectFrames(t, h.do("c", upd("SecureVM", `{"$headers":{"Authorization":"Bearer good"},"Deposit":2}`)), resp("SecureVM", `{"Balance":2}`))
}

// Child ids: the master is created implicitly without a response, can supply the child,
// and disposal cascades.
type Master struct {
	vm.Base
	Title    string
	children []*Child
	disposed *[]string
}

type Child struct {
	vm.Base
	Label    string `vm:"write"`
	id       string
	disposed *[]string
}

func (m *Master) SubVM(_ context.Context, typeName, instanceID string) (vm.Model, bool) {
	if typeName != "Child" {
		return nil, false
	}
	c := &Child{Label: "from master " + instanceID, id: "Child$" + instanceID, disposed: m.disposed}
	m.children = append(m.children, c)
	return c, true
}

func (m *Master) OnDispose() { *m.disposed = append(*m.disposed, "Master") }
func (c *Child) OnDispose()  { *c.disposed = append(*c.disposed, c.id) }

func TestChildViewModels(t *testing.T) {
	var disposed []string
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "Master", func(*vm.Request) (*Master, error) { return &Master{Title: "M", disposed: &disposed}, nil })
	vm.MustRegister(reg, "Other", func(r *vm.Request) (*Child, error) {
		return &Child{Label: "other " + r.InstanceID, id: "Other", disposed: &disposed}, nil
	})
	h := newHarness(t, reg, nil)
	expectFrames(t, h.do("c", req("Master.Child$1", "{}")), resp("Master.Child$1", `{"Label":"from master 1"}`))
	expectFrames(t, h.do("c", req("Master.Other$7", "{}")), resp("Master.Other$7", `{"Label":"other 7"}`))
	expectFrames(t, h.do("c", upd("Master.Child$1", `{"Label":"x"}`)))
	expectFrames(t, h.do("c", `{"callType":"dispose_vm","vmId":"Master"}`))
	if got := strings.Join(disposed, ","); got != "Child$1,Other,Master" {
		t.Errorf("disposal order %q", got)
	}
}

func TestRegisterValidation(t *testing.T) {
	type Bad struct {
		vm.Base
		Email_address string
		Items         int    `vm:"itemkey=Id"`
		Fn            func() `vm:"write"`
		Odd           string `vm:"writable"`
		NotFn         int    `vm:"command"`
	}
	reg := vm.NewRegistry()
	err := vm.Register(reg, "BadVM", func(*vm.Request) (*Bad, error) { return &Bad{}, nil }, vm.Commands("Missing"))
	want := `register "BadVM": view model *vm_test.Bad: field Email_address: the dotnetify client reads names containing "_add" as list operations; rename it or tag it vm:"-"; ` +
		`field Items: itemkey needs a slice field; field Fn: a func field is called, not written; use vm:"command"; ` +
		`field Odd: unknown vm tag option "writable" (want write, command, itemkey=Name or -); field NotFn: vm:"command" needs a func field; ` +
		`command Missing: no exported method Missing on *vm_test.Bad`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
	if err := vm.Register(reg, "A.B", newAccount); err == nil || err.Error() != `register "A.B": a view-model name must be non-empty and contain no '.' or '$'` {
		t.Errorf("dotted name: %v", err)
	}
	if err := vm.Register(reg, "AccountVM", newAccount, vm.Commands("Rename", "Balance")); err == nil ||
		err.Error() != `register "AccountVM": view model *vm_test.Account: command Balance: no exported method Balance on *vm_test.Account` {
		t.Errorf("field as command: %v", err)
	}
	vm.MustRegister(reg, "AccountVM", newAccount)
	if err := vm.Register(reg, "AccountVM", newAccount); err == nil || err.Error() != `register "AccountVM": already registered` {
		t.Errorf("duplicate: %v", err)
	}
}

func TestConstructorPanicAndError(t *testing.T) {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "PanicVM", func(*vm.Request) (*Account, error) { panic("ctor") })
	vm.MustRegister(reg, "ErrVM", func(*vm.Request) (*Account, error) { return nil, errors.New("db down") })
	h := newHarness(t, reg, nil)
	expectFrames(t, h.do("c", req("PanicVM", "{}")), resp("PanicVM", `{"ExceptionType":"Exception","Message":"internal error in view model"}`))
	expectFrames(t, h.do("c", req("ErrVM", "{}")), resp("ErrVM", `{"ExceptionType":"Exception","Message":"db down"}`))
}
