package integration_test

import (
	"slices"
	"testing"
)

// A 410 from the gateway disposes the connection's view models: the shared chat room hears
// that the member left, and the runtime forgets the session.
func TestGoneDisposesTheConnection(t *testing.T) {
	s := newStack(t, stackOptions{})
	r := func(data string) string {
		return `{"callType":"response_vm","vmId":"ChatRoomVM","data":"` + data + `"}`
	}
	for _, c := range []string{"A1=", "B1="} {
		s.send(c, `{"callType":"request_vm","vmId":"ChatRoomVM","vmArgs":"{}"}`)
		s.send(c, `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"AddUser\":\"`+c+`\"}"}`)
		// Connections are handled concurrently: let A join before B asks for the room.
		s.settle()
	}
	s.expect("B1=", r(`{\"Messages\":[],\"Users\":[{\"Id\":\"member1\",\"CorrelationId\":\"A1=\",\"Name\":\"user1\",\"IpAddress\":null,\"Browser\":null}],\"Messages_itemKey\":\"Id\",\"Users_itemKey\":\"Id\"}`))
	s.seen["A1="], s.seen["B1="] = 3, 2
	s.quiet("A1=", "B1=")
	s.sink.SetGone("B1=")
	s.send("A1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"SendMessage\":{\"Text\":\"hi\",\"Date\":\"2024-05-01T10:00:00.000Z\",\"UserName\":\"\"}}"}`)
	s.expect("A1=", r(`{\"Messages_add\":{\"Id\":1714557600000,\"UserId\":\"member1\",\"UserName\":\"user1\",\"Date\":\"2024-05-01T10:00:00+00:00\",\"Text\":\"hi\"}}`))
	s.expect("A1=", r(`{\"Users_remove\":\"member2\"}`))
	s.quiet("A1=", "B1=")
	if n := s.srv.Stats().Sessions; n != 1 {
		t.Errorf("sessions = %d, want 1 (B forgotten)", n)
	}
	if st := s.srv.Stats().Push; st.Gone != 1 {
		t.Errorf("stats %+v, want one gone", st)
	}
}

// Throttling and server errors from the gateway delay frames but lose none and keep order.
func TestThrottledPushesArriveInOrder(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.sink.Respond(conn, 429, 429, 503, 200, 429)
	s.send(conn, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	for _, name := range []string{"A", "B", "C", "D"} {
		s.send(conn, `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"`+name+`\"}"}`)
	}
	s.expect(conn,
		`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`,
		`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"A World\"}"}`,
		`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"B World\"}"}`,
		`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"C World\"}"}`,
		`{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FullName\":\"D World\"}"}`,
	)
	s.quiet(conn)
	if st := s.srv.Stats().Push; st.Retried != 4 || st.Sent != 5 || st.Failed != 0 {
		t.Errorf("stats %+v, want 4 retries, 5 sent", st)
	}
}

// A connection this server holds no session for (it was restarted without draining while
// the gateway kept the socket open) is closed with a signed DELETE when it sends update_vm
// or dispose_vm, so that its client reconnects and requests its view models again. A
// connection that has a session but not that view model is left open: API Gateway does not
// guarantee the order of messages.
func TestUnknownConnectionIsClosed(t *testing.T) {
	s := newStack(t, stackOptions{})
	s.send("U1=", `{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\"}"}`)
	s.send("D1=", `{"callType":"dispose_vm","vmId":"HelloWorldVM"}`)
	// Has a session, not that view model.
	s.send(conn, `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`)
	s.send(conn, `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"AddUser\":\"x\"}"}`)
	s.send(conn, `{"callType":"dispose_vm","vmId":"ChatRoomVM"}`)
	// Its request_vm failed: it has a session without view models.
	s.send("F1=", `{"callType":"request_vm","vmId":"NopeVM","vmArgs":"{}"}`)
	s.send("F1=", `{"callType":"update_vm","vmId":"NopeVM","value":"{\"A\":1}"}`)
	s.expect(conn, `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`)
	s.expect("F1=", `{"callType":"response_vm","vmId":"NopeVM","data":"{\"ExceptionType\":\"Exception\",\"Message\":\"'NopeVM' is not a known view model\"}"}`)
	s.quiet(conn, "F1=", "U1=", "D1=")
	closed := s.sink.Closed()
	slices.Sort(closed)
	if !slices.Equal(closed, []string{"D1=", "U1="}) {
		t.Errorf("closed %q, want [D1= U1=]", closed)
	}
	if st := s.srv.Stats().Push; st.Closed != 2 || st.Failed != 0 {
		t.Errorf("stats %+v, want 2 closed, none failed", st)
	}
	// The closed connections cost nothing; the two that requested keep their sessions until
	// $disconnect.
	if n := s.srv.Stats().Sessions; n != 2 {
		t.Errorf("sessions = %d, want 2", n)
	}
	for _, c := range []string{conn, "F1="} {
		s.post("/api/dotnetify/vm/disconnect", `{"connectionId":"`+c+`"}`)
	}
	s.settle()
	if n := s.srv.Stats().Sessions; n != 0 {
		t.Errorf("sessions after $disconnect = %d, want 0", n)
	}
}
