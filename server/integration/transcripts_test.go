package integration_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// The five demo transcripts of the protocol specification (§9), at the integration-endpoint
// level: frames go in as API Gateway integration bodies and must come out as signed
// @connections POSTs with exactly these bodies.

const conn = "Wm1nYcO3IAMCJ2w="

func TestHelloWorldTranscript(t *testing.T) {
	s := newStack(t, stackOptions{})
	if status, body := s.post("/api/dotnetify/vm", `{"connectionId":"`+conn+`"}`); status != 200 || body != "" {
		t.Fatalf("$connect: %d %q", status, body)
	}
	s.send(conn, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	s.send(conn, `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\"}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Jane World\"}"}`)
	s.send(conn, `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"LastName\":\"Doe\"}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"Jane Doe\"}"}`)
	s.send(conn, `{"callType":"dispose_vm","vmId":"HelloWorldVM"}`)
	s.quiet(conn)
	if status, body := s.post("/api/dotnetify/vm/disconnect", `{"connectionId":"`+conn+`"}`); status != 200 || body != "" {
		t.Fatalf("$disconnect: %d %q", status, body)
	}
	s.settle()
	if n := s.srv.Stats().Sessions; n != 0 {
		t.Errorf("sessions after disconnect = %d, want 0", n)
	}
}

func TestControlTypesTranscript(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.send(conn, `{"callType":"request_vm","vmId":"ControlTypesVM","vmArgs":"{}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"ControlTypesVM","data":"{\"TextBoxValue\":\"\",\"TextBoxPlaceHolder\":\"Type something here\",\"TextBoxResult\":null,\"SearchBox\":\"\",\"SearchBoxPlaceHolder\":\"Type a planet\",\"SearchResults\":[],\"ShowMeCheckBox\":true,\"EnableMeCheckBox\":true,\"CheckBoxResult\":\"Enabled\",\"SimpleDropDownOptions\":[\"One\",\"Two\",\"Three\",\"Four\"],\"SimpleDropDownValue\":\"\",\"SimpleDropDownResult\":null,\"DropDownCaption\":\"Select an item ...\",\"DropDownOptions\":[{\"Id\":1,\"Text\":\"Object One\"},{\"Id\":2,\"Text\":\"Object Two\"},{\"Id\":3,\"Text\":\"Object Three\"},{\"Id\":4,\"Text\":\"Object Four\"}],\"DropDownValue\":0,\"DropDownResult\":null,\"RadioButtonValue\":\"green\",\"RadioButtonStyle\":\"label-success\",\"ButtonClicked\":null,\"ClickCount\":0}"}`)
	steps := []struct{ in, out string }{
		{`{\"TextBoxValue\":\"abc\"}`, `{\"TextBoxResult\":\"You typed: abc\"}`},
		{`{\"SearchBox\":\"m\"}`, `{\"SearchResults\":[\"Mercury\",\"Mars\"]}`},
		{`{\"EnableMeCheckBox\":false}`, `{\"CheckBoxResult\":\"Disabled\"}`},
		{`{\"ShowMeCheckBox\":false}`, `{\"CheckBoxResult\":\"Disabled\"}`},
		{`{\"SimpleDropDownValue\":\"Two\"}`, `{\"SimpleDropDownResult\":\"You selected: Two\"}`},
		{`{\"DropDownValue\":\"2\"}`, `{\"DropDownResult\":\"You selected: Object Two\"}`},
		{`{\"RadioButtonValue\":\"yellow\"}`, `{\"RadioButtonStyle\":\"label-warning\"}`},
		{`{\"ButtonClicked\":true}`, `{\"ClickCount\":1}`},
	}
	for _, st := range steps {
		s.send(conn, `{"callType":"update_vm","vmId":"ControlTypesVM","value":"`+st.in+`"}`)
		s.expect(conn, `{"callType":"response_vm","vmId":"ControlTypesVM","data":"`+st.out+`"}`)
	}
	s.quiet(conn)
}

func TestSimpleListTranscript(t *testing.T) {
	s := newStack(t, stackOptions{})
	full := `{"callType":"response_vm","vmId":"SimpleListVM","data":"{\"Employees\":[{\"Id\":1,\"FirstName\":\"Ann\",\"LastName\":\"Lee\"},{\"Id\":2,\"FirstName\":\"Bo\",\"LastName\":\"Kim\"},{\"Id\":3,\"FirstName\":\"Carla\",\"LastName\":\"Diaz\"},{\"Id\":4,\"FirstName\":\"Dev\",\"LastName\":\"Patel\"},{\"Id\":5,\"FirstName\":\"Eve\",\"LastName\":\"Novak\"},{\"Id\":6,\"FirstName\":\"Femi\",\"LastName\":\"Okafor\"},{\"Id\":7,\"FirstName\":\"Gus\",\"LastName\":\"Berg\"}],\"Employees_itemKey\":\"Id\"}"}`
	s.send("A1=", `{"callType":"request_vm","vmId":"SimpleListVM","vmArgs":"{}"}`)
	s.expect("A1=", full)
	s.send("B1=", `{"callType":"request_vm","vmId":"SimpleListVM","vmArgs":"{}"}`)
	s.expect("B1=", full)
	for _, st := range []struct{ in, out string }{
		{`{\"Add\":\"John Smith\"}`, `{\"Employees_add\":{\"Id\":8,\"FirstName\":\"John\",\"LastName\":\"Smith\"}}`},
		{`{\"Update\":{\"Id\":8,\"FirstName\":\"Johnny\"}}`, `{\"Employees_update\":{\"Id\":8,\"FirstName\":\"Johnny\",\"LastName\":\"Smith\"}}`},
		{`{\"Remove\":8}`, `{\"Employees_remove\":8}`},
	} {
		s.send("A1=", `{"callType":"update_vm","vmId":"SimpleListVM","value":"`+st.in+`"}`)
		want := `{"callType":"response_vm","vmId":"SimpleListVM","data":"` + st.out + `"}`
		s.expect("A1=", want)
		s.expect("B1=", want)
	}
	// $dispatchListState edits one field in place; every member gets the merged item.
	s.send("B1=", `{"callType":"update_vm","vmId":"SimpleListVM","value":"{\"Employees.$1.FirstName\":\"Z\"}"}`)
	want := `{"callType":"response_vm","vmId":"SimpleListVM","data":"{\"Employees_update\":{\"Id\":1,\"FirstName\":\"Z\",\"LastName\":\"Lee\"}}"}`
	s.expect("B1=", want)
	s.expect("A1=", want)
	s.quiet("A1=", "B1=")
}

func TestLiveChartTranscript(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.send(conn, `{"callType":"request_vm","vmId":"LiveChartVM","vmArgs":"{}"}`)
	s.settle()
	frames := waitFrames(t, s, conn, 3)
	var initial struct {
		Waveform [][]string
		Bar      []int
		Pie      []float64
	}
	decodeData(t, frames[0], "LiveChartVM", &initial)
	if len(initial.Waveform) != 30 || initial.Waveform[0][0] != "1" || initial.Waveform[0][1] != "0.31296179620778664" ||
		initial.Waveform[29][0] != "30" || len(initial.Bar) != 8 || len(initial.Pie) != 3 {
		t.Errorf("initial state = %s", frames[0])
	}
	for i, f := range frames[1:3] {
		var tick struct {
			WaveformAdd []string `json:"Waveform_add"`
			Bar         []int
			Pie         []float64
		}
		decodeData(t, f, "LiveChartVM", &tick)
		if want := []string{"31", "-0.4284968577626416"}; i == 0 && (len(tick.WaveformAdd) != 2 || tick.WaveformAdd[0] != want[0]) {
			t.Errorf("first tick Waveform_add = %q, want %q", tick.WaveformAdd, want)
		}
		if len(tick.Bar) != 12 || len(tick.Pie) != 3 {
			t.Errorf("tick %d = %s", i, f)
		}
	}
	s.send(conn, `{"callType":"dispose_vm","vmId":"LiveChartVM"}`)
	s.settle()
	// After disposal the timer stops: once the queue is empty, no new frames appear.
	ctx, cancel := contextWithTimeout()
	defer cancel()
	if err := s.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n := len(s.sink.Frames(conn))
	s.seen[conn] = n
	s.quiet(conn)
}

func TestChatRoomTranscript(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := func(data string) string {
		return `{"callType":"response_vm","vmId":"ChatRoomVM","data":"` + data + `"}`
	}
	userA := `{\"Id\":\"member1\",\"CorrelationId\":\"0.5\",\"Name\":\"user1\",\"IpAddress\":null,\"Browser\":null}`
	userB := `{\"Id\":\"member2\",\"CorrelationId\":\"0.7\",\"Name\":\"user2\",\"IpAddress\":null,\"Browser\":null}`
	s.send("A1=", `{"callType":"request_vm","vmId":"ChatRoomVM","vmArgs":"{}"}`)
	s.expect("A1=", r(`{\"Messages\":[],\"Users\":[],\"Messages_itemKey\":\"Id\",\"Users_itemKey\":\"Id\"}`))
	s.send("A1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"AddUser\":\"0.5\"}"}`)
	s.expect("A1=", r(`{\"Users_add\":`+userA+`}`))
	s.send("B1=", `{"callType":"request_vm","vmId":"ChatRoomVM","vmArgs":"{}"}`)
	s.expect("B1=", r(`{\"Messages\":[],\"Users\":[`+userA+`],\"Messages_itemKey\":\"Id\",\"Users_itemKey\":\"Id\"}`))
	s.send("B1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"AddUser\":\"0.7\"}"}`)
	s.expect("B1=", r(`{\"Users_add\":`+userB+`}`))
	s.expect("A1=", r(`{\"Users_add\":`+userB+`}`))
	s.send("A1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"SendMessage\":{\"Text\":\"my name is Ann\",\"Date\":\"2024-05-01T10:00:00.000Z\",\"UserName\":\"Ann\"}}"}`)
	msg := r(`{\"Users_update\":{\"Id\":\"member1\",\"CorrelationId\":\"0.5\",\"Name\":\"Ann\",\"IpAddress\":null,\"Browser\":null},\"Messages_add\":{\"Id\":1714557600000,\"UserId\":\"member1\",\"UserName\":\"Ann\",\"Date\":\"2024-05-01T10:00:00+00:00\",\"Text\":\"my name is Ann\"}}`)
	s.expect("A1=", msg)
	s.expect("B1=", msg)
	s.send("A1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"SendMessage\":{\"Text\":\"user2: psst\",\"Date\":\"2024-05-01T10:01:00.000Z\",\"UserName\":\"\"}}"}`)
	private := r(`{\"PrivateMessage\":{\"Id\":1714557660000,\"UserId\":\"member1\",\"UserName\":\"Ann\",\"Date\":\"2024-05-01T10:01:00+00:00\",\"Text\":\"user2: psst\"}}`)
	s.expect("B1=", private)
	s.expect("A1=", private)
	s.send("B1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"RemoveUser\":null}"}`)
	s.expect("B1=", r(`{\"Users_remove\":\"member2\"}`))
	s.expect("A1=", r(`{\"Users_remove\":\"member2\"}`))
	s.send("B1=", `{"callType":"dispose_vm","vmId":"ChatRoomVM"}`)
	s.quiet("A1=", "B1=")
	// A tab closed without cleanup: $disconnect alone removes the user for the others.
	s.send("C1=", `{"callType":"request_vm","vmId":"ChatRoomVM","vmArgs":"{}"}`)
	s.send("C1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"AddUser\":\"0.9\"}"}`)
	s.settle()
	s.seen["C1="] = 2
	s.expect("A1=", r(`{\"Users_add\":{\"Id\":\"member3\",\"CorrelationId\":\"0.9\",\"Name\":\"user3\",\"IpAddress\":null,\"Browser\":null}}`))
	s.post("/api/dotnetify/vm/disconnect", `{"connectionId":"C1="}`)
	s.expect("A1=", r(`{\"Users_remove\":\"member3\"}`))
	s.quiet("A1=", "B1=", "C1=")
}

func waitFrames(t *testing.T, s *stack, connID string, n int) []string {
	t.Helper()
	ctx, cancel := contextWithTimeout()
	defer cancel()
	got, err := s.sink.WaitFrames(ctx, connID, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// decodeData checks a frame's envelope (data must be a string) and decodes data into v.
func decodeData(t *testing.T, frame, vmID string, v any) {
	t.Helper()
	var env struct {
		CallType string `json:"callType"`
		VMID     string `json:"vmId"`
		Data     string `json:"data"`
	}
	if err := json.Unmarshal([]byte(frame), &env); err != nil || env.CallType != "response_vm" || env.VMID != vmID {
		t.Fatalf("bad envelope %s: %v", frame, err)
	}
	dec := json.NewDecoder(strings.NewReader(env.Data))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("data of %s: %v", frame, err)
	}
}
