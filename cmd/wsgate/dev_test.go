package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDevPortInUseIsOneLine(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	web := t.TempDir()
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<html></html>"), 0o600)
	for _, args := range [][]string{
		{"dev", "--web", web, "--template", fixture, "--addr", busy.Addr().String()},
		{"dev", "--web", web, "--template", fixture, "--addr", "127.0.0.1:0", "--demo-addr", busy.Addr().String()},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		want := "wsgate dev: cannot listen on " + busy.Addr().String() + ": address already in use\n"
		if code != 1 || stderr.String() != want {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

func TestPageHandlerServesConfig(t *testing.T) {
	web := t.TempDir()
	os.WriteFile(filepath.Join(web, "index.html"), []byte("<html>demo</html>"), 0o600)
	srv := httptest.NewServer(pageHandler(web, "ws://127.0.0.1:1234/prod"))
	defer srv.Close()
	for path, want := range map[string]string{"/config.json": `{"websocketUrl":"ws://127.0.0.1:1234/prod"}`, "/": "<html>demo</html>"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("%s: %q", path, body)
		}
	}
}

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindModuleIsTheWorkingDirectorysModule(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.mod":           "// the user's app\nmodule \"example.com/counter\" // quoted, as go mod edit may write it\n\ngo 1.26\n",
		"cmd/counter/x.go": "package main\n",
	})
	m, err := findModule(filepath.Join(root, "cmd", "counter"))
	if err != nil || m.root != root || m.path != "example.com/counter" || m.isWsgate() {
		t.Fatalf("findModule = %+v, %v; want %s, example.com/counter", m, err, root)
	}
	wd, _ := os.Getwd()
	here, err := findModule(wd)
	if err != nil || !here.isWsgate() {
		t.Fatalf("this repository: %+v, %v", here, err)
	}
	if _, err := findModule(string(filepath.Separator)); err == nil || err.Error() != "no go.mod at or above /: run wsgate dev inside your Go module" {
		t.Fatalf("no module: %v", err)
	}
}

func TestServerPackageDefaultsToTheDemoOnlyInThisRepository(t *testing.T) {
	var o devOptions
	dir, pkg, err := o.serverToBuild("/work/app/sub", goModule{root: "/work/app", path: "example.com/counter"})
	var ue usageError
	if !errors.As(err, &ue) || err.Error() != "name your server's main package, such as --server-package ./cmd/counter (only inside the wsgate repository does it default to the demo server)" {
		t.Fatalf("outside the repository without --server-package: %q %q %v", dir, pkg, err)
	}
	dir, pkg, err = o.serverToBuild("/src/wsgate/docs", goModule{root: "/src/wsgate", path: wsgateModule})
	if err != nil || dir != "/src/wsgate" || pkg != "github.com/wsgate/wsgate/server/cmd/wsgate-server" {
		t.Fatalf("inside the repository: %q %q %v", dir, pkg, err)
	}
	o.serverPackage = "./cmd/counter"
	dir, pkg, err = o.serverToBuild("/work/app", goModule{root: "/work/app", path: "example.com/counter"})
	if err != nil || dir != "/work/app" || pkg != "./cmd/counter" {
		t.Fatalf("--server-package: %q %q %v", dir, pkg, err)
	}
}

func TestPageIsServedOnlyWhenBuilt(t *testing.T) {
	repo := goModule{root: t.TempDir(), path: wsgateModule}
	var stderr bytes.Buffer
	var o devOptions
	if dir := o.pageDir(repo, &stderr); dir != "" {
		t.Fatalf("unbuilt demo page served from %s", dir)
	}
	want := "==> no page served: " + filepath.Join(repo.root, webDistDir) + " has no index.html; scripts/build-web.sh builds the demo page\n"
	if stderr.String() != want {
		t.Fatalf("stderr %q, want %q", stderr.String(), want)
	}
	writeFiles(t, repo.root, map[string]string{webDistDir + "/index.html": "<html></html>"})
	stderr.Reset()
	o = devOptions{}
	if dir := o.pageDir(repo, &stderr); dir != filepath.Join(repo.root, webDistDir) || stderr.Len() != 0 {
		t.Fatalf("built demo page: %q, stderr %q", dir, stderr.String())
	}
	stderr.Reset()
	o = devOptions{}
	if dir := o.pageDir(goModule{root: t.TempDir(), path: "example.com/counter"}, &stderr); dir != "" ||
		stderr.String() != "==> no page to serve (--web DIR serves a built one, with a config.json holding the websocket URL)\n" {
		t.Fatalf("outside the repository: %q, stderr %q", dir, stderr.String())
	}
}

// websocketTemplate is a template with a WebSocket API, and restTemplate
// one without.
const (
	websocketTemplate = `{"Resources":{"Api":{"Type":"AWS::ApiGatewayV2::Api","Properties":{"ProtocolType":"WEBSOCKET"}}}}`
	restTemplate      = `{"Resources":{"Api":{"Type":"AWS::ApiGatewayV2::Api","Properties":{"ProtocolType":"HTTP"}}}}`
)

// fakeApp is a CDK app as the CDK CLI sees one: a command that writes a
// cloud assembly to $CDK_OUTDIR. It also records the context it was given.
const fakeApp = `#!/bin/sh
set -e
mkdir -p "$CDK_OUTDIR"
printf '%s' "$CDK_CONTEXT_JSON" > context.json
cat > "$CDK_OUTDIR/manifest.json" <<'EOF'
{"version":"48.0.0","artifacts":{
 "Tree":{"type":"cdk:tree","properties":{"file":"tree.json"}},
 "DataStack":{"type":"aws:cloudformation:stack","properties":{"templateFile":"DataStack.template.json"}},
 "CounterStack":{"type":"aws:cloudformation:stack","properties":{"templateFile":"CounterStack.template.json"}}}}
EOF
echo '` + restTemplate + `' > "$CDK_OUTDIR/DataStack.template.json"
echo '` + websocketTemplate + `' > "$CDK_OUTDIR/CounterStack.template.json"
`

