package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway/cfn"
)

// gatewayProc is the local gateway run as its own process (`wsgate gateway`), so that the
// client sockets and the gateway's ends of them are counted against two processes' open
// file limits instead of one, and the gateway gets its own scheduler, as in production.
type gatewayProc struct {
	cmd    *exec.Cmd
	dir    string
	mu     sync.Mutex
	stderr strings.Builder
}

// startGatewayProc runs `<command...> --template T --backend B --addr 127.0.0.1:0` and
// reads the URLs it prints.
func startGatewayProc(command []string, backend string) (*gatewayProc, string, string, error) {
	dir, err := os.MkdirTemp("", "wsgate-bench-gw-")
	if err != nil {
		return nil, "", "", fmt.Errorf("temp dir: %w", err)
	}
	tpl := filepath.Join(dir, "template.json")
	data, err := unthrottledTemplate()
	if err == nil {
		err = os.WriteFile(tpl, data, 0o644)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", fmt.Errorf("gateway template: %w", err)
	}
	args := append(append([]string{}, command[1:]...), "--template", tpl, "--backend", backend, "--addr", "127.0.0.1:0", "--access-log", "")
	secrets, err := cfn.SameSecret(data, cfn.Options{}, localIntegrationSecret)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", fmt.Errorf("gateway template: %w", err)
	}
	for id, v := range secrets {
		args = append(args, "--secret", id+"="+v)
	}
	g := &gatewayProc{cmd: exec.Command(command[0], args...), dir: dir}
	g.cmd.Env = append(os.Environ(), contract.EnvLocalAccessKeyID+"="+localAccessKey, contract.EnvLocalSecretAccessKey+"="+localSecretKey, contract.EnvLocalRegion+"="+localRegion)
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	errPipe, err := g.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", "", err
	}
	if err := g.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, "", "", fmt.Errorf("start gateway: %w", err)
	}
	go g.keepStderr(errPipe)
	ws, callback, err := readURLs(out)
	if err != nil {
		g.stop()
		return nil, "", "", fmt.Errorf("gateway: %w; stderr: %s", err, g.tail())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return g, ws, callback, nil
}

// readURLs reads "websocket: …" and "callback: …" lines, within 30 seconds.
func readURLs(r io.Reader) (string, string, error) {
	type urls struct{ ws, cb string }
	got := make(chan urls, 1)
	go func() {
		var u urls
		sc := bufio.NewScanner(r)
		for (u.ws == "" || u.cb == "") && sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "websocket: "); ok {
				u.ws = v
			}
			if v, ok := strings.CutPrefix(line, "callback: "); ok {
				u.cb = v
			}
		}
		got <- u
	}()
	select {
	case u := <-got:
		if u.ws == "" || u.cb == "" {
			return "", "", fmt.Errorf("exited without printing its websocket and callback URLs")
		}
		return u.ws, u.cb, nil
	case <-time.After(30 * time.Second):
		return "", "", fmt.Errorf("printed no URLs within 30s")
	}
}

func (g *gatewayProc) keepStderr(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		g.mu.Lock()
		if g.stderr.Len() < 64<<10 {
			g.stderr.WriteString(sc.Text() + "\n")
		}
		g.mu.Unlock()
	}
}

func (g *gatewayProc) tail() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stderr.String()
	return s[max(0, len(s)-2000):]
}

// stop sends SIGTERM (the gateway closes its sockets with 1001), then SIGKILL after 10s.
func (g *gatewayProc) stop() {
	defer os.RemoveAll(g.dir)
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		_ = g.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
	}
}

// unthrottledTemplate is the stack template without the stage's throttling settings: the
// benchmarks measure the software, not a deployment's limits.
func unthrottledTemplate() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(stackTemplate, &doc); err != nil {
		return nil, err
	}
	resources, _ := doc["Resources"].(map[string]any)
	for _, v := range resources {
		res, _ := v.(map[string]any)
		if res["Type"] != "AWS::ApiGatewayV2::Stage" {
			continue
		}
		props, _ := res["Properties"].(map[string]any)
		if s, ok := props["DefaultRouteSettings"].(map[string]any); ok {
			delete(s, "ThrottlingBurstLimit")
			delete(s, "ThrottlingRateLimit")
		}
		delete(props, "RouteSettings")
	}
	return json.Marshal(doc)
}
