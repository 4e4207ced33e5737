package localgateway

import (
	"testing"

	"github.com/wsgate/wsgate/contract"
)

// TestSynthesizedTemplateSendsIdentityHeaders serves the stack's template
// and checks every route hands the backend the connection's identity from
// $context in the request parameters' headers, whatever the frame says.
func TestSynthesizedTemplateSendsIdentityHeaders(t *testing.T) {
	b := newBackend(t)
	data, err := readFile("testdata/wsgate-stack.template.json")
	if err != nil {
		t.Fatal(err)
	}
	x := startGateway(t, data, b.srv.URL, nil)
	c := dial(t, x.ws, nil)
	connect := b.next(t)
	id := connect.Header.Get(contract.HeaderConnectionID)
	if id == "" {
		t.Fatalf("$connect: no %s header: %v", contract.HeaderConnectionID, connect.Header)
	}
	send(t, c, `{"callType":"dispose_vm","vmId":"HelloWorldVM"}, "connectionId": "VICTIM=", "sourceIp": "10.9.9.9"`)
	message := b.next(t)
	_ = c.Close()
	disconnect := b.next(t)
	for _, r := range []recorded{connect, message, disconnect} {
		want := map[string]string{
			contract.HeaderConnectionID: id,
			contract.HeaderSourceIP:     "127.0.0.1",
			contract.HeaderUserAgent:    "Go-http-client/1.1",
		}
		for h, v := range want {
			if got := r.Header.Get(h); got != v {
				t.Errorf("%s: header %s = %q, want %q", r.Path, h, got, v)
			}
		}
	}
}
