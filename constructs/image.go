package constructs

import (
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

// ModulePath is the Go module path of this library; its root directory is
// the server image's build context.
const ModulePath = "github.com/wsgate/wsgate"

// ServerDockerfile is the server image's Dockerfile, relative to the build
// context (the module root).
const ServerDockerfile = "server/Dockerfile"

// AssetExclude is the server image's build context as docker-ignore
// patterns: everything is left out except what the server binary is built
// from, so the asset stays small and its hash (and with it the image) only
// changes with the server's source. The module root's .dockerignore says
// the same for a plain `docker build`; when the server starts importing
// another directory of the module, add it to both.
var AssetExclude = []string{
	"*",
	"!go.mod",
	"!go.sum",
	"!server",
	"!contract",
	"!internal",
	"!examples/viewmodels",
	"**/*_test.go",
	"**/testdata",
	"**/*.test",
}

// serverImage builds the server image from dir, for ARM64 (the Dockerfile
// cross-compiles, so no emulation is needed).
func serverImage(dir string) awsecs.ContainerImage {
	return awsecs.ContainerImage_FromAsset(jsii.String(dir), &awsecs.AssetImageProps{
		File:       jsii.String(ServerDockerfile),
		Platform:   awsecrassets.Platform_LINUX_ARM64(),
		Exclude:    jsii.Strings(AssetExclude...),
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})
}

// checkSourceDir reports why dir cannot be the server image's build context.
func checkSourceDir(dir string) error {
	df := filepath.Join(dir, filepath.FromSlash(ServerDockerfile))
	if _, err := os.Stat(df); err != nil {
		return fmt.Errorf("no %s in %s: %w", ServerDockerfile, dir, err)
	}
	return nil
}

// LibrarySourceDir returns the root directory of this module's source, the
// default build context of the server image. It works when the library is
// this repository's own code, a `replace` target, or a read-only copy in the
// Go module cache, also in binaries built with -trimpath. In that order it
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
		if err := checkSourceDir(dir); err != nil {
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
	return "", fmt.Errorf("wsgate: cannot find the server source (%s), tried:\n  - %s\nfix: set RealtimeServiceProps.SourceDir to a checkout of %s, or Image to a prebuilt image",
		ServerDockerfile, strings.Join(tried, "\n  - "), ModulePath)
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
