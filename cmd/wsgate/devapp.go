package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// wsgateModule is this repository's module path: inside it, `wsgate dev`
// defaults to the demo server and the demo page.
const wsgateModule = "github.com/wsgate/wsgate"

// goModule is the Go module that holds the working directory.
type goModule struct {
	root string // directory of its go.mod
	path string // its module path
}

// isWsgate reports whether m is this repository.
func (m goModule) isWsgate() bool { return m.path == wsgateModule }

// findModule finds the go.mod at or above dir.
func findModule(dir string) (goModule, error) {
	for d := dir; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			path := modulePath(data)
			if path == "" {
				return goModule{}, fmt.Errorf("%s has no module line", filepath.Join(d, "go.mod"))
			}
			return goModule{root: d, path: path}, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return goModule{}, fmt.Errorf("reading go.mod: %w", err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return goModule{}, fmt.Errorf("no go.mod at or above %s: run wsgate dev inside your Go module", dir)
		}
		d = parent
	}
}

// modulePath returns the path on go.mod's module line, or "".
func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		line, _, _ = strings.Cut(line, "//")
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module")
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"') {
			continue
		}
		rest = strings.TrimSpace(rest)
		if unquoted, err := strconv.Unquote(rest); err == nil {
			return unquoted
		}
		return rest
	}
	return ""
}

// workDir is where the CLI keeps what it builds and the logs of each step
// for one module: in the user's cache directory, so nothing lands in the
// module (where it would end up in the server image's build context).
func workDir(m goModule) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the server binary and logs: %w", err)
	}
	sum := sha256.Sum256([]byte(m.root))
	dir := filepath.Join(cache, "wsgate", "dev", filepath.Base(m.root)+"-"+hex.EncodeToString(sum[:4]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return dir, nil
}

// cdkApp is a CDK app as cdk.json describes it.
type cdkApp struct {
	dir     string          // directory of cdk.json
	command string          // its "app" command
	outDir  string          // its "output" directory (default cdk.out), absolute
	context json.RawMessage // cdk.json's "context" merged with cdk.context.json's
}

// findCDKApp reads the cdk.json nearest the working directory, looking no
// higher than the module root.
func findCDKApp(cwd string, m goModule) (cdkApp, error) {
	for d := cwd; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "cdk.json"))
		if err == nil {
			return parseCDKApp(d, data)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return cdkApp{}, fmt.Errorf("reading cdk.json: %w", err)
		}
		if d == m.root || filepath.Dir(d) == d {
			return cdkApp{}, fmt.Errorf("no cdk.json between %s and the module root %s: add one whose \"app\" runs your CDK app (such as {\"app\": \"go run ./cdk\"}), or pass --template FILE", cwd, m.root)
		}
	}
}

// parseCDKApp reads cdk.json (in dir) and cdk.context.json next to it, as
// the CDK CLI does: the app gets both contexts in CDK_CONTEXT_JSON, so it
// synthesizes with the feature flags `cdk synth` would use.
func parseCDKApp(dir string, data []byte) (cdkApp, error) {
	var settings struct {
		App     string                     `json:"app"`
		Output  string                     `json:"output"`
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(data, &settings); err != nil {
		return cdkApp{}, fmt.Errorf("%s: %w", filepath.Join(dir, "cdk.json"), err)
	}
	if strings.TrimSpace(settings.App) == "" {
		return cdkApp{}, fmt.Errorf("%s has no \"app\" command (such as \"go run .\")", filepath.Join(dir, "cdk.json"))
	}
	ctx := settings.Context
	if ctx == nil {
		ctx = map[string]json.RawMessage{}
	}
	if extra, err := os.ReadFile(filepath.Join(dir, "cdk.context.json")); err == nil {
		var saved map[string]json.RawMessage
		if err := json.Unmarshal(extra, &saved); err != nil {
			return cdkApp{}, fmt.Errorf("%s: %w", filepath.Join(dir, "cdk.context.json"), err)
		}
		for k, v := range saved {
			ctx[k] = v
		}
	}
	contextJSON, err := json.Marshal(ctx)
	if err != nil {
		return cdkApp{}, fmt.Errorf("cdk.json context: %w", err)
	}
	out := settings.Output
	if out == "" {
		out = "cdk.out"
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(dir, out)
	}
	return cdkApp{dir: dir, command: settings.App, outDir: out, context: contextJSON}, nil
}

// synth runs the app's command with CDK_OUTDIR, as `cdk synth` does (no
// AWS account is involved), and returns the template of the stack that
// holds the WebSocket API.
func (a cdkApp) synth(ctx context.Context, stack, logDir string, stderr io.Writer) (string, error) {
	fmt.Fprintf(stderr, "==> synthesizing the CDK app (%s with CDK_OUTDIR=%s; the first run compiles the CDK libraries and takes a while)\n", a.command, a.outDir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "sh", "-c", a.command)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+a.outDir, "CDK_CONTEXT_JSON="+string(a.context), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	if err := runLogged(cmd, filepath.Join(logDir, "synth.log"), "synthesizing", stderr); err != nil {
		return "", fmt.Errorf("synth failed: %w", err)
	}
	template, err := findStackTemplate(a.outDir, stack)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "==> synthesized %s in %s\n", template, time.Since(start).Round(100*time.Millisecond))
	return template, nil
}

