package constructs_test

import (
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// counterMain is a user's server main package. It imports a package of
// the replaced library module, so building it proves the staged go.mod
// points at a staged copy of that module.
const counterMain = `package main

import "example.com/lib/greet"

func main() { println(greet.Hello()) }
`

// libraryDockerfile is constructs/Dockerfile, read before any test changes
// the working directory.
var libraryDockerfile, _ = os.ReadFile("Dockerfile")

// userModule writes a user's module at dir/app with a main package at
// cmd/counter, things the build context must leave out, and a replace of
// example.com/lib to dir/lib, written read-only as the module cache holds
// its files. It returns the module root.
func userModule(t *testing.T, dir string) string {
	t.Helper()
	app, lib := filepath.Join(dir, "app"), filepath.Join(dir, "lib")
	for name, text := range map[string]string{
		"go.mod":                      "module example.com/counter\n\ngo 1.26\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ../lib\n",
		"go.work":                     "go 1.26\n\nuse .\n",
		"cmd/counter/main.go":         counterMain,
		"cmd/counter/main_test.go":    "package main\n",
		"cmd/counter/testdata/x.json": "{}",
		"node_modules/x/index.js":     "",
		".git/HEAD":                   "ref: refs/heads/main\n",
		"cdk.out/manifest.json":       "{}",
		"bin/counter":                 "binary",
		"tools/go.mod":                "module example.com/counter/tools\n",
		"tools/tools.go":              "package tools\n",
		"internal/bin/bin.go":         "package bin\n",
	} {
		writeFile(t, filepath.Join(app, filepath.FromSlash(name)), []byte(text))
	}
	writeFile(t, filepath.Join(lib, "go.mod"), []byte("module example.com/lib\n\ngo 1.26\n"))
	writeFile(t, filepath.Join(lib, "greet", "greet.go"), []byte("package greet\n\nfunc Hello() string { return \"hello\" }\n"))
	readOnly(t, lib)
	return app
}

// readOnly gives dir the module cache's modes (files 0444, directories
// 0555) until the test ends.
func readOnly(t *testing.T, dir string) {
	t.Helper()
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
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

// TestServerPackageStagesTheUsersModule synthesizes a RealtimeService for
// a user's own main package and checks the image asset: the user's module
// with the generated Dockerfile, building their package, with the replaced
// read-only module copied in; then runs the Dockerfile's build there.
func TestServerPackageStagesTheUsersModule(t *testing.T) {
	app := userModule(t, t.TempDir())
	asset := synthImage(t, &wsgate.RealtimeServiceProps{SourceDir: jsii.String(app), ServerPackage: jsii.String("./cmd/counter")})
	checkUserAsset(t, asset)

	out := t.TempDir()
	runBuildCommand(t, asset.Dir, dockerfileBuildCommand(t, filepath.Join(asset.Dir, wsgate.ServerDockerfile)), "arm64", out, asset.BuildArgs)
	f, err := elf.Open(filepath.Join(out, "wsgate-server"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("machine = %v, want arm64", f.Machine)
	}
}

// checkUserAsset checks the image asset of userModule's ./cmd/counter.
func checkUserAsset(t *testing.T, asset imageAsset) {
	t.Helper()
	if asset.DockerFile != wsgate.ServerDockerfile || asset.Platform != "linux/arm64" ||
		len(asset.BuildArgs) != 1 || asset.BuildArgs["SERVER_PACKAGE"] != "./cmd/counter" {
		t.Errorf("image asset = %+v", asset)
	}
	dockerfile, err := os.ReadFile(filepath.Join(asset.Dir, wsgate.ServerDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if len(libraryDockerfile) == 0 || string(dockerfile) != string(libraryDockerfile) {
		t.Errorf("the staged %s is not the library's Dockerfile", wsgate.ServerDockerfile)
	}
	gomod, err := os.ReadFile(filepath.Join(asset.Dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(gomod), "module example.com/counter\n") ||
		!strings.Contains(string(gomod), "\nreplace example.com/lib => ./_wsgate/replace/0\n") {
		t.Errorf("staged go.mod:\n%s", gomod)
	}
	for _, want := range []string{"cmd/counter/main.go", "internal/bin/bin.go", "_wsgate/replace/0/go.mod", "_wsgate/replace/0/greet/greet.go"} {
		if _, err := os.Stat(filepath.Join(asset.Dir, want)); err != nil {
			t.Errorf("build context lacks %s: %v", want, err)
		}
	}
	for _, unwanted := range []string{"go.work", "cmd/counter/main_test.go", "cmd/counter/testdata", "node_modules", ".git", "cdk.out", "bin", "tools"} {
		if _, err := os.Stat(filepath.Join(asset.Dir, unwanted)); err == nil {
			t.Errorf("build context holds %s", unwanted)
		}
	}
}

// TestServerPackageDefaultsToTheWorkingDirectorysModule leaves SourceDir
// out: the module is the one holding the working directory.
func TestServerPackageDefaultsToTheWorkingDirectorysModule(t *testing.T) {
	app := userModule(t, t.TempDir())
	t.Chdir(filepath.Join(app, "cmd"))
	checkUserAsset(t, synthImage(t, &wsgate.RealtimeServiceProps{ServerPackage: jsii.String("./cmd/counter")}))
}

// TestDemoServerByDefaultWarns checks the default without Image or
// ServerPackage: the demo server, with a warning naming the fix.
func TestDemoServerByDefaultWarns(t *testing.T) {
	const warning = `no Image or ServerPackage given, so this service runs wsgate's demo server (the example view models, ./server/cmd/wsgate-server of github.com/wsgate/wsgate); set ServerPackage to your own main package, such as "./cmd/counter", or Image to a prebuilt image`
	for name, props := range map[string]*wsgate.RealtimeServiceProps{
		"default":        nil,
		"server package": {SourceDir: jsii.String(".."), ServerPackage: jsii.String(wsgate.DemoServerPackage)},
	} {
		t.Run(name, func(t *testing.T) {
			stack := newStack(t)
			wsgate.NewRealtimeService(stack, jsii.String("Realtime"), props)
			var got []string
			for _, w := range *assertions.Annotations_FromStack(stack).FindWarning(jsii.String("*"), assertions.Match_AnyValue()) {
				got = append(got, strings.TrimSuffix(w.Entry.Data.(string), " [ack: "+wsgate.DemoServerWarning+"]"))
			}
			want := []string{}
			if props == nil {
				want = []string{warning}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestServerPackageValidation(t *testing.T) {
	base := t.TempDir()
	app := userModule(t, base)
	writeFile(t, filepath.Join(app, "lib", "lib.go"), []byte("package lib\n"))
	writeFile(t, filepath.Join(app, "empty", "README.md"), []byte("nothing to build\n"))
	broken := filepath.Join(base, "broken")
	writeFile(t, filepath.Join(broken, "go.mod"), []byte("module example.com/broken\n\nreplace example.com/gone => ../gone\n"))
	writeFile(t, filepath.Join(broken, "main.go"), []byte("package main\n\nfunc main() {}\n"))

	const head = "wsgate: invalid RealtimeService props at Test/Realtime (1 problem):\n  - "
	const allowed = `allowed: a main package's directory relative to SourceDir, starting with "./", such as "./cmd/counter"; fix: `
	cases := []struct {
		name, sourceDir, pkg, want string
	}{
		{"absolute", app, "/srv/cmd/counter", `ServerPackage: got "/srv/cmd/counter"; ` + allowed + `write it relative to SourceDir (` + app + `)`},
		{"without ./", app, "cmd/counter", `ServerPackage: got "cmd/counter"; ` + allowed + `write "./cmd/counter"`},
		{"outside the module", app, "./../lib", `ServerPackage: got "./../lib"; ` + allowed + `the package must be inside SourceDir (` + app + `): set SourceDir to the root of the module that holds it`},
		{"no such directory", app, "./cmd/count", `ServerPackage: got "./cmd/count"; ` + allowed + `no directory ` + app + `/cmd/count: correct the path, relative to SourceDir (` + app + `)`},
		{"not package main", app, "./lib", `ServerPackage: got "./lib"; ` + allowed + app + `/lib holds package lib; point ServerPackage at the directory of a package main whose func main calls server.Main`},
		{"no Go files", app, "./empty", `ServerPackage: got "./empty"; ` + allowed + app + `/empty holds no Go files; point ServerPackage at the directory of a package main`},
		{"source dir without go.mod", filepath.Join(app, "cmd"), "./counter", `SourceDir: got "` + app + `/cmd"; allowed: the root directory of a Go module (holding go.mod); fix: point SourceDir at the module root, or leave it unset for the module of the working directory (no go.mod in ` + app + `/cmd)`},
		{"replace without a module", broken, "./", `SourceDir: got "` + broken + `" (module root); allowed: a module whose replace directives point at directories holding a go.mod; fix: go.mod's "replace example.com/gone => ../gone": no go.mod in ` + base + `/gone: correct the directive, or vendor the dependencies (` + "`go mod vendor`" + `)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			props := &wsgate.RealtimeServiceProps{SourceDir: jsii.String(c.sourceDir), ServerPackage: jsii.String(c.pkg)}
			if got := serviceError(t, func(awscdk.Stack) *wsgate.RealtimeServiceProps { return props }); got != head+c.want {
				t.Errorf("error:\n%s\nwant:\n%s", got, head+c.want)
			}
		})
	}
}

func TestServerPackageOutsideAModule(t *testing.T) {
	t.Chdir(t.TempDir())
	cwd, _ := os.Getwd()
	got := serviceError(t, func(awscdk.Stack) *wsgate.RealtimeServiceProps {
		return &wsgate.RealtimeServiceProps{ServerPackage: jsii.String("./cmd/counter")}
	})
	want := "wsgate: invalid RealtimeService props at Test/Realtime (1 problem):\n" +
		`  - ServerPackage: got "./cmd/counter" without SourceDir; allowed: a package of the Go module that holds the working directory; fix: run the CDK app from inside your module, or set SourceDir to its root (no go.mod in ` + cwd + ` or its parents)`
	if got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
}

func TestImageExcludesServerPackage(t *testing.T) {
	got := serviceError(t, func(awscdk.Stack) *wsgate.RealtimeServiceProps {
		return &wsgate.RealtimeServiceProps{
			Image:         awsecs.ContainerImage_FromRegistry(jsii.String("example/wsgate:1"), nil),
			ServerPackage: jsii.String("./cmd/counter"),
		}
	})
	want := "wsgate: invalid RealtimeService props at Test/Realtime (1 problem):\n" +
		`  - Image and ServerPackage: got both (ServerPackage "./cmd/counter"); allowed: one of them; fix: remove ServerPackage to use Image, or remove Image to build ServerPackage`
	if got != want {
		t.Errorf("error:\n%s\nwant:\n%s", got, want)
	}
}

// TestCloudAssemblyInsideTheModuleIsNotCopied puts the cloud assembly
// inside the module, reached through a symbolic link, under a name the
// copy does not skip: the staged context must not hold the assembly (nor
// itself).
func TestCloudAssemblyInsideTheModuleIsNotCopied(t *testing.T) {
	base := t.TempDir()
	app := userModule(t, base)
	link := filepath.Join(base, "link")
	if err := os.Symlink(app, link); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(link, "assembly")
	cdkApp := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	stack := awscdk.NewStack(cdkApp, jsii.String("Test"), nil)
	wsgate.NewRealtimeService(stack, jsii.String("Realtime"), &wsgate.RealtimeServiceProps{SourceDir: jsii.String(app), ServerPackage: jsii.String("./cmd/counter")})
	cdkApp.Synth(nil)
	staged, _ := filepath.Glob(filepath.Join(app, "assembly", "wsgate-server.*"))
	if len(staged) != 1 {
		t.Fatalf("staged contexts = %v, want one", staged)
	}
	if _, err := os.Stat(filepath.Join(staged[0], "assembly")); err == nil {
		t.Errorf("the staged context holds the cloud assembly")
	}
	if _, err := os.Stat(filepath.Join(staged[0], "cmd", "counter", "main.go")); err != nil {
		t.Errorf("the staged context lacks the package: %v", err)
	}
}
