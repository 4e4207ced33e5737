// Package valkeylocal starts a local stand-in for ElastiCache Serverless for Valkey: Debian's
// redis-server on 127.0.0.1, TLS only, in cluster mode with one node holding all 16,384
// slots. The tests and `wsgate dev` use it so that the code which runs against ElastiCache
// runs the same path locally: a plain connection is refused, and a Lua script or MULTI/EXEC
// touching keys of two slots fails with CROSSSLOT here exactly as it does on AWS.
//
// Each Server lives in its own temporary directory (configuration, certificates, cluster
// state) and keeps nothing on disk: no RDB snapshots, no append-only file. Stop kills the
// process and removes the directory.
package valkeylocal

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled is returned by Start when the redis-server binary cannot be found.
var ErrNotInstalled = errors.New("redis-server not found in PATH: install it with `apt-get install redis-server` (or run scripts/install-deps.sh --system)")

// DefaultBinary is the server binary Start runs when Options.Binary is empty.
const DefaultBinary = "redis-server"

// slotCount is the number of hash slots of a Redis/Valkey cluster.
const slotCount = 16384

// logTailLines bounds how many of the server's last log lines Start keeps for its errors.
const logTailLines = 20

// portAttempts bounds the retries when another process takes a free port between our
// probe and the server's bind.
const portAttempts = 3

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Binary is the server executable, looked up in PATH; DefaultBinary when empty.
	Binary string
	// Log receives the server's log output when set; otherwise it is discarded once the
	// server is ready (the last lines still appear in Start's errors).
	Log io.Writer
}

// Server is a running redis-server. Its methods are safe for concurrent use.
type Server struct {
	addr string
	dir  string
	cas  *x509.CertPool
	cmd  *exec.Cmd

	exited  chan struct{} // closed once the process has been waited for
	waitErr error         // the process's exit status, valid after exited is closed

	stopOnce sync.Once
	stopErr  error
}

