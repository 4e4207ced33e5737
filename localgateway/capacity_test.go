package localgateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsgate/wsgate/localgateway/cfn"
)

// BenchmarkCapacity opens many concurrent WebSocket connections on loopback
// (spread over 127.0.0.x source addresses) and reports the Go memory (heap
// + stacks, after garbage collection) each open socket costs the gateway,
// next to a conventional gorilla/websocket server holding the same sockets
// in the same run. The clients run in a child process, so only the
// server's memory is counted.
//
//	go test -run XXX -bench Capacity -benchtime 1x ./localgateway
//
// WSGATE_BENCH_CONNS sets the number of connections (default 10000).
func BenchmarkCapacity(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("WSGATE_BENCH_CONNS")); err == nil && v > 0 {
		n = v
	}
	n = fitFileLimit(b, n)
	for i := 0; i < b.N; i++ {
		gorilla := measure(b, n, gorillaServer)
		gateway := measure(b, n, gatewayServer)
		b.ReportMetric(float64(n), "conns")
		b.ReportMetric(gateway, "gateway-B/conn")
		b.ReportMetric(gorilla, "gorilla-B/conn")
		b.ReportMetric(gateway/gorilla, "gateway/gorilla")
		b.Logf("%d connections: gateway %.0f B/conn (%.1f KiB), gorilla/websocket server %.0f B/conn (%.1f KiB), ratio %.2f",
			n, gateway, gateway/1024, gorilla, gorilla/1024, gateway/gorilla)
	}
}

// TestMain doubles as the client process of BenchmarkCapacity.
func TestMain(m *testing.M) {
	if target := os.Getenv(capacityClientEnv); target != "" {
		os.Exit(runCapacityClients(target))
	}
	os.Exit(m.Run())
}

const capacityClientEnv = "WSGATE_CAPACITY_CLIENT_TARGET"

// runCapacityClients opens WSGATE_BENCH_CONNS sockets to target, prints
// "ready", and holds them until stdin closes.
func runCapacityClients(target string) int {
	n, _ := strconv.Atoi(os.Getenv("WSGATE_BENCH_CONNS"))
	conns, err := openClients(target, n)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

// fitFileLimit raises the open-file limit for n sockets, or lowers n to
// what the limit allows.
func fitFileLimit(b *testing.B, n int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	want := uint64(n + 256)
	if lim.Cur < want {
		lim.Cur = min(want, lim.Max)
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		if fit := int(lim.Cur) - 256; fit < n {
			b.Logf("open-file limit %d allows %d connections, not %d", lim.Cur, fit, n)
			return fit
		}
	}
	return n
}

// server starts a server for the measurement and reports how many
// connections it holds.
type server func(b *testing.B) (url string, count func() int, stop func())

// gorillaServer is the usual Go WebSocket server: gorilla's Upgrader and a
// goroutine per socket reading messages.
func gorillaServer(b *testing.B) (string, func() int, func()) {
	var mu sync.Mutex
	var held []*websocket.Conn
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}))
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(held) }
	stop := func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
		srv.Close()
	}
	return "ws://" + srv.Listener.Addr().String() + "/prod", count, stop
}

// gatewayServer is the local gateway on an API without $connect.
func gatewayServer(b *testing.B) (string, func() int, func()) {
	g, err := New(Config{API: mustAPI(b), Backend: mustURL("http://127.0.0.1:1"), Credentials: testCreds})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(g)
	return "ws://" + srv.Listener.Addr().String() + "/prod", g.ConnectionCount, func() { g.DropAll(); srv.Close() }
}

// measure starts a server, has a child process open n sockets to it and
// returns the server's Go memory per socket.
func measure(b *testing.B, n int, start server) float64 {
	target, count, stop := start(b)
	defer stop()
	before := inUse()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), capacityClientEnv+"="+target, "WSGATE_BENCH_CONNS="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "ready\n" {
		b.Fatalf("client process: %q", line)
	}
	waitHolding(b, count, n)
	return float64(inUse()-before) / float64(n)
}

// inUse is the heap and stack memory in use after garbage collection.
func inUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func waitHolding(b *testing.B, count func() int, n int) {
	for i := 0; count() < n; i++ {
		if i > 2000 {
			b.Fatalf("server holds %d of %d connections", count(), n)
		}
		runtime.Gosched()
		pause()
	}
}

// openClients dials n sockets from 127.0.0.1–127.0.0.250 and, for ws://
// targets, completes a minimal handshake; the clients keep no buffers.
func openClients(target string, n int) ([]net.Conn, error) {
	scheme, rest, _ := strings.Cut(target, "://")
	host, path, _ := strings.Cut(rest, "/")
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := dialFrom(i, host, scheme == "ws", "/"+path)
				if err != nil {
					errs <- err
					continue
				}
				conns[i] = c
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, fmt.Errorf("dial: %v", err)
	}
	return conns, nil
}

func dialFrom(i int, host string, handshake bool, path string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%250))}}
	c, err := d.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	if !handshake {
		return c, nil
	}
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, host)
	r := bufio.NewReaderSize(c, 512)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 101") {
		c.Close()
		return nil, fmt.Errorf("handshake: %q %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			c.Close()
			return nil, err
		}
		if line == "\r\n" {
			return c, nil
		}
	}
}

func mustAPI(b *testing.B) *cfn.API {
	apis, err := cfn.Parse(newTemplate().bytes(), cfn.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return apis[0]
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func pause() { time.Sleep(5 * time.Millisecond) }
