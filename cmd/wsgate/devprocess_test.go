package main

// Tests of `wsgate dev` as a process: it is built, started in a user's
// module outside this repository, signalled in each of its states, and
// every process it started is looked for afterwards.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/internal/stacktemplate"
)

// testServer is a user's server package: it answers /healthz with its pid
// and every integration call with 200, notes each start in
// $DEVTEST_STATE/starts and each principal the gateway states (the
// X-Wsgate-Principal header) in $DEVTEST_STATE/principals.
// DEVTEST_IGNORE_TERM makes it ignore SIGTERM; DEVTEST_HANG_RESTARTS makes
// every start after the first hang before listening.
const testServer = `package main

import (
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	starts := filepath.Join(os.Getenv("DEVTEST_STATE"), "starts")
	before, _ := os.ReadFile(starts)
	f, err := os.OpenFile(starts, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	if os.Getenv("DEVTEST_IGNORE_TERM") != "" {
		signal.Ignore(syscall.SIGTERM)
	}
	if os.Getenv("DEVTEST_HANG_RESTARTS") != "" && strings.Count(string(before), "\n") > 0 {
		select {}
	}
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getpid()) })
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("X-Wsgate-Principal"); p != "" {
			f, err := os.OpenFile(filepath.Join(os.Getenv("DEVTEST_STATE"), "principals"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if err == nil {
				fmt.Fprintln(f, p)
				f.Close()
			}
		}
	})
	panic(http.ListenAndServe(os.Getenv("WSGATE_LISTEN_ADDR"), nil))
}
`

// slowApp is a CDK app that never finishes synthesizing: it starts a
// child and waits, noting when it got there.
const slowApp = `#!/bin/sh
sleep 600 &
echo started > "$DEVTEST_STATE/synthesizing"
wait
`

// slowTool is a -toolexec wrapper that blocks the build on its first tool.
const slowTool = `#!/bin/sh
echo started > "$DEVTEST_STATE/building"
exec sleep 600
`

var (
	wsgateBinOnce sync.Once
	wsgateBin     string
	wsgateBinErr  error
)

// TestMain removes the command buildWsgate built.
func TestMain(m *testing.M) {
	code := m.Run()
	if wsgateBin != "" {
		os.RemoveAll(filepath.Dir(wsgateBin))
	}
	os.Exit(code)
}

// buildWsgate builds this command once per test run.
func buildWsgate(t *testing.T) string {
	t.Helper()
	wsgateBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wsgate-dev-test")
		if err != nil {
			wsgateBinErr = err
			return
		}
		wsgateBin = filepath.Join(dir, "wsgate")
		out, err := exec.Command("go", "build", "-o", wsgateBin, ".").CombinedOutput()
		if err != nil {
			wsgateBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if wsgateBinErr != nil {
		t.Fatal(wsgateBinErr)
	}
	return wsgateBin
}

// devRun is a running `wsgate dev`, its output lines and a mark in the
// environment of every process it starts.
type devRun struct {
	cmd    *exec.Cmd
	mark   string
	state  string
	lines  chan string
	mu     sync.Mutex
	output []string
	exited chan struct{}
}

// userModule writes a module outside this repository with the test server
// at ./cmd/counter and returns its root.
func userModule(t *testing.T, extra map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"go.mod":              "module example.com/counter\n\ngo 1.26\n",
		"cmd/counter/main.go": testServer,
	}
	for k, v := range extra {
		files[k] = v
	}
	writeFiles(t, root, files)
	return root
}

// startDev starts wsgate dev in dir with args and extra environment.
func startDev(t *testing.T, dir string, env []string, args ...string) *devRun {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	d := &devRun{mark: "WSGATE_DEVTEST_MARK=" + hex.EncodeToString(b), state: t.TempDir(), lines: make(chan string, 4096), exited: make(chan struct{})}
	d.cmd = exec.Command(buildWsgate(t), append([]string{"dev", "--addr", "127.0.0.1:0", "--access-log", ""}, args...)...)
	d.cmd.Dir = dir
	d.cmd.Env = append(append(os.Environ(), d.mark, "DEVTEST_STATE="+d.state), env...)
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stderr = d.cmd.Stdout // one stream, in order
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.read(out)
	t.Cleanup(func() {
		_ = d.cmd.Process.Kill()
		<-d.exited
		for _, pid := range d.left() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return d
}

func (d *devRun) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		d.mu.Lock()
		d.output = append(d.output, sc.Text())
		d.mu.Unlock()
		d.lines <- sc.Text()
	}
	_ = d.cmd.Wait()
	close(d.lines)
	close(d.exited)
}

func (d *devRun) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.output, "\n")
}

