package vm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// closer records the connections the runtime closed.
type closer struct {
	mu     sync.Mutex
	closed []string
}

func (c *closer) CloseConnection(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = append(c.closed, id)
}

func (c *closer) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.closed...)
}

// lockedBuffer is a log destination safe for the runtime's workers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.b.String(), "\n"), "\n")
}

// newLimitHarness is newHarness with a Closer, a JSON log and the given limits.
func newLimitHarness(t *testing.T, reg *vm.Registry, cfg vm.Config) (*harness, *closer, *lockedBuffer) {
	rec := &recorder{frames: map[string][]string{}}
	cl := &closer{}
	logs := &lockedBuffer{}
	cfg.Registry, cfg.Sender, cfg.Closer = reg, rec, cl
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &harness{t: t, rt: vm.New(cfg), rec: rec}, cl, logs
}

// Counted is a view model that counts its constructions, as LiveChart's timers would.
type Counted struct {
	vm.Base
	N int
}

func countedRegistry(t *testing.T, built *int) *vm.Registry {
	reg := vm.NewRegistry()
	var mu sync.Mutex
	vm.MustRegister(reg, "LiveChartVM", func(*vm.Request) (*Counted, error) {
		mu.Lock()
		defer mu.Unlock()
		*built++
		return &Counted{}, nil
	})
	return reg
}

// dotted is the attack of issue 9: a 108 KB vmId "LiveChartVM.LiveChartVM.…" that made the
// runtime build every master in the path.
func dotted(n int) string {
	return strings.TrimSuffix(strings.Repeat("LiveChartVM.", n/len("LiveChartVM.")), ".")
}

func TestDottedVMIDOf108KBBuildsNothingAndClosesTheConnection(t *testing.T) {
	built := 0
	h, cl, _ := newLimitHarness(t, countedRegistry(t, &built), vm.Config{})
	vmID := dotted(108 << 10)
	for conn, frame := range map[string]string{
		"c": req(vmID, "{}"), "d": upd(vmID, `{"N":1}`), "e": `{"callType":"dispose_vm","vmId":"` + vmID + `"}`,
	} {
		if got := h.do(conn, frame); len(got) != 0 {
			t.Errorf("%s: the %d-byte vmId was answered with %d frames (the first %d bytes)", conn, len(vmID), len(got), len(got[0]))
		}
	}
	if built != 0 {
		t.Errorf("built %d view models for a %d-byte vmId", built, len(vmID))
	}
	if got := strings.Join(slices.Sorted(slices.Values(cl.list())), ","); got != "c,d,e" {
		t.Errorf("closed %q, want c,d,e", got)
	}
	if st := h.rt.Stats(); st.VMIDTooLong != 3 {
		t.Errorf("stats %+v, want VMIDTooLong 3", st)
	}
	if n := h.rt.Sessions(); n != 0 {
		t.Errorf("%d sessions kept for refused messages", n)
	}
	// The limit itself is allowed.
	h2, cl2, _ := newLimitHarness(t, countedRegistry(t, &built), vm.Config{MaxVMIDBytes: 20, MaxVMDepth: 2})
	if got := h2.do("c", req("LiveChartVM$12345678", "{}")); len(got) != 1 || strings.Contains(got[0], "Exception") {
		t.Errorf("a 20-byte vmId at a 20-byte limit: %q", got)
	}
	expectFrames(t, h2.do("c", req("LiveChartVM$123456789", "{}")))
	if got := strings.Join(cl2.list(), ","); got != "c" {
		t.Errorf("closed %q, want c", got)
	}
}

