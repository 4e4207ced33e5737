// Package reuse checks that another CDK app can import the construct
// library from a read-only copy (as the Go module cache holds it) and get
// the server image built: the demo server from the library's own source by
// default, or the app's own main package (ServerPackage), whose module
// requires the library through a replace to that read-only copy.
package reuse

import (
	"debug/elf"
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
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	props := &wsgate.RealtimeServiceProps{}
	if pkg := os.Getenv("REUSE_SERVER_PACKAGE"); pkg != "" {
		props.ServerPackage = jsii.String(pkg)
	}
	wsgate.NewRealtimeStack(app, jsii.String("ReuseStack"), &wsgate.RealtimeStackProps{Service: props})
	app.Synth(nil)
}
`

// counterMain is the app's own server: one view model and server.Main.
const counterMain = `package main

import (
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/vm"
)

type Counter struct {
	vm.Base
	Count int
}

func NewCounter(*vm.Request) (*Counter, error) { return &Counter{}, nil }

func (c *Counter) Increment() { c.Count++ }

func main() {
	reg := vm.NewRegistry()
	vm.MustRegister(reg, "CounterVM", NewCounter, vm.Commands("Increment"))
	server.Main(reg)
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
	for name, data := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sums, "main.go": []byte(appMain), "cmd/counter/main.go": []byte(counterMain)} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(app, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(app, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// libraryAndApp writes a read-only copy of the library and an app that
// requires it through a relative replace, as users write it (the library
// must resolve its directory from the build, not from the working
// directory). It returns the temporary base directory and the app's.
func libraryAndApp(t *testing.T) (base, app string) {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	base = t.TempDir()
	lib, app := filepath.Join(base, "lib"), filepath.Join(base, "app")
	for _, p := range libraryPaths {
		copyTree(t, filepath.Join(root, p), filepath.Join(lib, p))
	}
	makeReadOnly(t, lib)
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	writeApp(t, root, app, "../lib")
	return base, app
}

// synth builds the app with flags and runs it in its directory with env,
// writing the cloud assembly to out.
func synth(t *testing.T, app, bin, out string, flags, env []string) {
	t.Helper()
	build := exec.Command("go", append(append([]string{"build"}, flags...), "-o", bin, ".")...)
	build.Dir = app
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := exec.Command(bin)
	run.Dir = app
	run.Env = append(append(os.Environ(), "CDK_OUTDIR="+out, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1"), env...)
	if b, err := run.CombinedOutput(); err != nil {
		t.Fatalf("synth: %v\n%s", err, b)
	}
}

// TestAppOutsideTheRepositoryBuildsTheDefaultImage builds a consumer app
// without ServerPackage the usual way (the library finds its source from
// the compiled path) and with -trimpath (it finds it from the build
// information): the image is the demo server, built from the library.
func TestAppOutsideTheRepositoryBuildsTheDefaultImage(t *testing.T) {
	base, app := libraryAndApp(t)
	for name, flags := range map[string][]string{"default": nil, "trimpath": {"-trimpath"}} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(base, "cdk.out-"+name)
			synth(t, app, filepath.Join(base, "app-"+name), out, flags, nil)
			dir := checkImageAsset(t, out, "./server/cmd/wsgate-server")
			for _, want := range []string{"go.mod", "go.sum", "server/cmd/wsgate-server/main.go", "examples/viewmodels"} {
				if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
					t.Errorf("asset lacks %s: %v", want, err)
				}
			}
			// The library's .dockerignore keeps the rest of it out.
			for _, unwanted := range []string{"constructs", "node_modules", "cdk.out", "test", "examples/web", ".git", "internal/stacktemplate", "server/cmd/wsgate-server/main_test.go"} {
				if _, err := os.Stat(filepath.Join(dir, unwanted)); err == nil {
					t.Errorf("asset holds %s", unwanted)
				}
			}
		})
	}
}

// TestAppOutsideTheRepositoryBuildsItsOwnPackage synthesizes the app with
// ServerPackage "./cmd/counter" (SourceDir left out: the module of the
// working directory), checks the asset is the app's module with the
// read-only library copied in, and runs the Dockerfile's build there.
func TestAppOutsideTheRepositoryBuildsItsOwnPackage(t *testing.T) {
	base, app := libraryAndApp(t)
	out := filepath.Join(base, "cdk.out")
	synth(t, app, filepath.Join(base, "app"+".bin"), out, nil, []string{"REUSE_SERVER_PACKAGE=./cmd/counter"})
	dir := checkImageAsset(t, out, "./cmd/counter")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(gomod), "module example.com/reuseapp\n") ||
		!strings.Contains(string(gomod), "\nreplace github.com/wsgate/wsgate => ./_wsgate/replace/0\n") {
		t.Errorf("staged go.mod:\n%s", gomod)
	}
	for _, want := range []string{"go.sum", "main.go", "cmd/counter/main.go", "_wsgate/replace/0/go.mod", "_wsgate/replace/0/server/main.go"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("asset lacks %s: %v", want, err)
		}
	}

	bin := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(dockerfileBuildCommand(t, filepath.Join(dir, "wsgate.Dockerfile")), "/out/", bin+"/"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH=arm64", "SERVER_PACKAGE=./cmd/counter", "GOPROXY=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the image's go build: %v\n%s", err, b)
	}
	f, err := elf.Open(filepath.Join(bin, "wsgate-server"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine = %v, want arm64", f.Machine)
	}
}

// dockerfileBuildCommand returns the shell command of the Dockerfile's RUN
// instruction that runs `go build`, without its --mount options.
func dockerfileBuildCommand(t *testing.T, dockerfile string) string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "RUN" || !strings.Contains(line, "go build") {
			continue
		}
		fields = fields[1:]
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		return strings.Join(fields, " ")
	}
	t.Fatalf("%s has no RUN … go build instruction", dockerfile)
	return ""
}

// checkImageAsset checks the synthesized server image asset, an ARM64
// build of the library's Dockerfile for pkg, and returns its staged
// directory.
func checkImageAsset(t *testing.T, out, pkg string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "ReuseStack.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory  string            `json:"directory"`
				DockerFile string            `json:"dockerFile"`
				Platform   string            `json:"platform"`
				BuildArgs  map[string]string `json:"dockerBuildArgs"`
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
		src := img.Source
		if src.DockerFile != "wsgate.Dockerfile" || src.Platform != "linux/arm64" || len(src.BuildArgs) != 1 || src.BuildArgs["SERVER_PACKAGE"] != pkg {
			t.Errorf("image source = %+v", src)
		}
		dir := filepath.Join(out, src.Directory)
		if _, err := os.Stat(filepath.Join(dir, "wsgate.Dockerfile")); err != nil {
			t.Errorf("asset lacks the Dockerfile: %v", err)
		}
		return dir
	}
	return ""
}
