package constructs

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
)

// The server image's build context is staged: CDK builds an image asset
// from one directory that must hold the Dockerfile, and the user's module
// has none (and the library's copy in the module cache is read-only). So
// synth copies the module into a directory under the cloud assembly,
// writes the Dockerfile next to it and builds from there. The asset hash
// is computed from the content, so the staging path never reaches the
// template.

// replaceDirPrefix is where the staged context holds copies of the
// directories go.mod's replace directives point at; the staged go.mod
// points there instead, so the image build sees them.
const replaceDirPrefix = "_wsgate/replace/"

// skippedDirs are directories never copied into the build context: version
// control, tool output and dependencies of other languages, and test data.
var skippedDirs = map[string]bool{
	".git":         true,
	".cache":       true,
	"cdk.out":      true,
	"node_modules": true,
	"testdata":     true,
}

// skippedRootDirs are skipped at the module root only (a Go package may be
// named bin further down).
var skippedRootDirs = map[string]bool{"bin": true}

// skippedFiles are files never copied: a workspace would point the build
// outside the context.
var skippedFiles = map[string]bool{"go.work": true, "go.work.sum": true}

// localReplace is a go.mod replace directive whose target is a directory.
type localReplace struct {
	// directive is the directive as written, for messages.
	directive string
	// oldPath and oldVersion are the replaced module (version may be "").
	oldPath, oldVersion string
	// dir is the target directory, absolute.
	dir string
}

// localReplaces returns the directory replacements of the module at root.
func localReplaces(root string) ([]localReplace, error) {
	name := filepath.Join(root, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return nil, err
	}
	var out []localReplace
	for _, r := range f.Replace {
		if r.New.Version != "" { // a module path and version, fetched as usual
			continue
		}
		dir := filepath.FromSlash(r.New.Path)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		old := r.Old.Path
		if r.Old.Version != "" {
			old += " " + r.Old.Version
		}
		out = append(out, localReplace{
			directive:  "replace " + old + " => " + r.New.Path,
			oldPath:    r.Old.Path,
			oldVersion: r.Old.Version,
			dir:        dir,
		})
	}
	return out, nil
}

// vendored reports whether the module at root vendors its dependencies;
// the go command then builds from vendor/ and needs no replace targets.
func vendored(root string) bool {
	_, err := os.Stat(filepath.Join(root, "vendor", "modules.txt"))
	return err == nil
}

// replaceProblems describes the replace directives of the module at root
// that the image build could not follow.
func replaceProblems(root string) []string {
	if vendored(root) {
		return nil
	}
	rs, err := localReplaces(root)
	if err != nil {
		return []string{fmt.Sprintf("reading %s: %v", filepath.Join(root, "go.mod"), err)}
	}
	var out []string
	for _, r := range rs {
		if err := moduleDirError(r.dir); err != nil {
			out = append(out, fmt.Sprintf("go.mod's %q: %v", r.directive, err))
		}
	}
	return out
}

// moduleDirError reports why dir is not a module directory.
func moduleDirError(dir string) error {
	info, err := os.Stat(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("no go.mod in %s", dir)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a file", filepath.Join(dir, "go.mod"))
	}
	return nil
}

// serverPackageError reports why pkg, relative to the module root dir, is
// not a main package there. It returns the allowed values and the fix.
func serverPackageError(dir, pkg string) (allowed, fix string, bad bool) {
	allowed = `a main package's directory relative to SourceDir, starting with "./", such as "./cmd/counter"`
	switch {
	case pkg == "":
		return allowed, `name the directory of your main package, such as "./cmd/counter"`, true
	case filepath.IsAbs(pkg) || strings.HasPrefix(pkg, "/"):
		return allowed, "write it relative to SourceDir (" + dir + ")", true
	case !strings.HasPrefix(pkg, "./"):
		return allowed, fmt.Sprintf("write %q", "./"+pkg), true
	case path.Clean(pkg) == ".." || strings.HasPrefix(path.Clean(pkg), "../"):
		return allowed, "the package must be inside SourceDir (" + dir + "): set SourceDir to the root of the module that holds it", true
	}
	abs := filepath.Join(dir, filepath.FromSlash(pkg))
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		return allowed, "no directory " + abs + ": correct the path, relative to SourceDir (" + dir + ")", true
	}
	name, err := packageName(abs)
	if err != nil {
		return allowed, err.Error(), true
	}
	if name != "main" {
		return allowed, fmt.Sprintf("%s holds package %s; point ServerPackage at the directory of a package main whose func main calls server.Main", abs, name), true
	}
	return "", "", false
}