// Start runs redis-server in a new temporary directory and returns once the cluster
// reports cluster_state:ok. ctx bounds the start-up only; the server runs until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	binary := opts.Binary
	if binary == "" {
		binary = DefaultBinary
	}
	path, err := exec.LookPath(binary)
	if err != nil {
		return nil, fmt.Errorf("valkeylocal: %w", ErrNotInstalled)
	}
	var lastErr error
	for attempt := 0; attempt < portAttempts; attempt++ {
		s, err := startOnce(ctx, path, opts.Log)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// errPortTaken marks a start that failed because a chosen port was bound meanwhile.
var errPortTaken = errors.New("port taken")

// startOnce makes the directory, writes certificates and configuration, starts the process
// and assigns the slots. On any error it leaves no process and no directory behind.
func startOnce(ctx context.Context, binary string, logw io.Writer) (*Server, error) {
	dir, err := os.MkdirTemp("", "valkeylocal-")
	if err != nil {
		return nil, fmt.Errorf("valkeylocal: temporary directory: %w", err)
	}
	s := &Server{dir: dir, exited: make(chan struct{})}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}
	if s.cas, err = writeCertificates(dir); err != nil {
		return fail(fmt.Errorf("valkeylocal: certificates: %w", err))
	}
	ports, err := freePorts(2)
	if err != nil {
		return fail(fmt.Errorf("valkeylocal: free ports: %w", err))
	}
	s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	conf := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(conf, []byte(config(dir, ports[0], ports[1])), 0o600); err != nil {
		return fail(fmt.Errorf("valkeylocal: configuration: %w", err))
	}
	if err := s.run(ctx, binary, conf, logw); err != nil {
		return fail(err)
	}
	if err := s.assignSlots(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// config is the server's configuration. TLS only (port 0 disables plain TCP), no client
// certificates (ElastiCache Serverless has none either), cluster mode with its bus on a
// port of its own (the default, port+10000, would be 10000 for every instance since the
// plain port is 0), and no persistence.
func config(dir string, tlsPort, busPort int) string {
	lines := []string{
		"bind 127.0.0.1",
		"port 0",
		"tls-port " + strconv.Itoa(tlsPort),
		"tls-cert-file " + quote(filepath.Join(dir, "server.crt")),
		"tls-key-file " + quote(filepath.Join(dir, "server.key")),
		"tls-ca-cert-file " + quote(filepath.Join(dir, "ca.crt")),
		"tls-auth-clients no",
		// The cluster bus and CLUSTER SLOTS/SHARDS then name the TLS port, which is the
		// only one a cluster client can reach.
		"tls-cluster yes",
		"cluster-enabled yes",
		"cluster-config-file " + quote(filepath.Join(dir, "nodes.conf")),
		"cluster-port " + strconv.Itoa(busPort),
		"cluster-announce-ip 127.0.0.1",
		"dir " + quote(dir),
		`save ""`,
		"appendonly no",
		"daemonize no",
		`logfile ""`,
		"loglevel notice",
	}
	return strings.Join(lines, "\n") + "\n"
}

// quote makes a path one configuration argument even if it holds spaces.
func quote(s string) string { return strconv.Quote(s) }

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// run starts the process and waits until its log says it accepts connections, or until
// it exits, or until ctx is done.
func (s *Server) run(ctx context.Context, binary, conf string, logw io.Writer) error {
	cmd := exec.Command(binary, conf)
	cmd.Dir = s.dir
	cmd.SysProcAttr = sysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("valkeylocal: stdout pipe: %w", err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("valkeylocal: start %s: %w", binary, err)
	}
	s.cmd = cmd

	ready := make(chan struct{})
	tail := &logTail{}
	go s.readLog(out, logw, tail, ready)

	select {
	case <-ready:
		return nil
	case <-s.exited:
		lines := tail.String()
		err := fmt.Errorf("valkeylocal: %s exited before it was ready (%v); last log lines:\n%s", binary, s.waitErr, lines)
		if strings.Contains(lines, "Address already in use") {
			return errors.Join(err, errPortTaken)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("valkeylocal: waiting for %s to accept connections: %w; last log lines:\n%s", binary, ctx.Err(), tail.String())
	}
}

// readLog copies the server's output to logw, keeps its last lines, signals ready on the
// line redis-server (and valkey-server) print once they listen, and reaps the process at
// end of output so that exited means the process is gone.
func (s *Server) readLog(out io.Reader, logw io.Writer, tail *logTail, ready chan struct{}) {
	sc := bufio.NewScanner(out)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		tail.add(line)
		if logw != nil {
			fmt.Fprintln(logw, line)
		}
		if !signalled && strings.Contains(line, "Ready to accept connections") {
			signalled = true
			close(ready)
		}
	}
	// Drain what the scanner could not (a line longer than its buffer) so the server
	// never blocks on a full pipe.
	io.Copy(io.Discard, out)
	s.waitErr = s.cmd.Wait()
	close(s.exited)
}

// assignSlots gives the one node every slot and waits until the cluster says it is ok;
// until then every keyed command fails with CLUSTERDOWN.
func (s *Server) assignSlots(ctx context.Context) error {
	node := redis.NewClient(&redis.Options{Addr: s.addr, TLSConfig: s.TLSConfig(), MaxRetries: -1})
	defer node.Close()
	if err := node.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, slotCount-1).Err(); err != nil {
		return fmt.Errorf("valkeylocal: CLUSTER ADDSLOTSRANGE 0 %d: %w", slotCount-1, err)
	}
	// The node updates its cluster state in its event loop, not in the command itself,
	// so the state is polled. A fresh node stays in cluster_state:fail for about two
	// seconds after it starts (Redis's CLUSTER_WRITABLE_DELAY), which is most of Start.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("valkeylocal: CLUSTER INFO: %w", err)
		}
		if strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		select {
		case <-tick.C:
		case <-s.exited:
			return fmt.Errorf("valkeylocal: server exited while waiting for cluster_state:ok: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("valkeylocal: waiting for cluster_state:ok: %w", ctx.Err())
		}
	}
}

// Addr is the server's TLS address, 127.0.0.1:<port>.
func (s *Server) Addr() string { return s.addr }

// Dir is the server's temporary directory; Stop removes it.
func (s *Server) Dir() string { return s.dir }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// CAs is the pool holding the CA that signed the server's certificate.
func (s *Server) CAs() *x509.CertPool { return s.cas }

// TLSConfig is a client configuration that trusts only this server's CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.cas, MinVersion: tls.VersionTLS12}
}

// ClusterOptions are the options of a cluster client for this server, as a client of
// ElastiCache Serverless would use them: the one endpoint, TLS.
func (s *Server) ClusterOptions() *redis.ClusterOptions {
	return &redis.ClusterOptions{Addrs: []string{s.addr}, TLSConfig: s.TLSConfig()}
}

// ClusterClient returns a new cluster client for this server; the caller closes it.
func (s *Server) ClusterClient() *redis.ClusterClient {
	return redis.NewClusterClient(s.ClusterOptions())
}

// Stop kills the server, waits until it is gone and removes its directory. It is safe to
// call more than once; later calls return the first call's result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		var errs []error
		if s.cmd != nil && s.cmd.Process != nil {
			// Nothing is persisted, so there is nothing a graceful shutdown would save.
			if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("valkeylocal: kill: %w", err))
			}
			<-s.exited
		}
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("valkeylocal: remove %s: %w", s.dir, err))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

// logTail keeps the last logTailLines lines of the server's log.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *logTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == logTailLines {
		t.lines = append(t.lines[:0], t.lines[1:]...)
	}
	t.lines = append(t.lines, line)
}

func (t *logTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