// waitLine waits for a line matching re and returns its submatches.
func (d *devRun) waitLine(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for l := range d.lines {
		if m := rx.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	t.Fatalf("wsgate dev exited without printing %s:\n%s", re, d.log())
	return nil
}

// waitFile waits for a file the processes write in the state directory,
// failing if wsgate dev exits first.
func (d *devRun) waitFile(t *testing.T, name string, lines int) []string {
	t.Helper()
	for {
		data, _ := os.ReadFile(filepath.Join(d.state, name))
		if got := strings.Fields(string(data)); len(got) >= lines {
			return got
		}
		select {
		case <-d.exited:
			t.Fatalf("wsgate dev exited before %s had %d lines:\n%s", name, lines, d.log())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// terminate sends SIGTERM and waits for wsgate dev to exit, then checks
// its status and that no process it started is left.
func (d *devRun) terminate(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range d.lines {
		}
	}()
	// A generous guard against a hang, not a measurement: the children
	// have 3 s between SIGTERM and SIGKILL.
	select {
	case <-d.exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("wsgate dev still running 2 minutes after SIGTERM:\n%s", d.log())
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0:\n%s", code, d.log())
	}
	if left := d.left(); len(left) > 0 {
		t.Errorf("processes left after wsgate dev exited: %s\n%s", describe(left), d.log())
	}
}

// left lists the live processes carrying the run's mark in their
// environment: everything wsgate dev started, and what those started.
func (d *devRun) left() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !strings.Contains("\x00"+string(env)+"\x00", "\x00"+d.mark+"\x00") {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if _, after, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(after, "Z") {
			continue // exited, waiting for its parent to collect it
		}
		pids = append(pids, pid)
	}
	return pids
}

func describe(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "%d %q; ", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return b.String()
}

func stackTemplateFile(t *testing.T) string {
	t.Helper()
	p, err := stacktemplate.WriteFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDevStopsEveryChildOnSIGTERMWhileSynthesizing(t *testing.T) {
	root := userModule(t, map[string]string{"cdk.json": `{"app": "./synth.sh"}`, "synth.sh": slowApp})
	d := startDev(t, root, nil, "--server-package", "./cmd/counter")
	d.waitFile(t, "synthesizing", 1)
	d.terminate(t)
}

func TestDevStopsEveryChildOnSIGTERMWhileBuilding(t *testing.T) {
	root := userModule(t, map[string]string{"slowtool.sh": slowTool})
	d := startDev(t, root, []string{"GOFLAGS=-toolexec=" + filepath.Join(root, "slowtool.sh")},
		"--server-package", "./cmd/counter", "--template", stackTemplateFile(t))
	d.waitFile(t, "building", 1)
	d.terminate(t)
}

func TestDevStopsEveryChildOnSIGTERMWhileRunning(t *testing.T) {
	root := userModule(t, nil)
	// A server that ignores SIGTERM is killed.
	d := startDev(t, root, []string{"DEVTEST_IGNORE_TERM=1"}, "--server-package", "./cmd/counter", "--template", stackTemplateFile(t))
	d.waitLine(t, `^websocket: ws://`)
	d.terminate(t)
}

func TestDevStopsEveryChildOnSIGTERMWhileRestarting(t *testing.T) {
	root := userModule(t, nil)
	d := startDev(t, root, []string{"DEVTEST_HANG_RESTARTS=1"}, "--server-package", "./cmd/counter", "--template", stackTemplateFile(t))
	d.waitLine(t, `^websocket: ws://`)
	first := d.waitFile(t, "starts", 1)[0]
	pid, _ := strconv.Atoi(first)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitLine(t, `^==> server exited \(signal: killed\); starting it again in 500ms$`)
	d.waitFile(t, "starts", 2) // started again, and never healthy
	d.terminate(t)
}

func TestDevStartsADeadServerAgainBehindTheSameGateway(t *testing.T) {
	root := userModule(t, nil)
	d := startDev(t, root, nil, "--server-package", "./cmd/counter", "--template", stackTemplateFile(t))
	ws := d.waitLine(t, `^websocket: (ws://\S+)$`)[1]
	first := d.waitFile(t, "starts", 1)[0]
	if c, _, err := websocket.DefaultDialer.Dial(ws, nil); err != nil {
		t.Fatalf("connect before the restart: %v\n%s", err, d.log())
	} else {
		c.Close()
	}
	pid, _ := strconv.Atoi(first)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.waitLine(t, `^==> server exited \(signal: killed\); starting it again in 500ms$`)
	addr := d.waitLine(t, `^==> server is up again on (\S+)$`)[1]
	second := d.waitFile(t, "starts", 2)[1]
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != second || second == first {
		t.Fatalf("after the restart /healthz = %d %q; want 200 from the new server %s (the old was %s)", resp.StatusCode, body, second, first)
	}
	// The gateway stayed up on the same URL and reaches the new server.
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatalf("connect after the restart: %v\n%s", err, d.log())
	}
	c.Close()
	d.terminate(t)
}

func TestDevRunsOutsideTheRepositoryWithoutAPage(t *testing.T) {
	root := userModule(t, nil)
	d := startDev(t, root, nil, "--server-package", "./cmd/counter", "--template", stackTemplateFile(t))
	d.waitLine(t, `^==> no page to serve \(--web DIR serves a built one, with a config.json holding the websocket URL\)$`)
	d.waitLine(t, `^websocket: ws://127\.0\.0\.1:\d+/prod$`)
	d.waitLine(t, `^callback: http://127\.0\.0\.1:\d+/prod$`)
	d.terminate(t)
	if strings.Contains(d.log(), "demo:") {
		t.Errorf("a demo line without a page:\n%s", d.log())
	}
}