// packageName returns the package clause of the Go files in dir, tests
// left out.
func packageName(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return "", fmt.Errorf("reading %s: %v", filepath.Join(dir, n), err)
		}
		return f.Name.Name, nil
	}
	return "", fmt.Errorf("%s holds no Go files; point ServerPackage at the directory of a package main", dir)
}

// stageContext writes the server image's build context to dst: a copy of
// the module at src.dir (see skippedDirs), the directories its replace
// directives point at with go.mod pointing at the copies, and the
// Dockerfile as ServerDockerfile. Paths in avoid (the cloud assembly) are
// never copied, wherever they are.
func stageContext(src serverSource, dst string, avoid ...string) error {
	if err := os.RemoveAll(dst); err != nil {
		return fmt.Errorf("clearing %s: %w", dst, err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	// The walk compares real paths: a cloud assembly inside the module,
	// reached through a symbolic link, must not be copied into itself.
	avoid = realPaths(append(avoid, dst))
	if err := copyModule(realPath(src.dir), dst, avoid); err != nil {
		return err
	}
	if !vendored(src.dir) {
		if err := stageReplaces(src.dir, dst, avoid); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dst, ServerDockerfile), dockerfile, 0o644); err != nil {
		return fmt.Errorf("writing the Dockerfile: %w", err)
	}
	return nil
}

// stageReplaces copies each directory replacement of the module at root
// into dst and points dst's go.mod at the copies.
func stageReplaces(root, dst string, avoid []string) error {
	rs, err := localReplaces(root)
	if err != nil || len(rs) == 0 {
		return err
	}
	name := filepath.Join(dst, "go.mod")
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	f, err := modfile.Parse(name, data, nil)
	if err != nil {
		return err
	}
	for i, r := range rs {
		rel := replaceDirPrefix + strconv.Itoa(i)
		if err := copyModule(realPath(r.dir), filepath.Join(dst, filepath.FromSlash(rel)), avoid); err != nil {
			return fmt.Errorf("go.mod's %q: %w", r.directive, err)
		}
		if err := f.AddReplace(r.oldPath, r.oldVersion, "./"+rel, ""); err != nil {
			return err
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return err
	}
	return os.WriteFile(name, out, 0o644)
}

// copyModule copies the module at src to dst, leaving out skipped
// directories and files, tests, nested modules (they are not part of this
// one), anything that is not a regular file or directory, and avoid.
func copyModule(src, dst string, avoid []string) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rel != "." && skipDir(p, rel, d.Name(), avoid) {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() || skippedFiles[d.Name()] || strings.HasSuffix(d.Name(), "_test.go") {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		return fmt.Errorf("copying %s into the server image's build context: %w", src, err)
	}
	return nil
}

// skipDir reports whether the directory at p (rel inside the module) stays
// out of the build context.
func skipDir(p, rel, name string, avoid []string) bool {
	if skippedDirs[name] || (rel == name && skippedRootDirs[name]) {
		return true
	}
	for _, a := range avoid {
		if p == a {
			return true
		}
	}
	_, err := os.Stat(filepath.Join(p, "go.mod"))
	return err == nil
}

// realPath resolves symbolic links in p, or returns p when it cannot.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// realPaths is realPath of each of ps.
func realPaths(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = realPath(p)
	}
	return out
}

// copyFile copies one file, writable by its owner whatever the source's
// mode (the module cache's files are read-only).
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		return errors.Join(fmt.Errorf("writing %s", dst), err)
	}
	return nil
}
