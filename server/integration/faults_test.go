package integration_test

import (
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
	}
	s.expect("B1=", r(`{\"Messages\":[],\"Users\":[{\"Id\":\"A1=\",\"CorrelationId\":\"A1=\",\"Name\":\"user1\",\"IpAddress\":\"10.0.0.9\",\"Browser\":null}],\"Messages_itemKey\":\"Id\",\"Users_itemKey\":\"Id\"}`))
	s.seen["A1="], s.seen["B1="] = 3, 2
	s.quiet("A1=", "B1=")
	s.sink.SetGone("B1=")
	s.send("A1=", `{"callType":"update_vm","vmId":"ChatRoomVM","value":"{\"SendMessage\":{\"Text\":\"hi\",\"Date\":\"2024-05-01T10:00:00.000Z\",\"UserName\":\"\"}}"}`)
	s.expect("A1=", r(`{\"Messages_add\":{\"Id\":638501544000000000,\"UserId\":\"A1=\",\"UserName\":\"user1\",\"Date\":\"2024-05-01T10:00:00+00:00\",\"Text\":\"hi\"}}`))
	s.expect("A1=", r(`{\"Users_remove\":\"B1=\"}`))
	s.quiet("A1=", "B1=")
	if n := s.rt.Sessions(); n != 1 {
		t.Errorf("sessions = %d, want 1 (B forgotten)", n)
	}
	if st := s.push.Stats(); st.Gone != 1 {
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
	if st := s.push.Stats(); st.Retried != 4 || st.Sent != 5 || st.Failed != 0 {
		t.Errorf("stats %+v, want 4 retries, 5 sent", st)
	}
}