// findStackTemplate picks, from the cloud assembly in outDir, the template
// of the stack named stack, or when stack is empty of the one stack that
// defines a WebSocket API.
func findStackTemplate(outDir, stack string) (string, error) {
	data, err := os.ReadFile(filepath.Join(outDir, "manifest.json"))
	if err != nil {
		return "", fmt.Errorf("synth wrote no cloud assembly: %w", err)
	}
	var manifest struct {
		Artifacts map[string]struct {
			Type       string `json:"type"`
			Properties struct {
				TemplateFile string `json:"templateFile"`
			} `json:"properties"`
		} `json:"artifacts"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(outDir, "manifest.json"), err)
	}
	var stacks, websocket []string
	templates := map[string]string{}
	for id, a := range manifest.Artifacts {
		if a.Type != "aws:cloudformation:stack" {
			continue
		}
		path := filepath.Join(outDir, a.Properties.TemplateFile)
		stacks = append(stacks, id)
		templates[id] = path
		has, err := hasWebSocketAPI(path)
		if err != nil {
			return "", err
		}
		if has {
			websocket = append(websocket, id)
		}
	}
	sort.Strings(stacks)
	sort.Strings(websocket)
	if stack != "" {
		path, ok := templates[stack]
		if !ok {
			return "", fmt.Errorf("--stack %s: the app has no such stack (its stacks: %s)", stack, strings.Join(stacks, ", "))
		}
		return path, nil
	}
	switch len(websocket) {
	case 1:
		return templates[websocket[0]], nil
	case 0:
		return "", fmt.Errorf("no stack of the app defines a WebSocket API (AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET); its stacks: %s", strings.Join(stacks, ", "))
	default:
		return "", fmt.Errorf("stacks %s each define a WebSocket API: choose one with --stack NAME", strings.Join(websocket, ", "))
	}
}

// hasWebSocketAPI reports whether the template defines a WebSocket API.
func hasWebSocketAPI(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading the synthesized template: %w", err)
	}
	var t struct {
		Resources map[string]struct {
			Type       string `json:"Type"`
			Properties struct {
				ProtocolType any `json:"ProtocolType"`
			} `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, r := range t.Resources {
		if r.Type == "AWS::ApiGatewayV2::Api" && r.Properties.ProtocolType == "WEBSOCKET" {
			return true, nil
		}
	}
	return false, nil
}

// runLogged runs cmd with its output in logPath, telling stderr every 10 s
// that it is still at it; a failure is the last meaningful output line plus
// where the full log is. Cancelling ctx kills cmd's whole process group:
// `go run` and `go build` start children of their own (the compiled app,
// jsii's node, the compiler).
func runLogged(cmd *exec.Cmd, logPath, doing string, stderr io.Writer) error {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	ownGroup(cmd)
	done := make(chan struct{})
	defer close(done)
	go func() {
		start := time.Now()
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fmt.Fprintf(stderr, "    … still %s (%s)\n", doing, time.Since(start).Round(time.Second))
			}
		}
	}()
	err := cmd.Run()
	_ = os.WriteFile(logPath, buf.Bytes(), 0o644)
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s (full output in %s)", lastLine(buf.String(), err.Error()), logPath)
}

// lastLine returns the last line that is not part of a "!!" banner (jsii
// prints one about the Node.js version after every run).
func lastLine(out, fallback string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l != "" && !strings.HasPrefix(l, "!!") {
			return l
		}
	}
	return fallback
}