func TestSynthRunsTheAppOfCDKJSONWithItsContext(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.mod":           "module example.com/counter\n\ngo 1.26\n",
		"cdk.json":         `{"app": "./synth.sh", "output": "out", "context": {"@aws-cdk/core:flag": true, "kept": "from cdk.json"}}`,
		"cdk.context.json": `{"kept": "from cdk.context.json", "saved": 1}`,
		"synth.sh":         fakeApp,
		"cmd/counter/x.go": "package main\n",
	})
	mod := goModule{root: root, path: "example.com/counter"}
	app, err := findCDKApp(filepath.Join(root, "cmd", "counter"), mod)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	template, err := app.synth(context.Background(), "", t.TempDir(), &progress)
	if err != nil {
		t.Fatalf("synth: %v\n%s", err, progress.String())
	}
	if want := filepath.Join(root, "out", "CounterStack.template.json"); template != want {
		t.Errorf("template %s, want %s (the stack with the WebSocket API)", template, want)
	}
	var got map[string]any
	data, _ := os.ReadFile(filepath.Join(root, "context.json"))
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("CDK_CONTEXT_JSON %q: %v", data, err)
	}
	want := map[string]any{"@aws-cdk/core:flag": true, "kept": "from cdk.context.json", "saved": float64(1)}
	if !jsonEqual(got, want) {
		t.Errorf("CDK_CONTEXT_JSON = %v, want %v", got, want)
	}
	if !strings.HasPrefix(progress.String(), "==> synthesizing the CDK app (./synth.sh with CDK_OUTDIR="+filepath.Join(root, "out")+";") {
		t.Errorf("progress %q", progress.String())
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestFindStackTemplateChoosesTheWebSocketStack(t *testing.T) {
	out := t.TempDir()
	manifest := `{"artifacts":{
		"A":{"type":"aws:cloudformation:stack","properties":{"templateFile":"A.template.json"}},
		"B":{"type":"aws:cloudformation:stack","properties":{"templateFile":"B.template.json"}},
		"C":{"type":"aws:cloudformation:stack","properties":{"templateFile":"C.template.json"}}}}`
	writeFiles(t, out, map[string]string{
		"manifest.json": manifest, "A.template.json": websocketTemplate, "B.template.json": restTemplate, "C.template.json": websocketTemplate,
	})
	if _, err := findStackTemplate(out, ""); err == nil || err.Error() != "stacks A, C each define a WebSocket API: choose one with --stack NAME" {
		t.Errorf("two WebSocket stacks: %v", err)
	}
	if p, err := findStackTemplate(out, "C"); err != nil || p != filepath.Join(out, "C.template.json") {
		t.Errorf("--stack C: %s, %v", p, err)
	}
	if _, err := findStackTemplate(out, "D"); err == nil || err.Error() != "--stack D: the app has no such stack (its stacks: A, B, C)" {
		t.Errorf("--stack D: %v", err)
	}
	writeFiles(t, out, map[string]string{"A.template.json": restTemplate, "C.template.json": restTemplate})
	if _, err := findStackTemplate(out, ""); err == nil || err.Error() != "no stack of the app defines a WebSocket API (AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET); its stacks: A, B, C" {
		t.Errorf("no WebSocket stack: %v", err)
	}
}

func TestNoCDKJSONSaysWhatToDo(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"go.mod": "module example.com/counter\n", "cmd/counter/x.go": "package main\n"})
	cwd := filepath.Join(root, "cmd")
	_, err := findCDKApp(cwd, goModule{root: root, path: "example.com/counter"})
	want := "no cdk.json between " + cwd + " and the module root " + root + `: add one whose "app" runs your CDK app (such as {"app": "go run ./cdk"}), or pass --template FILE`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestSynthFailureIsOneLine(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"go.mod":   "module example.com/counter\n\ngo 1.26\n",
		"cdk.json": `{"app": "go run ."}`,
		"main.go":  "package main\n\nfunc main() { undefinedCall() }\n",
	})
	app, err := findCDKApp(root, goModule{root: root, path: "example.com/counter"})
	if err != nil {
		t.Fatal(err)
	}
	logs := t.TempDir()
	var progress bytes.Buffer
	_, err = app.synth(context.Background(), "", logs, &progress)
	want := "synth failed: ./main.go:3:15: undefined: undefinedCall (full output in " + filepath.Join(logs, "synth.log") + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

func TestHelpExitsZeroWithExamples(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"dev", "-h"}, {"gateway", "-h"}, {"bench", "-h"}, {"dev", "--addr", "127.0.0.1:0", "--help"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		out := stdout.String()
		if code != 0 || stderr.Len() != 0 || !strings.HasPrefix(out, "usage: wsgate ") || !strings.Contains(out, "\nExamples:\n  wsgate ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"dev", "-h"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "wsgate dev --server-package ./cmd/counter\n") || !strings.Contains(stdout.String(), "  -server-package string\n") {
		t.Errorf("dev -h: %d %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run(context.Background(), nil, &stdout, &stderr); code != 2 || stdout.Len() != 0 || !strings.HasPrefix(stderr.String(), "usage: wsgate <command>") {
		t.Errorf("no command: exit %d, stderr %q", code, stderr.String())
	}
}

func TestDevBadFlagIsOneLine(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"dev", "--no-such-flag"}, &stdout, &stderr)
	if code != 1 || stderr.String() != "wsgate dev: flag provided but not defined: -no-such-flag\n" {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