func TestVMIDDepthLimit(t *testing.T) {
	built := 0
	h, cl, _ := newLimitHarness(t, countedRegistry(t, &built), vm.Config{})
	deep := "LiveChartVM.LiveChartVM.LiveChartVM.LiveChartVM.LiveChartVM"
	expectFrames(t, h.do("c", req(deep, "{}")),
		resp(deep, `{"ExceptionType":"ArgumentException","Message":"vmId '`+deep+`' has 5 levels, over the limit of 4"}`))
	if built != 0 {
		t.Errorf("built %d view models for a refused id", built)
	}
	four := "LiveChartVM.LiveChartVM.LiveChartVM.LiveChartVM"
	expectFrames(t, h.do("c", req(four, "{}")), resp(four, `{"N":0}`))
	if built != 4 {
		t.Errorf("built %d view models for a 4-level id, want 4", built)
	}
	if st := h.rt.Stats(); st.VMTooDeep != 1 {
		t.Errorf("stats %+v, want VMTooDeep 1", st)
	}
	if len(cl.list()) != 0 {
		t.Errorf("closed %q: a deep id gets an exception, the client can go on", cl.list())
	}
}

func TestViewModelsPerConnectionLimit(t *testing.T) {
	built := 0
	h, _, _ := newLimitHarness(t, countedRegistry(t, &built), vm.Config{})
	for i := range vm.DefaultMaxVMsPerConnection {
		id := fmt.Sprintf("LiveChartVM$%d", i)
		expectFrames(t, h.do("c", req(id, "{}")), resp(id, `{"N":0}`))
	}
	over := "LiveChartVM$64"
	refused := resp(over, `{"ExceptionType":"InvalidOperationException","Message":"this connection holds 64 view models, the limit is 64: dispose one before requesting 'LiveChartVM$64'"}`)
	expectFrames(t, h.do("c", req(over, "{}")), refused)
	// A master counts: one free slot is not enough for "Master.Child" when both are new.
	h.do("c", `{"callType":"dispose_vm","vmId":"LiveChartVM$0"}`)
	nested := "LiveChartVM$x.LiveChartVM"
	expectFrames(t, h.do("c", req(nested, "{}")),
		resp(nested, `{"ExceptionType":"InvalidOperationException","Message":"this connection holds 63 view models, the limit is 64: dispose one before requesting '`+nested+`'"}`))
	expectFrames(t, h.do("c", req(over, "{}")), resp(over, `{"N":0}`))
	// Another connection has its own budget.
	expectFrames(t, h.do("d", req(over, "{}")), resp(over, `{"N":0}`))
	if built != 66 {
		t.Errorf("built %d, want 66", built)
	}
	if st := h.rt.Stats(); st.TooManyVMs != 2 {
		t.Errorf("stats %+v, want TooManyVMs 2", st)
	}
}

// Big holds state that can outgrow a frame.
type Big struct {
	vm.Base
	Text  string `vm:"write"`
	Other string `vm:"write"`
}

// Grow sets Text to n two-byte runes.
func (b *Big) Grow(n int) { b.Text = strings.Repeat("é", n); b.Changed("Text") }

