package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bench/serverbench"
	"github.com/wsgate/wsgate/contract"
)

// FootprintOptions configure Footprint.
type FootprintOptions struct {
	// Quick uses a few hundred sessions and sockets and skips building binaries.
	Quick bool
	// Sessions is the number of idle server sessions (default 10,000; quick 200).
	Sessions int
	// Sockets is the number of idle gateway WebSockets (default 5,000; quick 100).
	Sockets int
	// ServerBinary is a built wsgate-server; "" builds one (not in quick mode).
	ServerBinary string
	// Log receives progress lines.
	Log io.Writer
}

// Footprint measures the server's bytes per idle session holding one HelloWorld view
// model (goal ≤ 2 KiB), the local gateway's bytes per open WebSocket (goal ≤ 20 KiB), the
// stripped server binary's size and its time to ready; the socket and binary figures next to
// a baseline: a gorilla/websocket echo server per socket, a minimal net/http binary for size
// and start-up.
func Footprint(ctx context.Context, o FootprintOptions) (*Result, error) {
	if o.Sessions == 0 {
		o.Sessions = pick2(o.Quick, 200, 10000)
	}
	if o.Sockets == 0 {
		o.Sockets = pick2(o.Quick, 100, 5000)
	}
	r := &Result{
		Title:  "Footprint: memory per session and socket, binary size, time to ready",
		Params: map[string]any{"sessions": o.Sessions, "sockets": o.Sockets},
		Columns: []Column{
			{Key: "bytes_per_session", Header: "bytes/session", Chart: true},
			{Key: "bytes_per_socket", Header: "bytes/socket", Chart: true},
			{Key: "binary_mb", Header: "binary MB", Chart: true},
			{Key: "ready_ms", Header: "ready ms", Chart: true},
			{Key: "rss_mb", Header: "RSS at ready MB"},
		},
	}
	if err := sessionFootprint(r, o.Sessions); err != nil {
		return nil, err
	}
	if err := socketFootprint(ctx, r, o.Sockets); err != nil {
		return nil, err
	}
	if o.Quick && o.ServerBinary == "" {
		r.Notes = append(r.Notes, "quick mode: binary size and time to ready not measured (no build)")
		return r, nil
	}
	if err := binaryFootprint(ctx, r, o); err != nil {
		return nil, err
	}
	return r, nil
}

// heapInUse is live heap plus goroutine stacks after two collections.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// sessionFootprint is the server's own measurement (package bench/serverbench): heap
// bytes per idle session holding one HelloWorld view model.
func sessionFootprint(r *Result, n int) error {
	got, err := serverbench.IdleSessionBytes(n)
	if err != nil {
		return fmt.Errorf("idle session bytes: %w", err)
	}
	r.add("wsgate server session + HelloWorldVM", RoleSubject, map[string]float64{"bytes_per_session": got.Value})
	r.Goals = append(r.Goals, NewGoal(fmt.Sprintf("server bytes per idle session (%d sessions)", n), got.Value/1024, "<=", 2, "KiB"))
	return nil
}

