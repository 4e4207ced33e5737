package constructs_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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

// TestDockerfileBuildCrossCompiles runs the Dockerfile's build command, as
// the build stage would on an amd64 builder, for both target platforms, and
// checks the binaries are static executables for the right machine.
func TestDockerfileBuildCrossCompiles(t *testing.T) {
	root, _ := filepath.Abs("..")
	cmdline := dockerfileBuildCommand(t, filepath.Join(root, "server", "Dockerfile"))
	if !strings.Contains(cmdline, "CGO_ENABLED=0") || !strings.Contains(cmdline, "-o /out/wsgate-server ./server/cmd/wsgate-server") {
		t.Fatalf("unexpected build command %q", cmdline)
	}
	for arch, machine := range map[string]elf.Machine{"arm64": elf.EM_AARCH64, "amd64": elf.EM_X86_64} {
		t.Run(arch, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command("sh", "-c", strings.ReplaceAll(cmdline, "/out/", out+"/"))
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "TARGETOS=linux", "TARGETARCH="+arch)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cmdline, err, b)
			}
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
	data, err := os.ReadFile(filepath.Join("..", "server", "Dockerfile"))
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
}