func TestStateOverTheFrameLimitIsAnExceptionTheClientSees(t *testing.T) {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "BigVM", func(r *vm.Request) (*Big, error) {
		return &Big{Text: strings.Repeat("x", 70000), Other: strings.Repeat("y", 70000)}, nil
	})
	vm.MustRegister(reg, "SmallVM", func(r *vm.Request) (*Big, error) { return &Big{}, nil }, vm.Commands("Grow"))
	vm.MustRegister(reg, "SharedBigVM", func(r *vm.Request) (*Big, error) { return &Big{}, nil }, vm.Shared(nil))
	h, _, _ := newLimitHarness(t, reg, vm.Config{})
	got := h.do("c", req("BigVM", "{}"))
	expectFrames(t, got, resp("BigVM", `{"ExceptionType":"PayloadTooLargeException","Message":"the update of 'BigVM' is 140081 bytes, over the limit of 131072 bytes per message; it was not sent"}`))
	// The view model was not kept: an update finds nothing.
	expectFrames(t, h.do("c", upd("BigVM", `{"Text":"a"}`)))

	// An update whose reply would be over the limit: the caller is told, nothing oversize leaves.
	expectFrames(t, h.do("c", req("SmallVM", "{}")), resp("SmallVM", `{"Text":"","Other":""}`))
	got = h.do("c", upd("SmallVM", `{"Grow":70000}`))
	expectFrames(t, got, resp("SmallVM", `{"ExceptionType":"PayloadTooLargeException","Message":"the update of 'SmallVM' is 140068 bytes, over the limit of 131072 bytes per message; it was not sent"}`))
	expectFrames(t, h.do("c", upd("SmallVM", `{"Grow":1}`)), resp("SmallVM", `{"Text":"é"}`))

	// A shared view model grown past the limit by one member: a new joiner gets the
	// exception and is not a member, so it receives nothing later.
	h.do("a", req("SharedBigVM", "{}"))
	h.do("a", upd("SharedBigVM", `{"Text":"`+strings.Repeat("z", 140000)+`"}`))
	h.rec.take("a")
	expectFrames(t, h.do("b", req("SharedBigVM", "{}")), resp("SharedBigVM", `{"ExceptionType":"PayloadTooLargeException","Message":"the update of 'SharedBigVM' is 140087 bytes, over the limit of 131072 bytes per message; it was not sent"}`))
	expectFrames(t, h.do("a", upd("SharedBigVM", `{"Text":"small"}`)))
	expectFrames(t, h.frames("b"))
	if st := h.rt.Stats(); st.FrameTooLarge != 3 {
		t.Errorf("stats %+v, want FrameTooLarge 3", st)
	}
}

// Gauge is a shared view model with a writable float, the target of the NaN attack.
type Gauge struct {
	vm.Base
	Level float64 `vm:"write"`
	Max   float32 `vm:"write"`
}

// Poison stands for view-model code that computes a non-finite number itself.
func (g *Gauge) Poison() { g.Level = math.NaN(); g.Changed("Level") }
func (g *Gauge) Cure()   { g.Level = 1; g.Changed("Level") }

func gaugeHarness(t *testing.T) *harness {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "GaugeVM", func(*vm.Request) (*Gauge, error) { return &Gauge{}, nil }, vm.Commands("Poison", "Cure"), vm.Shared(nil))
	h, _, _ := newLimitHarness(t, reg, vm.Config{})
	return h
}

func TestNonFiniteNumbersAreRefused(t *testing.T) {
	h := gaugeHarness(t)
	expectFrames(t, h.do("a", req("GaugeVM", "{}")), resp("GaugeVM", `{"Level":0,"Max":0}`))
	for _, v := range []string{`"NaN"`, `"nan"`, `"Inf"`, `"-Inf"`, `"+Infinity"`, `"Infinity"`, `1e999`, `"1e999"`, `-1e999`} {
		got := h.do("a", upd("GaugeVM", `{"Level":`+v+`}`))
		want := `{\"ExceptionType\":\"FormatException\",\"Message\":\"Level: cannot convert ` + strings.ReplaceAll(strings.ReplaceAll(v, `"`, `\\\"`), "+", "+") + ` to float64`
		if len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("Level=%s: got %q, want one frame containing %s", v, got, want)
		}
	}
	expectFrames(t, h.do("a", upd("GaugeVM", `{"Level":"NaN"}`)),
		resp("GaugeVM", `{"ExceptionType":"FormatException","Message":"Level: cannot convert \"NaN\" to float64: not a finite number"}`))
	expectFrames(t, h.do("a", upd("GaugeVM", `{"Max":"1e39"}`)),
		resp("GaugeVM", `{"ExceptionType":"FormatException","Message":"Max: cannot convert \"1e39\" to float32"}`))
	// Nothing got in: a joiner gets a valid state.
	expectFrames(t, h.do("b", req("GaugeVM", "{}")), resp("GaugeVM", `{"Level":0,"Max":0}`))
	expectFrames(t, h.do("a", upd("GaugeVM", `{"Level":"2.5"}`)))
	expectFrames(t, h.frames("b"), resp("GaugeVM", `{"Level":2.5}`))
}

