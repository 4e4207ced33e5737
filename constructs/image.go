package constructs

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"unicode"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/jsii-runtime-go"
)

// ModulePath is the Go module path of this library.
const ModulePath = "github.com/wsgate/wsgate"

// DemoServerPackage is the main package of this repository's demo server
// (the examples' view models), relative to the module root. It is what a
// RealtimeService runs when neither Image nor ServerPackage is given.
const DemoServerPackage = "./server/cmd/wsgate-server"

// ServerDockerfile is the name of the generated Dockerfile in the server
// image's build context, next to the copy of the module.
const ServerDockerfile = "wsgate.Dockerfile"

// BuildArgServerPackage is the build argument that names the main package
// the Dockerfile builds.
const BuildArgServerPackage = "SERVER_PACKAGE"

// dockerfile is the server image's Dockerfile, one text for the demo server
// and for users' packages. It is compiled in, so it is there also when the
// library is a read-only copy in the Go module cache.
//
//go:embed Dockerfile
var dockerfile []byte

// serverSource is what the server image is built from.
type serverSource struct {
	// dir is the root of the Go module that holds pkg.
	dir string
	// pkg is the main package, relative to dir, starting with "./".
	pkg string
	// demo is set when neither Image nor ServerPackage was given.
	demo bool
}

// serverImage builds the server image from a staged build context, for
// ARM64 (the Dockerfile cross-compiles, so no emulation is needed). The
// context's own .dockerignore, if it has one, narrows it further.
func serverImage(context, pkg string) awsecs.ContainerImage {
	return awsecs.ContainerImage_FromAsset(jsii.String(context), &awsecs.AssetImageProps{
		File:       jsii.String(ServerDockerfile),
		Platform:   awsecrassets.Platform_LINUX_ARM64(),
		BuildArgs:  &map[string]*string{BuildArgServerPackage: jsii.String(pkg)},
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})
}

// demoSourceError reports why dir cannot build the demo server.
func demoSourceError(dir string) error {
	pkg := filepath.Join(dir, filepath.FromSlash(DemoServerPackage))
	if _, err := os.Stat(pkg); err != nil {
		return fmt.Errorf("no %s in %s: %w", DemoServerPackage, dir, err)
	}
	return nil
}

// LibrarySourceDir returns the root directory of this module's source, the
// build context of the demo server. It works when the library is this
// repository's own code, a `replace` target, or a read-only copy in the Go
// module cache, also in binaries built with -trimpath. In that order it
// tries the source path compiled into this package, then the module the
// build information names (the main module found from the working
// directory, a replace directory, or the module cache).
func LibrarySourceDir() (string, error) {
	_, file, _, _ := runtime.Caller(0)
	info, _ := debug.ReadBuildInfo()
	cwd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("wsgate: locating the server source: %w", err)
	}
	return findSourceDir(file, info, cwd, goModCache)
}

// findSourceDir is LibrarySourceDir with its inputs passed in, for tests.
func findSourceDir(callerFile string, info *debug.BuildInfo, cwd string, modCache func() (string, error)) (string, error) {
	var tried []string
	try := func(dir, how string) bool {
		if err := demoSourceError(dir); err != nil {
			tried = append(tried, how+": "+err.Error())
			return false
		}
		return true
	}
	if filepath.IsAbs(callerFile) {
		dir := filepath.Dir(filepath.Dir(callerFile))
		if try(dir, "compiled source path") {
			return dir, nil
		}
	} else {
		tried = append(tried, fmt.Sprintf("compiled source path: %q is not absolute (built with -trimpath)", callerFile))
	}
	if dir, how, err := moduleDirFromBuildInfo(info, cwd, modCache); err != nil {
		tried = append(tried, "build information: "+err.Error())
	} else if try(dir, how) {
		return dir, nil
	}
	return "", fmt.Errorf("wsgate: cannot find the demo server's source (%s of %s), tried:\n  - %s\nfix: set RealtimeServiceProps.ServerPackage to your own main package, or Image to a prebuilt image",
		DemoServerPackage, ModulePath, strings.Join(tried, "\n  - "))
}

// moduleDirFromBuildInfo finds this module's directory from the binary's
// build information.
func moduleDirFromBuildInfo(info *debug.BuildInfo, cwd string, modCache func() (string, error)) (dir, how string, err error) {
	if info == nil {
		return "", "", errors.New("not available in this binary")
	}
	if info.Main.Path == ModulePath {
		root, err := findModuleRoot(cwd, ModulePath)
		return root, "main module from the working directory", err
	}
	for _, dep := range info.Deps {
		if dep.Path != ModulePath {
			continue
		}
		if r := dep.Replace; r != nil {
			// A directory replacement (recorded with version "(devel)"),
			// relative to the main module's directory.
			if r.Version == "" || r.Version == "(devel)" {
				if filepath.IsAbs(r.Path) {
					return r.Path, "replace directory", nil
				}
				root, err := findModuleRoot(cwd, info.Main.Path)
				if err != nil {
					return "", "", fmt.Errorf("replace %s => %s: %w", ModulePath, r.Path, err)
				}
				return filepath.Join(root, r.Path), "replace directory", nil
			}
			dep = r
		}
		cache, err := modCache()
		if err != nil {
			return "", "", err
		}
		return filepath.Join(cache, escapeModulePath(dep.Path)+"@"+dep.Version), "module cache", nil
	}
	return "", "", fmt.Errorf("%s is neither the main module nor a dependency", ModulePath)
}

// findModuleRoot walks up from dir to the go.mod declaring module modPath.
func findModuleRoot(dir, modPath string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declaresModule(string(data), modPath) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod for module %s in %s or its parents", modPath, dir)
		}
	}
}

// findEnclosingModule walks up from dir to the nearest go.mod, as the go
// command finds the main module.
func findEnclosingModule(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if info, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && info.Mode().IsRegular() {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or its parents", dir)
		}
	}
}

// declaresModule reports whether a go.mod text declares module modPath.
func declaresModule(gomod, modPath string) bool {
	for _, line := range strings.Split(gomod, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modPath {
			return true
		}
	}
	return false
}

// goModCache is the module cache directory: $GOMODCACHE, else `go env`.
func goModCache() (string, error) {
	if d := os.Getenv("GOMODCACHE"); d != "" {
		return d, nil
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("running `go env GOMODCACHE`: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return filepath.FromSlash(b.String())
}

// DemoServerWarning is the id of the synth warning a RealtimeService adds
// when it falls back to the demo server; acknowledge it with
// awscdk.Annotations_Of(service).AcknowledgeWarning when that is intended.
const DemoServerWarning = "@wsgate/constructs:demoServer"

// buildImage stages the build context of source in the cloud assembly and
// returns the image asset built from it.
func (r *RealtimeService) buildImage(source serverSource) awsecs.ContainerImage {
	if source.demo {
		awscdk.Annotations_Of(r).AddWarningV2(jsii.String(DemoServerWarning), jsii.String(
			"no Image or ServerPackage given, so this service runs wsgate's demo server (the example view models, "+
				DemoServerPackage+" of "+ModulePath+"); set ServerPackage to your own main package, such as \"./cmd/counter\", or Image to a prebuilt image"))
	}
	outdir, err := filepath.Abs(*awscdk.Stage_Of(r).Outdir())
	if err == nil {
		dst := filepath.Join(outdir, "wsgate-server."+*r.Node().Addr())
		if err = stageContext(source, dst, outdir); err == nil {
			return serverImage(dst, source.pkg)
		}
	}
	panic(fmt.Errorf("wsgate: %s: staging the server image's build context: %w", *r.Node().Path(), err))
}
