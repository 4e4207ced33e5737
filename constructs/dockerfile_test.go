package constructs_test

import (
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	wsgate "github.com/wsgate/wsgate/constructs"
)

// dockerfileBuildCommand returns the shell command of the Dockerfile's RUN
// instruction that runs `go build`, without its --mount options.
func dockerfileBuildCommand(t *testing.T, dockerfile string) string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "RUN ") || !strings.Contains(line, "go build") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "RUN "))
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		return strings.Join(fields, " ")
	}
	t.Fatalf("%s has no RUN … go build instruction", dockerfile)
	return ""
}

// runBuildCommand runs the Dockerfile's build command in root for
// linux/arch and the given build arguments, with the binary going to out
// instead of /out.
func runBuildCommand(t *testing.T, root, cmdline, arch, out string, args map[string]string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(cmdline, "/out/", out+"/"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+arch, "GOPROXY=off")
	for k, v := range args {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
}

// imageAsset is the server image asset as the cloud assembly's manifest
// describes it to `cdk deploy`.
type imageAsset struct {
	// Dir is the asset's staged directory, absolute: the build context.
	Dir        string
	DockerFile string            `json:"dockerFile"`
	BuildArgs  map[string]string `json:"dockerBuildArgs"`
	Platform   string            `json:"platform"`
}

// synthImage synthesizes a RealtimeService with props in a stack "Test" and
// returns its image asset: exactly what `cdk deploy` hands to docker build.
func synthImage(t *testing.T, props *wsgate.RealtimeServiceProps) imageAsset {
	t.Helper()
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	stack := awscdk.NewStack(app, jsii.String("Test"), nil)
	wsgate.NewRealtimeService(stack, jsii.String("Realtime"), props)
	app.Synth(nil)
	data, err := os.ReadFile(filepath.Join(out, "Test.assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory string `json:"directory"`
				imageAsset
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
		a := img.Source.imageAsset
		a.Dir = filepath.Join(out, img.Source.Directory)
		return a
	}
	return imageAsset{}
}

// stagedContext synthesizes a RealtimeService with the default image (the
// demo server) and returns its staged build context.
func stagedContext(t *testing.T) imageAsset {
	t.Helper()
	return synthImage(t, nil)
}

// TestDockerfileBuildCrossCompiles runs the Dockerfile's build command in
// the staged build context, as the build stage would on an amd64 builder,
// for both target platforms, and checks the binaries are static
// executables for the right machine. Building from the staged context also
// proves the asset's exclusions keep everything the server needs.
func TestDockerfileBuildCrossCompiles(t *testing.T) {
	asset := stagedContext(t)
	root := asset.Dir
	if asset.DockerFile != wsgate.ServerDockerfile || asset.Platform != "linux/arm64" ||
		len(asset.BuildArgs) != 1 || asset.BuildArgs["SERVER_PACKAGE"] != wsgate.DemoServerPackage {
		t.Fatalf("image asset = %+v", asset)
	}
	cmdline := dockerfileBuildCommand(t, filepath.Join(root, wsgate.ServerDockerfile))
	if !strings.Contains(cmdline, "CGO_ENABLED=0") || !strings.Contains(cmdline, `-o /out/wsgate-server "$SERVER_PACKAGE"`) {
		t.Fatalf("unexpected build command %q", cmdline)
	}
	for arch, machine := range map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64} {
		t.Run(arch, func(t *testing.T) {
			out := t.TempDir()
			runBuildCommand(t, root, cmdline, arch, out, asset.BuildArgs)
			f, err := elf.Open(filepath.Join(out, "wsgate-server"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if f.Machine != machine {
				t.Errorf("machine = %v, want %v", f.Machine, machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("binary needs a dynamic loader; the scratch image has none")
				}
			}
		})
	}
}

// TestDockerfileFinalImage checks the final stage's promises: scratch, CA
// certificates, an unprivileged user and the server's port.
func TestDockerfileFinalImage(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	final := text[strings.LastIndex(text, "\nFROM "):]
	for _, want := range []string{
		"FROM scratch",
		"COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
		"USER 65534:65534",
		"EXPOSE 8080",
		`ENTRYPOINT ["/wsgate-server"]`,
	} {
		if !strings.Contains(final, want) {
			t.Errorf("final stage lacks %q", want)
		}
	}
	if !regexp.MustCompile(`(?m)^FROM --platform=\$BUILDPLATFORM golang:\S+ AS build$`).MatchString(text) {
		t.Errorf("build stage must run on $BUILDPLATFORM and cross-compile")
	}
	// Without a build argument the Dockerfile builds the demo server, so
	// `docker build -f constructs/Dockerfile .` at the module root works.
	if !strings.Contains(text, "\nARG SERVER_PACKAGE="+wsgate.DemoServerPackage+"\n") {
		t.Errorf("the Dockerfile's SERVER_PACKAGE does not default to %s", wsgate.DemoServerPackage)
	}
}

// TestDockerfileFinalStageWithBuildah builds the Dockerfile's final stage,
// as written, with buildah (no daemon, no registry): the build stage is
// replaced by a scratch stage of the same name holding what the real one
// produces, the cross-compiled binary and Debian's CA bundle. The image
// must be linux/arm64, run the server as an unprivileged user and hold the
// CA certificates.
func TestDockerfileFinalStageWithBuildah(t *testing.T) {
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		t.Fatalf("buildah is required (scripts/install-deps.sh --system installs it): %v", err)
	}
	asset := stagedContext(t)
	root := asset.Dir
	dockerfile := filepath.Join(root, wsgate.ServerDockerfile)
	text, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	final := string(text)[strings.LastIndex(string(text), "\nFROM ")+1:]

	ctx := t.TempDir()
	runBuildCommand(t, root, dockerfileBuildCommand(t, dockerfile), "arm64", filepath.Join(ctx, "out"), asset.BuildArgs)
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("the CA bundle the golang image ships (Debian's ca-certificates): %v", err)
	}
	writeFile(t, filepath.Join(ctx, "etc", "ssl", "certs", "ca-certificates.crt"), certs)
	writeFile(t, filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch AS build\nCOPY out/ /out/\nCOPY etc/ /etc/\n\n"+final))

	store := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		base := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
		cmd := exec.Command(buildah, append(base, args...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	run("build", "--quiet", "--isolation", "chroot", "--platform", "linux/arm64", "-t", "localhost/wsgate-server:test", ctx)

	var image struct {
		OCIv1 struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
			Config       struct {
				User         string
				Entrypoint   []string
				ExposedPorts map[string]struct{}
			} `json:"config"`
		}
	}
	if err := json.Unmarshal([]byte(run("inspect", "--type", "image", "localhost/wsgate-server:test")), &image); err != nil {
		t.Fatal(err)
	}
	cfg := image.OCIv1.Config
	if image.OCIv1.Architecture != "arm64" || image.OCIv1.OS != "linux" || cfg.User != "65534:65534" ||
		strings.Join(cfg.Entrypoint, " ") != "/wsgate-server" || len(cfg.ExposedPorts) != 1 {
		t.Errorf("image = %+v", image.OCIv1)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v, want 8080/tcp", cfg.ExposedPorts)
	}

	container := run("from", "localhost/wsgate-server:test")
	dir := run("mount", container)
	t.Cleanup(func() { run("umount", container); run("rm", container) })
	for name, mode := range map[string]os.FileMode{"wsgate-server": 0o111, "etc/ssl/certs/ca-certificates.crt": 0o444} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("image lacks /%s: %v", name, err)
		} else if info.Mode().Perm()&mode != mode {
			t.Errorf("/%s has mode %v, want at least %v", name, info.Mode().Perm(), mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "etc wsgate-server" {
		t.Errorf("image root holds %v, want only etc and wsgate-server", names)
	}
}

func writeFile(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServerUserMatchesDockerfile keeps the task's user the one the server
// image declares, so the task definition never asks for root.
func TestServerUserMatchesDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, line := range strings.Split(string(data), "\n") {
		if u, ok := strings.CutPrefix(line, "USER "); ok {
			users = append(users, strings.TrimSpace(u))
		}
	}
	if len(users) == 0 || users[len(users)-1] != wsgate.ServerUser || strings.HasPrefix(wsgate.ServerUser, "0:") {
		t.Fatalf("the Dockerfile's final USER is %v, the task's %s", users, wsgate.ServerUser)
	}
}