// A joiner whose full state fails to encode is told and never becomes a member: it gets no
// pushes, before or after its dispose_vm and $disconnect.
func TestFailedJoinerIsNotAMember(t *testing.T) {
	h := gaugeHarness(t)
	h.do("a", req("GaugeVM", "{}"))
	h.do("a", upd("GaugeVM", `{"Poison":null}`))
	expectFrames(t, h.do("b", req("GaugeVM", "{}")),
		resp("GaugeVM", `{"ExceptionType":"Exception","Message":"json: unsupported value: NaN"}`))
	h.do("a", upd("GaugeVM", `{"Cure":null}`))
	expectFrames(t, h.frames("b"))
	expectFrames(t, h.do("b", `{"callType":"dispose_vm","vmId":"GaugeVM"}`))
	h.do("a", upd("GaugeVM", `{"Level":3}`))
	expectFrames(t, h.frames("b"))
	h.rt.Disconnect(context.Background(), "b")
	h.do("a", upd("GaugeVM", `{"Level":4}`))
	expectFrames(t, h.frames("b"))
	// After the cure a joiner gets the state.
	expectFrames(t, h.do("c", req("GaugeVM", "{}")), resp("GaugeVM", `{"Level":4,"Max":0}`))
}

// The first joiner of a shared view model that fails is not kept either: the next one
// creates a fresh instance.
func TestFailedFirstJoinerLeavesNoInstance(t *testing.T) {
	reg := vm.NewRegistry()
	n := 0
	vm.MustRegister(reg, "BadStartVM", func(*vm.Request) (*Gauge, error) {
		n++
		if n == 1 {
			return &Gauge{Level: math.Inf(1)}, nil
		}
		return &Gauge{Level: float64(n)}, nil
	}, vm.Shared(nil))
	h, _, _ := newLimitHarness(t, reg, vm.Config{})
	expectFrames(t, h.do("a", req("BadStartVM", "{}")),
		resp("BadStartVM", `{"ExceptionType":"Exception","Message":"json: unsupported value: +Inf"}`))
	expectFrames(t, h.do("b", req("BadStartVM", "{}")), resp("BadStartVM", `{"Level":2,"Max":0}`))
}

// Profile is a nested object: Name may be written, Role may not.
type Profile struct {
	Name string `vm:"write"`
	Role string
	Home *Address `vm:"write"`
	Work Address
}

type Address struct {
	City  string `vm:"write"`
	Owner string
}

type Settings struct {
	vm.Base
	Me      Profile            `vm:"write"`
	MePtr   *Profile           `vm:"write"`
	Friends []Profile          `vm:"write"`
	ByName  map[string]Profile `vm:"write"`
	Tags    []string           `vm:"write"`
}

func settingsHarness(t *testing.T) *harness {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "SettingsVM", func(*vm.Request) (*Settings, error) {
		return &Settings{
			Me:    Profile{Name: "ann", Role: "user", Home: &Address{City: "Oslo", Owner: "ann"}, Work: Address{City: "Bergen", Owner: "acme"}},
			MePtr: &Profile{Name: "ann", Role: "user"},
		}, nil
	})
	h, _, _ := newLimitHarness(t, reg, vm.Config{})
	return h
}

// settingsView is Settings as the client sees it.
type settingsView struct {
	Me      Profile
	MePtr   *Profile
	Friends []Profile
	ByName  map[string]Profile
	Tags    []string
}

