package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsgate/wsgate/internal/sink"
)

var binary string

// TestMain builds the binary once, statically, as the image does.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsgate-server-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "wsgate-server")
	cmd := exec.Command("go", "build", "-o", binary, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func buildBinary(*testing.T) string { return binary }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The binary serves the demos with env credentials, pushes signed frames, and exits 0 after
// draining on SIGTERM; a bad environment stops it with a one-line error.
func TestBinaryEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	addr := freeAddr(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{
		"WSGATE_CALLBACK_URL=" + sk.URL, "WSGATE_LISTEN_ADDR=" + addr, "WSGATE_LOG_LEVEL=warn",
		"AWS_ACCESS_KEY_ID=AKIAWSGATELOCAL00000", "AWS_SECRET_ACCESS_KEY=wsgate-local-secret",
		"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir(), "WSGATE_DRAIN_WINDOW=0s",
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatal("server did not become healthy")
		case <-time.After(20 * time.Millisecond):
		}
	}
	body := `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}}`
	resp, err := http.Post("http://"+addr+"/api/dotnetify/vm", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post: %v %v", resp, err)
	}
	resp.Body.Close()
	got, err := sk.WaitFrames(ctx, "Wm1nYcO3IAMCJ2w=", 1)
	if err != nil {
		t.Fatalf("%v; rejected %q", err, sk.Rejected())
	}
	want := `{"callType":"response_vm","vmId":"HelloWorldVM","data":"{\"FirstName\":\"Hello\",\"LastName\":\"World\",\"FullName\":\"Hello World\"}"}`
	if got[0] != want {
		t.Errorf("pushed %s", got[0])
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	// On the way out the server closes its clients' connections so they reconnect and
	// request their view models again from a server that has them.
	if got := sk.Closed(); len(got) != 1 || got[0] != "Wm1nYcO3IAMCJ2w=" {
		t.Errorf("connections closed at shutdown: %q", got)
	}
}

func TestBinaryRejectsBadEnvironment(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"WSGATE_CALLBACK_URL=not a url", "WSGATE_PUSH_CONCURRENCY=lots"}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := `wsgate-server: invalid configuration: WSGATE_CALLBACK_URL="not a url": want an absolute http(s) URL without query, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod; WSGATE_PUSH_CONCURRENCY="lots": want an integer from 1 to 65536`
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("output:\n%s\nwant\n%s", out, want)
	}
}
