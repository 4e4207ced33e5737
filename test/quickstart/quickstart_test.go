// Package quickstart runs README.md's quick start outside the repository:
// a new module holding the README's files, requiring wsgate through a
// replace to this checkout, run with `go tool wsgate dev --server-package
// ./cmd/counter`, and driven by the README's client script with the real
// dotnetify client.
package quickstart

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The README's commands this test runs, in the README's words.
const (
	devCommand    = "go tool wsgate dev --server-package ./cmd/counter"
	clientCommand = "node client.cjs ws://127.0.0.1:3000/prod"
)

// readmeFiles returns the files the quick start writes: each fenced block
// after a <!-- file: NAME --> line.
func readmeFiles(t *testing.T, readme string) map[string]string {
	t.Helper()
	re := regexp.MustCompile("(?s)<!-- file: (\\S+) -->\n```\\w*\n(.*?)```\n")
	files := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(readme, -1) {
		files[m[1]] = m[2]
	}
	for _, want := range []string{"app.go", "cdk.json", "cmd/counter/main.go", "client.cjs"} {
		if _, ok := files[want]; !ok {
			t.Fatalf("README.md's quick start does not show %s (want a <!-- file: %s --> line before its block)", want, want)
		}
	}
	return files
}

// goEnv is the environment of every go command here: no network (the
// modules come from the checkout's go.sum and the module cache, as
// test/reuse does), the caller's build cache kept.
func goEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
}

// newModule writes the user's module in a fresh directory: `go mod init`
// and `go get -tool` (steps 1 and 3) become a go.mod requiring the
// checkout through a replace, with its go.sum, since the test has no
// network.
func newModule(t *testing.T, root string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "counter")
	gomod := "module example.com/counter\n\ngo 1.26\n\nrequire github.com/wsgate/wsgate v0.0.0\n\n" +
		"replace github.com/wsgate/wsgate => " + root + "\n\ntool github.com/wsgate/wsgate/cmd/wsgate\n"
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.mod"], files["go.sum"] = gomod, string(sums)
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// process is a started command whose combined output is watched by line.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // signalled on each new line and at exit
	exited chan struct{}
}

func start(t *testing.T, dir string, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), more: make(chan struct{}, 1), exited: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, env
	// Its own process group: the cleanup can end whatever it started.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(out)
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
	})
	return p
}

func (p *process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		p.signal()
	}
	_ = p.cmd.Wait()
	close(p.exited)
	p.signal()
}

func (p *process) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLine returns the submatches of the first line matching re, failing
// when the process exits without printing one.
func (p *process) waitLine(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if m := rx.FindStringSubmatch(l); m != nil {
				p.mu.Unlock()
				return m
			}
		}
		p.mu.Unlock()
		select {
		case <-p.exited:
			p.mu.Lock()
			for _, l := range p.lines {
				if m := rx.FindStringSubmatch(l); m != nil {
					p.mu.Unlock()
					return m
				}
			}
			p.mu.Unlock()
			t.Fatalf("%s exited (%v) without printing %s:\n%s", p.cmd.Path, p.cmd.ProcessState, re, p.output())
		case <-p.more:
		}
	}
}

func TestQuickStartFromAnEmptyDirectory(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{devCommand, clientCommand} {
		if !strings.Contains(string(readme), c) {
			t.Fatalf("README.md's quick start no longer says %q: keep this test and the README together", c)
		}
	}
	nodeModules := filepath.Join(root, "node_modules")
	for _, pkg := range []string{"dotnetify", "ws"} {
		if _, err := os.Stat(filepath.Join(nodeModules, pkg, "package.json")); err != nil {
			t.Fatalf("the client needs npm's %s: run scripts/install-deps.sh (scripts/test.sh does) (%v)", pkg, err)
		}
	}
	dir := newModule(t, root, readmeFiles(t, string(readme)))
	env := goEnv()
	// Step 3's `go mod tidy` also resolves the tests of every dependency,
	// which needs the network; building the module's packages and the tool
	// with -mod=mod records the same requirements from what is at hand.
	build := exec.Command("go", "build", "./...", "github.com/wsgate/wsgate/cmd/wsgate")
	build.Dir, build.Env = dir, env
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Step 4. The first synth of a new module compiles the CDK bindings;
	// with the build cache the repository's own tests leave, it takes
	// seconds.
	dev := start(t, dir, env, "go", append(strings.Fields(devCommand)[1:], "--addr", "127.0.0.1:0")...)
	websocketURL := dev.waitLine(t, `^websocket: (ws://127\.0\.0\.1:\d+/prod)$`)[1]
	dev.waitLine(t, `^callback: http://127\.0\.0\.1:\d+/prod$`)
	checkImageAsset(t, dir)

	// Step 5, with the checkout's npm packages for `npm install`.
	if err := os.Symlink(nodeModules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang
	defer cancel()
	client := exec.CommandContext(ctx, "node", "client.cjs", websocketURL)
	client.Dir = dir
	out, err := client.CombinedOutput()
	if err != nil || string(out) != "Count: 0\nCount: 1\nCount: 2\nCount: 3\n" {
		t.Fatalf("node client.cjs: %v\n%s\nwsgate dev:\n%s", err, out, dev.output())
	}

	// Ctrl-C's SIGTERM ends it cleanly.
	if err := dev.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	dev.waitLine(t, `^==> stopped$`)
	<-dev.exited
	if !dev.cmd.ProcessState.Success() {
		t.Fatalf("wsgate dev after SIGTERM: %v\n%s", dev.cmd.ProcessState, dev.output())
	}
}

// checkImageAsset checks that the synthesized image asset builds the
// user's package from the user's module.
func checkImageAsset(t *testing.T, dir string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "cdk.out", "CounterStack.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory       string            `json:"directory"`
				DockerFile      string            `json:"dockerFile"`
				DockerBuildArgs map[string]string `json:"dockerBuildArgs"`
				Platform        string            `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.DockerImages) != 1 {
		t.Fatalf("want one image asset, got %d:\n%s", len(manifest.DockerImages), data)
	}
	for _, img := range manifest.DockerImages {
		src := img.Source
		if src.DockerBuildArgs["SERVER_PACKAGE"] != "./cmd/counter" || src.Platform != "linux/arm64" {
			t.Errorf("image source = %+v, want SERVER_PACKAGE ./cmd/counter for linux/arm64", src)
		}
		context := filepath.Join(dir, "cdk.out", src.Directory)
		gomod, err := os.ReadFile(filepath.Join(context, "go.mod"))
		if err != nil || !strings.HasPrefix(string(gomod), "module example.com/counter\n") {
			t.Errorf("the build context's go.mod is not the user's module: %v\n%s", err, gomod)
		}
		for _, want := range []string{"cmd/counter/main.go", "app.go", src.DockerFile} {
			if _, err := os.Stat(filepath.Join(context, want)); err != nil {
				t.Errorf("the build context lacks %s: %v", want, err)
			}
		}
		if _, err := os.Stat(filepath.Join(context, "cdk.out")); err == nil {
			t.Errorf("the build context holds cdk.out")
		}
	}
}
