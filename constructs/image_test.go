package constructs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// writeModule creates a module root holding go.mod and the demo server's
// package directory.
func writeModule(t *testing.T, dir, modPath string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(DemoServerPackage)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+modPath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func noCache() (string, error) { return "", errors.New("no module cache in this test") }

func TestFindSourceDirFromCompiledPath(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root, ModulePath)
	got, err := findSourceDir(filepath.Join(root, "constructs", "image.go"), nil, "/", noCache)
	if err != nil || got != root {
		t.Fatalf("got %q, %v; want %q", got, err, root)
	}
}

func TestFindSourceDirTrimpathMainModule(t *testing.T) {
	root := t.TempDir()
	writeModule(t, root, ModulePath)
	cwd := filepath.Join(root, "constructs")
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	info := &debug.BuildInfo{Main: debug.Module{Path: ModulePath}}
	got, err := findSourceDir(ModulePath+"/constructs/image.go", info, cwd, noCache)
	if err != nil || got != root {
		t.Fatalf("got %q, %v; want %q", got, err, root)
	}
}

func TestFindSourceDirTrimpathReplaceDirectory(t *testing.T) {
	base := t.TempDir()
	app, lib := filepath.Join(base, "app"), filepath.Join(base, "lib")
	writeModule(t, lib, ModulePath)
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "go.mod"), []byte("module example.com/app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/app"},
		Deps: []*debug.Module{{Path: ModulePath, Version: "v0.0.0", Replace: &debug.Module{Path: "../lib", Version: "(devel)"}}},
	}
	got, err := findSourceDir(ModulePath+"/constructs/image.go", info, app, noCache)
	if err != nil || got != lib {
		t.Fatalf("got %q, %v; want %q", got, err, lib)
	}
}

func TestFindSourceDirTrimpathModuleCache(t *testing.T) {
	cache := t.TempDir()
	dir := filepath.Join(cache, "github.com", "wsgate", "wsgate@v1.2.3")
	writeModule(t, dir, ModulePath)
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/app"},
		Deps: []*debug.Module{{Path: ModulePath, Version: "v1.2.3"}},
	}
	got, err := findSourceDir(ModulePath+"/constructs/image.go", info, "/", func() (string, error) { return cache, nil })
	if err != nil || got != dir {
		t.Fatalf("got %q, %v; want %q", got, err, dir)
	}
}

func TestFindSourceDirReportsEverythingTried(t *testing.T) {
	cache := t.TempDir()
	info := &debug.BuildInfo{
		Main: debug.Module{Path: "example.com/app"},
		Deps: []*debug.Module{{Path: ModulePath, Version: "v1.2.3"}},
	}
	_, err := findSourceDir(ModulePath+"/constructs/image.go", info, "/", func() (string, error) { return cache, nil })
	dir := filepath.Join(cache, "github.com/wsgate/wsgate@v1.2.3")
	want := `wsgate: cannot find the demo server's source (./server/cmd/wsgate-server of github.com/wsgate/wsgate), tried:
  - compiled source path: "github.com/wsgate/wsgate/constructs/image.go" is not absolute (built with -trimpath)
  - module cache: no ./server/cmd/wsgate-server in ` + dir + `: stat ` + dir + `/server/cmd/wsgate-server: no such file or directory
fix: set RealtimeServiceProps.ServerPackage to your own main package, or Image to a prebuilt image`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestEscapeModulePath(t *testing.T) {
	if got := escapeModulePath("github.com/Masterminds/semver"); got != filepath.FromSlash("github.com/!masterminds/semver") {
		t.Fatalf("got %q", got)
	}
}

// TestLibrarySourceDirIsThisRepository checks the real lookup from this
// package's own test binary.
func TestLibrarySourceDirIsThisRepository(t *testing.T) {
	dir, err := LibrarySourceDir()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs("..")
	if dir != want {
		t.Fatalf("got %q, want %q", dir, want)
	}
}
