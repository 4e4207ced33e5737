package valkeylocal

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// shared is the server the tests share: each start takes about two seconds (a fresh
// cluster node waits that long before it reports cluster_state:ok), so one serves every
// test that does not stop it. The tests use keys of their own.
var shared *Server

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	s, err := Start(ctx, Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "Start: %v\n", err)
		os.Exit(1)
	}
	shared = s
	code := m.Run()
	if err := s.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "Stop: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

func TestSetGetOverTLSWithClusterClient(t *testing.T) {
	s := shared
	c := s.ClusterClient()
	defer c.Close()
	ctx := context.Background()

	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(ctx, "greeting").Result()
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	if got != "hello" {
		t.Fatalf("GET greeting = %q, want %q", got, "hello")
	}

	// One node holds every slot, so the client's slot map names it for slot 0 and 16383.
	slots, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatalf("CLUSTER SLOTS: %v", err)
	}
	if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != slotCount-1 ||
		len(slots[0].Nodes) != 1 || slots[0].Nodes[0].Addr != s.Addr() {
		t.Fatalf("CLUSTER SLOTS = %+v, want one range 0-%d on %s", slots, slotCount-1, s.Addr())
	}
}

func TestClientWithoutTheCAIsRefused(t *testing.T) {
	s := shared
	c := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:      []string{s.Addr()},
		TLSConfig:  &tls.Config{MinVersion: tls.VersionTLS12}, // system roots only
		MaxRetries: -1,
	})
	defer c.Close()
	err := c.Ping(context.Background()).Err()
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &unknown) {
		t.Fatalf("PING with the system roots = %v, want an unknown-authority error", err)
	}
}

func TestPlainConnectionIsRefused(t *testing.T) {
	s := shared
	ctx := context.Background()

	// No plain TCP port at all: the node reports port 0.
	node := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: s.TLSConfig()})
	defer node.Close()
	port, err := node.ConfigGet(ctx, "port").Result()
	if err != nil {
		t.Fatalf("CONFIG GET port: %v", err)
	}
	if port["port"] != "0" {
		t.Fatalf("plain port = %q, want \"0\"", port["port"])
	}

	// A plain RESP command on the TLS port gets no reply: the server drops the
	// connection as a failed handshake.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "*1\r\n$4\r\nPING\r\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	// ReadAll returns once the server closes (EOF) or resets the connection.
	reply, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("plain PING: read: %v; want EOF or a reset", err)
	}
	if strings.Contains(string(reply), "PONG") {
		t.Fatalf("plain PING got a reply %q, want none", reply)
	}
}

func TestPlainClientFails(t *testing.T) {
	s := shared
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("PING without TLS succeeded, want an error")
	}
}

const setBoth = `redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return 1`

const crossSlot = "CROSSSLOT Keys in request don't hash to the same slot"

func TestLuaAcrossSlotsFailsWithCrossSlot(t *testing.T) {
	s := shared
	c := s.ClusterClient()
	defer c.Close()
	ctx := context.Background()

	err := c.Eval(ctx, setBoth, []string{"user1:a", "user2:b"}, "x").Err()
	if err == nil || err.Error() != crossSlot {
		t.Fatalf("EVAL over user1:a and user2:b = %v, want %q", err, crossSlot)
	}
	if n, err := c.Exists(ctx, "user1:a").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS user1:a after the refused script = %d, %v; want 0", n, err)
	}

	if err := c.Eval(ctx, setBoth, []string{"{user1}:a", "{user1}:b"}, "x").Err(); err != nil {
		t.Fatalf("EVAL over {user1}:a and {user1}:b: %v", err)
	}
	for _, k := range []string{"{user1}:a", "{user1}:b"} {
		if v, err := c.Get(ctx, k).Result(); err != nil || v != "x" {
			t.Fatalf("GET %s = %q, %v; want \"x\"", k, v, err)
		}
	}
}

func TestMultiExecAcrossSlotsFailsWithCrossSlot(t *testing.T) {
	s := shared
	ctx := context.Background()
	// A plain client on the node sends one MULTI/EXEC as written; the cluster client
	// would split a transaction by slot before the server could refuse it.
	node := redis.NewClient(&redis.Options{Addr: s.Addr(), TLSConfig: s.TLSConfig()})
	defer node.Close()

	_, err := node.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "order1:a", "x", 0)
		p.Set(ctx, "order2:b", "x", 0)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MULTI/EXEC over order1:a and order2:b = %v, want CROSSSLOT", err)
	}
	for _, k := range []string{"order1:a", "order2:b"} {
		if n, err := node.Exists(ctx, k).Result(); err != nil || n != 0 {
			t.Fatalf("EXISTS %s after the refused transaction = %d, %v; want 0", k, n, err)
		}
	}

	_, err = node.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "{order1}:a", "x", 0)
		p.Set(ctx, "{order1}:b", "x", 0)
		return nil
	})
	if err != nil {
		t.Fatalf("MULTI/EXEC over {order1}:a and {order1}:b: %v", err)
	}
	if n, err := node.Exists(ctx, "{order1}:a", "{order1}:b").Result(); err != nil || n != 2 {
		t.Fatalf("EXISTS after the transaction = %d, %v; want 2", n, err)
	}
}

func TestStopLeavesNoProcessAndNoDirectory(t *testing.T) {
	t.Parallel() // its own server starts while nothing else runs
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	pid, dir := s.Pid(), s.Dir()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("directory before Stop: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Stop waited for the process, so its pid no longer names anything.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kill -0 %d after Stop = %v, want ESRCH", pid, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stat %s after Stop = %v, want not exist", dir, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}

func TestMissingBinarySaysHowToInstall(t *testing.T) {
	_, err := Start(context.Background(), Options{Binary: "redis-server-that-is-not-installed"})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start with a missing binary = %v, want ErrNotInstalled", err)
	}
	want := "valkeylocal: redis-server not found in PATH: install it with `apt-get install redis-server` (or run scripts/install-deps.sh --system)"
	if err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}
