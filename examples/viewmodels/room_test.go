package viewmodels

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/server/protocol"
	"github.com/wsgate/wsgate/server/vm"
)

// demo runs the demo view models in the real runtime and keeps every frame per connection.
type demo struct {
	t      *testing.T
	ua     string // the User-Agent of every caller
	rt     *vm.Runtime
	mu     sync.Mutex
	frames map[string][]string
}

func newDemo(t *testing.T) *demo {
	reg := vm.NewRegistry()
	if err := Register(reg, Options{LiveChartInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	d := &demo{t: t, ua: "Mozilla/5.0 test", frames: map[string][]string{}}
	d.rt = vm.New(vm.Config{Registry: reg, Sender: vm.SenderFunc(func(id string, f []byte) {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.frames[id] = append(d.frames[id], string(f))
	})})
	t.Cleanup(func() { _ = d.rt.Close(context.Background()) })
	return d
}

// send handles one client frame from connection conn at ip and returns every connection's
// frames since the last call.
func (d *demo) send(conn, ip, frame string) map[string][]string {
	d.t.Helper()
	m, err := protocol.DecodeMessage([]byte(frame))
	if err != nil {
		d.t.Fatal(err)
	}
	d.rt.Handle(context.Background(), vm.Caller{ConnectionID: conn, SourceIP: ip, UserAgent: d.ua}, m)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.rt.Drain(ctx); err != nil {
		d.t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.frames
	d.frames = map[string][]string{}
	return out
}

func request(vmID string) string {
	return `{"callType":"request_vm","vmId":"` + vmID + `","vmArgs":"{}"}`
}

func update(vmID string, value any) string {
	v, _ := json.Marshal(value)
	s, _ := json.Marshal(string(v))
	return `{"callType":"update_vm","vmId":"` + vmID + `","value":` + string(s) + `}`
}

// data decodes the data of a response_vm frame, failing on anything else.
func data(t *testing.T, frame string) map[string]json.RawMessage {
	t.Helper()
	var f struct{ CallType, VMID, Data string }
	if err := json.Unmarshal([]byte(frame), &f); err != nil || f.CallType != "response_vm" {
		t.Fatalf("not a response_vm frame (%v): %.200s", err, frame)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
		t.Fatalf("data is not a JSON object (%v): %.200s", err, f.Data)
	}
	return d
}

const (
	victimConn = "Wm1nYcO3IAMCJ2w="
	victimIP   = "203.0.113.7"
)

// No frame of the room carries a member's connection id or source IP, yet each member has a
// stable id of its own, and whispers still reach the one named.
func TestChatRoomExposesNoConnectionIDOrSourceIP(t *testing.T) {
	d := newDemo(t)
	var all []string
	collect := func(got map[string][]string) map[string][]string {
		for _, fs := range got {
			all = append(all, fs...)
		}
		return got
	}
	collect(d.send(victimConn, victimIP, request("ChatRoomVM")))
	collect(d.send(victimConn, victimIP, update("ChatRoomVM", map[string]any{"AddUser": "0.1"})))
	collect(d.send("Bob0connection=", "198.51.100.9", request("ChatRoomVM")))
	got := collect(d.send("Bob0connection=", "198.51.100.9", update("ChatRoomVM", map[string]any{"AddUser": "0.2"})))
	var bob ChatUser
	if err := json.Unmarshal(data(t, got[victimConn][0])["Users_add"], &bob); err != nil {
		t.Fatal(err)
	}
	got = collect(d.send(victimConn, victimIP, update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": "hi", "UserName": "Ann", "Date": "2024-05-01T10:00:00Z"}})))
	var msg ChatMessage
	var wire map[string]json.RawMessage
	json.Unmarshal(data(t, got["Bob0connection="][0])["Messages_add"], &wire)
	json.Unmarshal(wire["UserId"], &msg.UserId)
	got = collect(d.send(victimConn, victimIP, update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": bob.Name + ": psst", "Date": "2024-05-01T10:01:00Z"}})))
	if len(got["Bob0connection="]) != 1 || !strings.Contains(got["Bob0connection="][0], "PrivateMessage") {
		t.Errorf("the whisper did not reach Bob: %q", got)
	}
	full := collect(d.send("Cy0connection=", "192.0.2.1", request("ChatRoomVM")))["Cy0connection="][0]
	collect(d.send(victimConn, victimIP, update("ChatRoomVM", map[string]any{"RemoveUser": nil})))
	for _, f := range all {
		for _, secret := range []string{victimConn, victimIP, "Bob0connection=", "198.51.100.9"} {
			if strings.Contains(f, secret) {
				t.Errorf("a frame carries %q: %.300s", secret, f)
			}
		}
	}
	var state struct{ Users []ChatUser }
	stateJSON, _ := json.Marshal(data(t, full))
	json.Unmarshal(stateJSON, &state)
	if len(state.Users) != 2 || state.Users[0].Id == "" || state.Users[0].Id == state.Users[1].Id || msg.UserId != state.Users[0].Id || state.Users[1].Id != bob.Id {
		t.Errorf("member ids are not stable and distinct: users %+v, message by %q", state.Users, msg.UserId)
	}
	var raw struct{ Users []map[string]any }
	json.Unmarshal(stateJSON, &raw)
	for _, u := range raw.Users {
		if ip, ok := u["IpAddress"]; !ok || ip != nil {
			t.Errorf("IpAddress is %v, want null (kept for dotNetify's shape)", ip)
		}
	}
}

// Two 120 KB messages used to push the room's full state past API Gateway's 131,072 bytes,
// so every later joiner got a 413. The history is capped: a joiner gets a valid state.
func TestChatRoomTwoHugeMessagesThenAJoinerGetsState(t *testing.T) {
	d := newDemo(t)
	d.send("a", "198.51.100.1", request("ChatRoomVM"))
	d.send("a", "198.51.100.1", update("ChatRoomVM", map[string]any{"AddUser": "0.1"}))
	huge := strings.Repeat("x", 120_000)
	for range 2 {
		got := d.send("a", "198.51.100.1", update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": huge, "Date": "2024-05-01T10:00:00Z"}}))
		for _, f := range got["a"] {
			if len(f) > vm.DefaultMaxFrameBytes {
				t.Fatalf("a frame of %d bytes", len(f))
			}
		}
	}
	// Many ordinary messages, then a joiner.
	for range 500 {
		d.send("a", "198.51.100.1", update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": strings.Repeat("y", 1000), "Date": "2024-05-01T10:00:00Z"}}))
	}
	frames := d.send("b", "198.51.100.2", request("ChatRoomVM"))["b"]
	if len(frames) != 1 || len(frames[0]) > vm.DefaultMaxFrameBytes {
		t.Fatalf("joiner got %d frames, the first %d bytes", len(frames), len(frames[0]))
	}
	state := data(t, frames[0])
	if _, ok := state["ExceptionType"]; ok {
		t.Fatalf("joiner got an exception: %s", frames[0])
	}
	var msgs []struct{ Text string }
	if err := json.Unmarshal(state["Messages"], &msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) == 0 || len(msgs) > maxHistory {
		t.Errorf("history of %d messages, want 1 … %d", len(msgs), maxHistory)
	}
	for _, m := range msgs {
		if len(m.Text) > maxMessageBytes {
			t.Errorf("a message of %d bytes in the history", len(m.Text))
		}
	}
}

// One message over the limit gets an exception the sender sees; nothing is added.
func TestChatRoomRefusesAnOversizeMessage(t *testing.T) {
	d := newDemo(t)
	d.send("a", "198.51.100.1", request("ChatRoomVM"))
	d.send("a", "198.51.100.1", update("ChatRoomVM", map[string]any{"AddUser": "0.1"}))
	got := d.send("a", "198.51.100.1", update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": strings.Repeat("é", 3000), "Date": "2024-05-01T10:00:00Z"}}))
	want := string(protocol.Response("ChatRoomVM", protocol.ExceptionData("ArgumentException", "a message may have at most 4096 bytes; this one has 6000")))
	if len(got["a"]) != 1 || got["a"][0] != want {
		t.Errorf("got %q, want %s", got["a"], want)
	}
}

// However many join and whatever they type (quotes, escaped twice on the way), the room's
// full state fits in one frame: Users and the history are bounded, long fields refused or
// clipped.
func TestChatRoomStateFitsAFrameWhateverMembersSend(t *testing.T) {
	d := newDemo(t)
	d.ua = strings.Repeat(`"`, 10_000)
	quotes := strings.Repeat(`"`, maxNameBytes)
	for i := range maxUsers + 10 {
		conn := fmt.Sprintf("conn%d=", i)
		d.send(conn, "198.51.100.1", request("ChatRoomVM"))
		got := d.send(conn, "198.51.100.1", update("ChatRoomVM", map[string]any{"AddUser": quotes}))[conn]
		if i >= maxUsers && (len(got) != 1 || !strings.Contains(got[0], `the room is full (50 users)`)) {
			t.Errorf("member %d: %q", i, got)
		}
		d.send(conn, "198.51.100.1", update("ChatRoomVM", map[string]any{"SendMessage": map[string]any{"Text": strings.Repeat(`"`, maxMessageBytes), "UserName": quotes[:maxNameBytes-2] + fmt.Sprint(i)}}))
	}
	d.send("late", "198.51.100.1", request("ChatRoomVM"))
	late := d.send("late", "198.51.100.1", update("ChatRoomVM", map[string]any{"AddUser": strings.Repeat("c", maxNameBytes+1)}))["late"]
	if want := string(protocol.Response("ChatRoomVM", protocol.ExceptionData("ArgumentException", "a correlation id may have at most 64 bytes"))); len(late) != 1 || late[0] != want {
		t.Errorf("long correlation id: %q, want %s", late, want)
	}
	frames := d.send("joiner", "198.51.100.2", request("ChatRoomVM"))["joiner"]
	if len(frames) != 1 || len(frames[0]) > vm.DefaultMaxFrameBytes {
		t.Fatalf("joiner got %d frames, the first %d bytes", len(frames), len(frames[0]))
	}
	state := data(t, frames[0])
	var users []ChatUser
	if err := json.Unmarshal(state["Users"], &users); err != nil {
		t.Fatal(err)
	}
	if len(users) != maxUsers {
		t.Errorf("%d users, want %d", len(users), maxUsers)
	}
	for _, u := range users {
		if len(u.Name) > maxNameBytes || len(u.CorrelationId) > maxNameBytes || u.Browser == nil || len(*u.Browser) != maxBrowserBytes {
			t.Fatalf("user fields of %d, %d and %v bytes", len(u.Name), len(u.CorrelationId), u.Browser)
		}
	}
}

// SimpleList is shared by everyone behind the same address: one client cannot grow it
// without bound, nor its names.
func TestSimpleListIsBounded(t *testing.T) {
	d := newDemo(t)
	d.send("a", "198.51.100.1", request("SimpleListVM"))
	var last []string
	for i := range maxEmployees + 5 {
		last = d.send("a", "198.51.100.1", update("SimpleListVM", map[string]any{"Add": fmt.Sprintf("Ann Lee%d", i)}))["a"]
	}
	want := string(protocol.Response("SimpleListVM", protocol.ExceptionData("InvalidOperationException", "the list holds 100 employees, the limit")))
	if len(last) != 1 || last[0] != want {
		t.Errorf("add over the limit: %q, want %s", last, want)
	}
	long := strings.Repeat("n", maxNameBytes+1)
	for _, value := range []map[string]any{
		{"Add": long + " x"},
		{"Update": map[string]any{"Id": 1, "FirstName": long}},
		{"Employees.$1.FirstName": long},
	} {
		got := d.send("a", "198.51.100.1", update("SimpleListVM", value))["a"]
		if len(got) == 0 || !strings.Contains(got[0], `name may have at most 64 bytes`) {
			t.Errorf("%v: %q", value, got)
		}
	}
	state := data(t, d.send("b", "198.51.100.1", request("SimpleListVM"))["b"][0])
	var emps []Employee
	json.Unmarshal(state["Employees"], &emps)
	if len(emps) != maxEmployees {
		t.Errorf("%d employees, want %d", len(emps), maxEmployees)
	}
	for _, e := range emps {
		if len(e.FirstName) > maxNameBytes || len(e.LastName) > maxNameBytes {
			t.Errorf("employee %d has a name of %d+%d bytes", e.Id, len(e.FirstName), len(e.LastName))
		}
	}
}
