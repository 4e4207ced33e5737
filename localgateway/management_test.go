package localgateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tooLargeBody is the service's answer to an oversize @connections payload.
const tooLargeBody = `{"message":"Request entity too large"}`

// postSized sends a PostToConnection of n bytes signed over all n bytes,
// with a Content-Length or, when chunked, without one.
func postSized(t *testing.T, target string, n int, chunked bool) (*http.Response, string) {
	t.Helper()
	body := bytes.Repeat([]byte("p"), n)
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if chunked {
		// An unknown length makes the client send Transfer-Encoding: chunked.
		req.ContentLength = -1
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	sign(t, req, body, testCreds.SecretAccessKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp, string(got)
}

// TestPostToConnectionSizeLimit: 131,072 bytes are delivered; one or two
// bytes more answer 413 PayloadTooLargeException, with or without a
// Content-Length, although the signature covers every byte.
func TestPostToConnectionSizeLimit(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	c, id := connectID(t, x, b)
	target := x.cb + "/@connections/" + escapeID(id)
	for _, chunked := range []bool{false, true} {
		resp, body := postSized(t, target, MaxMessageSize, chunked)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chunked=%v, %d bytes: %d %s, want 200", chunked, MaxMessageSize, resp.StatusCode, body)
		}
		if got := read(t, c); len(got) != MaxMessageSize {
			t.Fatalf("chunked=%v: client got %d bytes, want %d", chunked, len(got), MaxMessageSize)
		}
		for _, n := range []int{MaxMessageSize + 1, MaxMessageSize + 2} {
			resp, body := postSized(t, target, n, chunked)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || body != tooLargeBody ||
				resp.Header.Get("X-Amzn-Errortype") != "PayloadTooLargeException" {
				t.Errorf("chunked=%v, %d bytes: %d %s %s, want 413 PayloadTooLargeException %s",
					chunked, n, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), body, tooLargeBody)
			}
		}
	}
}

// TestPostToConnectionOversizeUnsigned: the size is checked before the
// signature, so an unsigned oversize body answers 413, not 403, and a small
// unsigned one still 403.
func TestPostToConnectionOversizeUnsigned(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	_, id := connectID(t, x, b)
	target := x.cb + "/@connections/" + escapeID(id)
	resp, err := http.Post(target, "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte("u"), MaxMessageSize+1)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || string(body) != tooLargeBody {
		t.Fatalf("unsigned oversize: %d %s, want 413 %s", resp.StatusCode, body, tooLargeBody)
	}
	resp, err = http.Post(target, "application/octet-stream", strings.NewReader("small"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || string(body) != `{"message":"Missing Authentication Token"}` {
		t.Fatalf("unsigned small: %d %s, want 403 Missing Authentication Token", resp.StatusCode, body)
	}
}

// rawExchange writes head (and body) on a fresh TCP connection to the
// gateway and returns the status line and body of the answer.
func rawExchange(t *testing.T, x *gw, head string, body []byte) (string, string) {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(x.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		// The gateway may answer and close before taking all of it.
		_, _ = nc.Write(body)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.Status, string(got)
}

// TestPostToConnectionDeclaredOversizeNotRead: a Content-Length over the
// limit is answered at once, without waiting for (or reading) the body.
func TestPostToConnectionDeclaredOversizeNotRead(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	_, id := connectID(t, x, b)
	head := fmt.Sprintf("POST /%s/@connections/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n",
		x.g.StageName(), escapeID(id), strings.TrimPrefix(x.srv.URL, "http://"), 1<<30)
	status, body := rawExchange(t, x, head, nil)
	if status != "413 Request Entity Too Large" || body != tooLargeBody {
		t.Fatalf("declared 1 GiB: %s %s, want 413 %s", status, body, tooLargeBody)
	}
}

// TestPostToConnectionChunkedOversize: a chunked body is cut off at the
// limit while it is read.
func TestPostToConnectionChunkedOversize(t *testing.T) {
	b := newBackend(t)
	x := startGateway(t, dotnetifyTemplate().bytes(), b.srv.URL, nil)
	_, id := connectID(t, x, b)
	head := fmt.Sprintf("POST /%s/@connections/%s HTTP/1.1\r\nHost: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
		x.g.StageName(), escapeID(id), strings.TrimPrefix(x.srv.URL, "http://"))
	var chunks bytes.Buffer
	for sent := 0; sent <= MaxMessageSize; sent += 4096 {
		fmt.Fprintf(&chunks, "%x\r\n%s\r\n", 4096, bytes.Repeat([]byte("c"), 4096))
	}
	status, body := rawExchange(t, x, head, chunks.Bytes())
	if status != "413 Request Entity Too Large" || body != tooLargeBody {
		t.Fatalf("chunked over the limit: %s %s, want 413 %s", status, body, tooLargeBody)
	}
}