// binaryFootprint builds (or takes) the server binary and a minimal net/http server, and
// compares their size, time until /healthz answers and resident memory at that moment.
func binaryFootprint(ctx context.Context, r *Result, o FootprintOptions) error {
	dir, err := os.MkdirTemp("", "wsgate-bench-bin-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	server := o.ServerBinary
	if server == "" {
		if server, err = buildServer(ctx, dir); err != nil {
			return err
		}
	}
	minimal, err := buildMinimal(ctx, dir)
	if err != nil {
		return err
	}
	for _, b := range []struct{ name, role, path string }{
		{"minimal net/http server", RoleBaseline, minimal},
		{"wsgate-server", RoleSubject, server},
	} {
		st, err := os.Stat(b.path)
		if err != nil {
			return fmt.Errorf("stat %s: %w", b.path, err)
		}
		ready, rss, err := timeToReady(ctx, b.path, 5)
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		r.add(b.name, b.role, map[string]float64{
			"binary_mb": float64(st.Size()) / 1e6, "ready_ms": float64(ready.Microseconds()) / 1e3, "rss_mb": float64(rss) / 1e6,
		})
	}
	// The issue sets no bound for size and start-up; the ratios and the published anchors
	// (7.7 MB, ~5 ms for a Go server; 52.8 MB for a chiseled ASP.NET Core image) are noted.
	r.Notes = append(r.Notes,
		fmt.Sprintf("server binary is %.2fx the minimal net/http binary (anchor: 7.7 MB Go server, 52.8 MB chiseled ASP.NET Core image)",
			ratio(r.Metric("wsgate-server", "binary_mb"), r.Metric("minimal net/http server", "binary_mb"))),
		fmt.Sprintf("server time to ready is %.2fx the minimal net/http binary's (process start to first 200 from /healthz, median of 5)",
			ratio(r.Metric("wsgate-server", "ready_ms"), r.Metric("minimal net/http server", "ready_ms"))))
	return nil
}

// moduleRoot finds this module's source (the working directory must be inside it).
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the wsgate module: run from the repository or pass --server-bin")
	}
	return filepath.Dir(mod), nil
}

func buildServer(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "wsgate-server")
	return out, goBuild(ctx, root, out, "./server/cmd/wsgate-server")
}

// buildMinimal builds the baseline: a net/http server with only a /healthz handler.
func buildMinimal(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "minimal")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", src, err)
	}
	files := map[string]string{
		"go.mod": "module minimal\n\ngo 1.26\n",
		"main.go": `package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	if err := http.ListenAndServe(os.Getenv("` + contract.EnvListenAddr + `"), nil); err != nil {
		os.Exit(1)
	}
}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	out := filepath.Join(dir, "minimal-server")
	return out, goBuild(ctx, src, out, ".")
}

// goBuild builds a static, stripped binary the way the server image does.
func goBuild(ctx context.Context, dir, out, pkg string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", pkg, err, msg)
	}
	return nil
}

// timeToReady starts bin runs times and returns the median time from start until
// GET /healthz answers 200, and the median resident memory at that moment.
func timeToReady(ctx context.Context, bin string, runs int) (time.Duration, int64, error) {
	var times []time.Duration
	var rss []int64
	for range runs {
		d, m, err := startOnce(ctx, bin)
		if err != nil {
			return 0, 0, err
		}
		times, rss = append(times, d), append(rss, m)
	}
	slices.Sort(times)
	slices.Sort(rss)
	return times[len(times)/2], rss[len(rss)/2], nil
}

func startOnce(ctx context.Context, bin string) (time.Duration, int64, error) {
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = serverEnv(addr, "http://127.0.0.1:9/prod")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start %s: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	if err := waitHealthy(ctx, "http://"+addr+contract.PathHealth, 10*time.Second); err != nil {
		return 0, 0, err
	}
	ready := time.Since(start)
	return ready, residentBytes(cmd.Process.Pid), nil
}

// serverEnv is the environment of a local wsgate-server: local credentials, nothing that
// could reach AWS.
func serverEnv(listen, callback string) []string {
	return []string{
		contract.EnvListenAddr + "=" + listen, contract.EnvCallbackURL + "=" + callback, contract.EnvLogLevel + "=error",
		"AWS_ACCESS_KEY_ID=" + localAccessKey, "AWS_SECRET_ACCESS_KEY=" + localSecretKey, "AWS_REGION=" + localRegion,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
	}
}

// waitHealthy polls url until it answers 200 or timeout passes.
func waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not healthy after %s (last error: %v)", url, timeout, err)
		}
		time.Sleep(200 * time.Microsecond) // polling a condition with a deadline
	}
}

// residentBytes reads VmRSS of a process (0 when unavailable).
func residentBytes(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
