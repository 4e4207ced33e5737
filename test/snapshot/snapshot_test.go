// Package snapshot tests the template of the stack `cdk deploy` creates:
// a golden copy that fails on any drift, the real cdk CLI producing the
// same template, and fine-grained assertions for each requirement.
package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
	"github.com/wsgate/wsgate/internal/stacktemplate"
)

var update = flag.Bool("update", false, "rewrite "+golden+" from the current code")

// golden is the one copy of the synthesized template: package
// internal/stacktemplate embeds it for the local gateway's tests, the
// benchmarks and the CLI's tests.
const golden = "../../internal/stacktemplate/" + stacktemplate.FileName

// moduleRoot is the repository root, two levels up.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// cdkContext returns the feature flags of cdk.json, so the stack synthesized
// here matches the one the CLI synthesizes.
func cdkContext(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(t), "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("cdk.json: %v", err)
	}
	return cfg.Context
}

var (
	stackOnce sync.Once
	stackTpl  assertions.Template
	stackJSON map[string]any
)

// wsgateStack synthesizes the WsgateStack as app.go does, once per test
// binary.
func wsgateStack(t *testing.T) (assertions.Template, map[string]any) {
	t.Helper()
	stackOnce.Do(func() {
		ctx := cdkContext(t)
		out, err := os.MkdirTemp("", "wsgate-snapshot-")
		if err != nil {
			t.Fatal(err)
		}
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out), Context: &ctx})
		s := wsgate.NewRealtimeStack(app, jsii.String(wsgate.StackName), &wsgate.RealtimeStackProps{
			Service: &wsgate.RealtimeServiceProps{
				ApiOptions:    wsgate.ApiOptions{ConfigureAccountCloudWatchRole: jsii.Bool(true)},
				ServerPackage: jsii.String(wsgate.DemoServerPackage),
			},
		})
		stackTpl = assertions.Template_FromStack(s, nil)
		stackJSON = *stackTpl.ToJSON()
	})
	if stackTpl == nil {
		t.Fatal("the stack did not synthesize")
	}
	return stackTpl, stackJSON
}

var assetHash = regexp.MustCompile(`[0-9a-f]{64}`)

// normalize removes what differs between synth runs and environments: the
// CDK's own metadata, bootstrap checks, the CLI's "aws:" metadata, and asset
// hashes (they change with any source file of the server image).
func normalize(t *testing.T, tpl map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(tpl)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	_ = json.Unmarshal(assetHash.ReplaceAll(b, []byte("<asset-hash>")), &c)
	delete(c, "Parameters")
	delete(c, "Rules")
	delete(c, "Conditions")
	res := c["Resources"].(map[string]any)
	delete(res, "CDKMetadata")
	for _, r := range res {
		r := r.(map[string]any)
		if md, ok := r["Metadata"].(map[string]any); ok {
			for k := range md {
				if strings.HasPrefix(k, "aws:") { // construct paths and asset locations
					delete(md, k)
				}
			}
			if len(md) == 0 {
				delete(r, "Metadata")
			}
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestGoldenTemplate(t *testing.T) {
	_, tpl := wsgateStack(t)
	got := normalize(t, tpl)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run `go test ./test/snapshot -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the template drifted from %s:\n%s\nIf the change is intended, run `go test ./test/snapshot -update` and review the diff.", golden, firstDiff(want, got))
	}
}

// firstDiff shows the first differing line with some context.
func firstDiff(want, got []byte) string {
	w, g := bytes.Split(want, []byte("\n")), bytes.Split(got, []byte("\n"))
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl []byte
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if !bytes.Equal(wl, gl) {
			return "line " + itoa(i+1) + ":\n  want: " + string(wl) + "\n  got:  " + string(gl)
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// cleanCheckout copies the files git tracks or would track (no cdk.out,
// node_modules, bin or other ignored output) into a temporary directory.
func cleanCheckout(t *testing.T, root string) string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := t.TempDir()
	for _, name := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) { // deleted in the working tree
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestCdkCliSynth runs the real aws-cdk CLI from the project's npm packages
// on a clean copy of the repository and checks it writes the template of
// the golden copy to cdk.out/WsgateStack.template.json.
func TestCdkCliSynth(t *testing.T) {
	root := moduleRoot(t)
	cli := filepath.Join(root, "node_modules", ".bin", "cdk")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("the aws-cdk CLI is not installed (run `npm ci` at the module root): %v", err)
	}
	checkout := cleanCheckout(t, root)
	cmd := exec.Command(cli, "synth", "--quiet")
	cmd.Dir = checkout
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1", "CDK_DISABLE_VERSION_CHECK=1", "CDK_CLI_NOTICES=false")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cdk synth: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(checkout, "cdk.out", wsgate.StackName+".template.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := normalize(t, tpl); !bytes.Equal(got, want) {
		t.Fatalf("cdk synth's template differs from %s:\n%s", golden, firstDiff(want, got))
	}
}
