package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/localgateway"
)

const (
	// serverReadyWait is how long a started server has to answer /healthz.
	serverReadyWait = 30 * time.Second
	// stopGrace is how long a child has between SIGTERM and SIGKILL, so
	// that every child is gone within 5 s of Ctrl-C.
	stopGrace = 3 * time.Second
	// restartMin and restartMax bound the pause before starting a dead
	// child again; it doubles while the child keeps dying.
	restartMin = 500 * time.Millisecond
	restartMax = 8 * time.Second
	// restartReset is how long a child must have run for its next death
	// to count as a first one again.
	restartReset = time.Minute
)

// ownGroup puts cmd in a process group of its own, so that the terminal's
// Ctrl-C reaches wsgate only (which stops its children in order), and
// makes cancelling cmd's context kill the whole group, grandchildren
// included.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that escaped the group may hold the output pipe open.
	cmd.WaitDelay = time.Second
}

// buildServer compiles the server's main package pkg (resolved in dir, as
// `go build` in dir would) to a binary in workDir.
func buildServer(ctx context.Context, dir, pkg, workDir string, stderr io.Writer) (string, error) {
	return buildMain(ctx, "server", dir, pkg, workDir, stderr)
}

// buildMain compiles the main package pkg of the child called name
// (resolved in dir, as `go build` in dir would) to the binary
// workDir/name, with the build's output in workDir/name-build.log.
func buildMain(ctx context.Context, name, dir, pkg, workDir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(workDir, name)
	fmt.Fprintf(stderr, "==> building the %s (go build %s)\n", name, pkg)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = dir
	if err := runLogged(cmd, filepath.Join(workDir, name+"-build.log"), "building", stderr); err != nil {
		return "", fmt.Errorf("building the %s failed: %w", name, err)
	}
	fmt.Fprintf(stderr, "==> built the %s in %s\n", name, time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// freeAddr turns HOST:0 into HOST:PORT with a port free right now. The
// server keeps that address across restarts: it is the gateway's backend.
func freeAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--server-addr %q: %v", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("no free port for the server: %v", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// childSpec is how to start one of wsgate dev's children (the server, the
// authorizer): the same binary, directory and environment every time, and
// how to tell it is ready.
type childSpec struct {
	name   string // "server" or "authorizer", in messages
	bin    string
	dir    string
	env    []string
	stderr io.Writer
	// beforeStart, when set, runs before each start.
	beforeStart func()
	// ready returns once the started child c serves, or why it does not.
	ready func(ctx context.Context, c *child) error
	// where says where a child that is up again serves, as in "on ADDR".
	where string
}

// newServerSpec wires the server to the gateway with the local credentials.
func newServerSpec(bin, dir, addr, callback, secret string, stderr io.Writer) childSpec {
	creds := localgateway.CredentialsFromEnv()
	// Defaults the environment may override: no load balancer polls /healthz
	// here, so the server closes its listener at once on Ctrl-C; and no
	// CloudWatch agent reads its stdout, so no metrics records every minute.
	env := append([]string{contract.EnvDrainWindow + "=0", contract.EnvMetricsInterval + "=0"}, os.Environ()...)
	env = append(env,
		contract.EnvCallbackURL+"="+callback, contract.EnvListenAddr+"="+addr, contract.EnvIntegrationSecret+"="+secret,
		"AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_REGION="+creds.Region,
		"AWS_SESSION_TOKEN=", "AWS_PROFILE=")
	return childSpec{
		name: "server", bin: bin, dir: dir, env: env, stderr: stderr, where: "on " + addr,
		ready: func(ctx context.Context, c *child) error { return waitHealthy(ctx, addr, c) },
	}
}

// child is a running process of a childSpec.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited
	err  error         // how it exited, valid after done
}

// start starts the child; its log goes to stderr.
func (s childSpec) start() (*child, error) {
	if s.beforeStart != nil {
		s.beforeStart()
	}
	cmd := exec.Command(s.bin)
	cmd.Dir = s.dir
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", s.name, err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// exitReason says how the child ended, as in "exit status 2" or "signal:
// killed".
func (c *child) exitReason() string {
	if c.err == nil {
		return "exit status 0"
	}
	return c.err.Error()
}

// stop sends the child's process group SIGTERM, then SIGKILL after
// stopGrace, and returns once the child has exited. Anything left in its
// group (processes it started) is killed too.
func (c *child) stop() {
	pgid := c.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-c.done
}

// waitHealthy polls GET /healthz until it answers 200.
func waitHealthy(ctx context.Context, addr string, c *child) error {
	deadline := time.Now().Add(serverReadyWait)
	client := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+contract.PathHealth, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("the server exited during start-up (%s)", c.exitReason())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not answer GET %s on %s within %s", contract.PathHealth, addr, serverReadyWait)
		}
	}
}

// keepRunning watches the running child c until ctx ends, then stops it.
// When the child dies it is started again after a pause that doubles
// while it keeps dying, as ECS replaces a stopped task and Lambda a failed
// execution environment; the gateway stays up meanwhile, and clients see
// integration (or authorizer) errors until the child is back.
func (s childSpec) keepRunning(ctx context.Context, c *child) {
	delay := restartMin
	for {
		started := time.Now()
		select {
		case <-ctx.Done():
			c.stop()
			return
		case <-c.done:
		}
		// Whatever the dead child started goes with it.
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		if time.Since(started) > restartReset {
			delay = restartMin
		}
		fmt.Fprintf(s.stderr, "==> %s exited (%s); starting it again in %s\n", s.name, c.exitReason(), delay)
		next, ok := s.restart(ctx, &delay)
		if !ok {
			return
		}
		c = next
		fmt.Fprintf(s.stderr, "==> %s is up again %s\n", s.name, s.where)
	}
}

// restart starts the child after *delay until one is ready, doubling
// *delay after each attempt. It reports false when ctx ended first, with
// no child left running.
func (s childSpec) restart(ctx context.Context, delay *time.Duration) (*child, bool) {
	for {
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(*delay):
		}
		*delay = min(*delay*2, restartMax)
		c, err := s.start()
		if err != nil {
			fmt.Fprintf(s.stderr, "==> %v; trying again in %s\n", err, *delay)
			continue
		}
		err = s.ready(ctx, c)
		if err == nil {
			return c, true
		}
		c.stop()
		if ctx.Err() != nil {
			return nil, false
		}
		fmt.Fprintf(s.stderr, "==> %v; trying again in %s\n", err, *delay)
	}
}
