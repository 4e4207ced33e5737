// Package reuse checks that another CDK app can import the construct
// library from a read-only copy (as the Go module cache holds it) and still
// get the server image built from the library's own source.
package reuse

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// libraryPaths are what the module copy holds: the library, the server
// image's build context, and the module files.
var libraryPaths = []string{"go.mod", "go.sum", ".dockerignore", "constructs", "contract", "internal", "server", "examples/viewmodels"}

const appMain = `package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	wsgate.NewRealtimeStack(app, jsii.String("ReuseStack"), nil)
	app.Synth(nil)
}
`

// copyTree copies the file or directory src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

// makeReadOnly gives dir the module cache's modes (files 0444, dirs 0555)
// and restores them at cleanup so the temporary directory can be removed.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return os.Chmod(p, 0o444)
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Chmod(dirs[i], 0o555)
	}
	t.Cleanup(func() {
		for _, d := range dirs {
			_ = os.Chmod(d, 0o755)
		}
	})
}

// writeApp writes a consumer app that requires the library through a
// replace to lib, with the library's own requirements and sums.
func writeApp(t *testing.T, root, app, lib string) {
	t.Helper()
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(gomod)
	requires := text[strings.Index(text, "require"):]
	mod := "module example.com/reuseapp\n\ngo 1.26.0\n\nrequire github.com/wsgate/wsgate v0.0.0\n\n" + requires +
		"\nreplace github.com/wsgate/wsgate => " + lib + "\n"
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sums, "main.go": []byte(appMain)} {
		if err := os.WriteFile(filepath.Join(app, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAppOutsideTheRepositoryBuildsTheDefaultImage builds a consumer app
// the usual way (the library finds its source from the compiled path) and
// with -trimpath (it finds it from the build information).
func TestAppOutsideTheRepositoryBuildsTheDefaultImage(t *testing.T) {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	base := t.TempDir()
	lib, app := filepath.Join(base, "lib"), filepath.Join(base, "app")
	for _, p := range libraryPaths {
		copyTree(t, filepath.Join(root, p), filepath.Join(lib, p))
	}
	makeReadOnly(t, lib)
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	// A relative replace, as users write it; the library must resolve its
	// directory from the build, not from the working directory.
	writeApp(t, root, app, "../lib")

	for name, flags := range map[string][]string{"default": nil, "trimpath": {"-trimpath"}} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(base, "app-"+name)
			build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...)
			build.Dir = app
			build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			out := filepath.Join(base, "cdk.out-"+name)
			run := exec.Command(bin)
			run.Dir = app
			run.Env = append(os.Environ(), "CDK_OUTDIR="+out, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
			if b, err := run.CombinedOutput(); err != nil {
				t.Fatalf("synth: %v\n%s", err, b)
			}
			checkImageAsset(t, out)
		})
	}
}

// checkImageAsset checks the synthesized server image asset: an ARM64
// build of server/Dockerfile whose staged directory holds the Dockerfile,
// the server source and the module files, and nothing else of the module.
func checkImageAsset(t *testing.T, out string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "ReuseStack.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory  string `json:"directory"`
				DockerFile string `json:"dockerFile"`
				Platform   string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.DockerImages) != 1 {
		t.Fatalf("want one image asset, got %d", len(manifest.DockerImages))
	}
	for _, img := range manifest.DockerImages {
		if img.Source.DockerFile != "server/Dockerfile" || img.Source.Platform != "linux/arm64" {
			t.Errorf("image source = %+v", img.Source)
		}
		dir := filepath.Join(out, img.Source.Directory)
		for _, want := range []string{"server/Dockerfile", "go.mod", "go.sum", "server/cmd/wsgate-server/main.go", "examples/viewmodels"} {
			if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
				t.Errorf("asset lacks %s: %v", want, err)
			}
		}
		for _, unwanted := range []string{"constructs", "node_modules", "cdk.out", "test", "examples/web", ".git", "server/cmd/wsgate-server/main_test.go"} {
			if _, err := os.Stat(filepath.Join(dir, unwanted)); err == nil {
				t.Errorf("asset holds %s", unwanted)
			}
		}
	}
}