func settingsState(t *testing.T, h *harness) settingsView {
	t.Helper()
	got := h.do("c", req("SettingsVM", "{}"))
	if len(got) != 1 {
		t.Fatalf("state: %q", got)
	}
	var frame struct{ Data string }
	if err := json.Unmarshal([]byte(got[0]), &frame); err != nil {
		t.Fatal(err)
	}
	var s settingsView
	if err := json.Unmarshal([]byte(frame.Data), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNestedObjectWriteHonoursWriteTags(t *testing.T) {
	h := settingsHarness(t)
	h.do("c", req("SettingsVM", "{}"))
	// Refused in both forms: fields without a write tag.
	for _, value := range []string{
		`{"Me.Role":"admin"}`,
		`{"Me":{"Role":"admin"}}`,
		`{"Me":{"role":"admin"}}`,
		`{"Me":"{\"Role\":\"admin\"}"}`,
		`{"MePtr.Role":"admin"}`,
		`{"MePtr":{"Role":"admin"}}`,
		`{"MePtr":null}`,
		`{"Me.Work.City":"Paris"}`,
		`{"Me":{"Work":{"City":"Paris"}}}`,
		`{"Me.Home.Owner":"eve"}`,
		`{"Me":{"Home":{"Owner":"eve"}}}`,
	} {
		h.do("c", upd("SettingsVM", value))
		s := settingsState(t, h)
		if s.Me.Role != "user" || s.MePtr == nil || s.MePtr.Role != "user" || s.Me.Work.City != "Bergen" || s.Me.Home.Owner != "ann" {
			t.Errorf("%s wrote a field without a write tag: %+v %+v", value, s.Me, s.MePtr)
		}
	}
	// Allowed in both forms: fields with a write tag, at every level.
	h.do("c", upd("SettingsVM", `{"Me.Name":"bo"}`))
	if s := settingsState(t, h); s.Me.Name != "bo" {
		t.Errorf("Me.Name: %+v", s.Me)
	}
	h.do("c", upd("SettingsVM", `{"Me":{"Name":"cy","Role":"admin","Home":{"City":"Rome","Owner":"eve"}}}`))
	s := settingsState(t, h)
	if s.Me.Name != "cy" || s.Me.Role != "user" || s.Me.Home.City != "Rome" || s.Me.Home.Owner != "ann" || s.Me.Work.City != "Bergen" {
		t.Errorf("whole-object write: %+v home %+v", s.Me, s.Me.Home)
	}
	h.do("c", upd("SettingsVM", `{"Me.Home.City":"Lima"}`))
	h.do("c", upd("SettingsVM", `{"MePtr":{"Name":"di"}}`))
	if s := settingsState(t, h); s.Me.Home.City != "Lima" || s.MePtr.Name != "di" || s.MePtr.Role != "user" {
		t.Errorf("path and pointer writes: %+v %+v", s.Me.Home, s.MePtr)
	}
	// Lists and maps of structs: elements start from zero; only written fields come from
	// the client.
	h.do("c", upd("SettingsVM", `{"Friends":[{"Name":"ed","Role":"admin"}],"ByName":{"x":{"Name":"fi","Role":"admin"}},"Tags":["a","b"]}`))
	s = settingsState(t, h)
	if len(s.Friends) != 1 || s.Friends[0].Name != "ed" || s.Friends[0].Role != "" ||
		s.ByName["x"].Name != "fi" || s.ByName["x"].Role != "" || strings.Join(s.Tags, ",") != "a,b" {
		t.Errorf("list and map writes: %+v %+v %v", s.Friends, s.ByName, s.Tags)
	}
}

// Client-controlled text in logs is clipped: a 120 KB vmId or value gives a short line
// that says how long the original was.
func TestLogLinesClipClientText(t *testing.T) {
	h, _, logs := newLimitHarness(t, accountRegistry(t), vm.Config{})
	long := strings.Repeat("v", 120<<10)
	h.do("c", req("AccountVM", "{}"))
	h.do("c", upd(long, `{"Name":"x"}`))
	h.do("d", req("AccountVM", "{}"))
	h.do("d", upd("AccountVM", `{"`+long+`":1}`))
	h.do("d", upd("AccountVM", `{"Age":"`+long+`"}`))
	h.do("d", upd("AccountVM", `{"Deposit":"`+long+`"}`))
	lines := logs.lines()
	if len(lines) < 3 {
		t.Fatalf("want a log line per refusal, got %q", lines)
	}
	for _, l := range lines {
		if len(l) > 1024 {
			t.Errorf("log line of %d bytes: %.200s…", len(l), l)
		}
	}
	joined := strings.Join(lines, "\n")
	for _, want := range []string{`"vmId":"` + strings.Repeat("v", 128) + `…(122880 bytes)"`, `"msg":"closing connection"`, `"msg":"view model error"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("logs lack %s:\n%s", want, joined)
		}
	}
}

// Repeated client-triggered warnings are logged once per interval, however many arrive.
func TestRepeatedWarningsAreRateLimited(t *testing.T) {
	h, _, logs := newLimitHarness(t, accountRegistry(t), vm.Config{})
	h.do("c", req("AccountVM", "{}"))
	for i := range 1000 {
		h.rt.Handle(context.Background(), vm.Caller{ConnectionID: "c"}, mustDecode(t, upd(fmt.Sprintf("NoSuchVM$%d", i), `{"Name":"x"}`)))
		h.rt.Handle(context.Background(), vm.Caller{ConnectionID: "c"}, mustDecode(t, upd("AccountVM", `{"Age":"x"}`)))
	}
	h.frames("c")
	count := map[string]int{}
	for _, l := range logs.lines() {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec.Level == "WARN" {
			count[rec.Msg]++
		}
	}
	want := map[string]int{"update received before request_vm": 1, "view model error": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("warnings logged %v, want %v", count, want)
	}
}

func mustDecode(t *testing.T, frame string) *protocol.Message {
	t.Helper()
	m, err := protocol.DecodeMessage([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Slow blocks in Wait until the test lets it go, so messages pile up behind it.
type Slow struct {
	vm.Base
	Text    string `vm:"write"`
	started chan struct{}
	release chan struct{}
}

func (s *Slow) Wait() { close(s.started); <-s.release }

// A connection flooding a slow view model cannot pile up more than MaxPendingBytes of
// messages: the message over it closes the connection and is counted; what was queued
// before is still handled in order.
func TestQueuedMessagesPerConnectionAreBounded(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "SlowVM", func(*vm.Request) (*Slow, error) {
		return &Slow{started: started, release: release}, nil
	}, vm.Commands("Wait"))
	h, cl, _ := newLimitHarness(t, reg, vm.Config{})
	h.do("c", req("SlowVM", "{}"))
	h.rt.Handle(context.Background(), vm.Caller{ConnectionID: "c"}, mustDecode(t, upd("SlowVM", `{"Wait":null}`)))
	<-started
	text := strings.Repeat("t", 100<<10)
	for i := range 20 {
		h.rt.Handle(context.Background(), vm.Caller{ConnectionID: "c"}, mustDecode(t, upd("SlowVM", fmt.Sprintf(`{"Text":"%d%s"}`, i, text))))
	}
	// Ten messages of 100 KiB fit in 1 MiB; the eleventh and later close the connection.
	if st := h.rt.Stats(); st.BacklogFull != 10 {
		t.Errorf("stats %+v, want BacklogFull 10", st)
	}
	if n := len(cl.list()); n != 10 || cl.list()[0] != "c" {
		t.Errorf("closed %d times (%.40q), want 10 closes of c", n, cl.list())
	}
	close(release)
	h.frames("c")
	// The last message handled was the tenth.
	got := h.do("c", req("SlowVM", "{}"))
	if len(got) != 1 || !strings.Contains(got[0], `\"Text\":\"9ttt`) {
		t.Errorf("state after the flood: %.60q", got)
	}
}
