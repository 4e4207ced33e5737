package serverbench

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Each benchmark runs its comparison at a fixed size per b.N round and reports the ratio as
// a metric; TestMain prints the last result of each as a "name ratio=…" line. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./bench/serverbench
var (
	mu      sync.Mutex
	results = map[string]Result{}
	order   []string
)

func keep(b *testing.B, r Result, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	mu.Lock()
	if _, seen := results[r.Name]; !seen {
		order = append(order, r.Name)
	}
	results[r.Name] = r
	mu.Unlock()
	b.ReportMetric(r.Ratio, "ratio")
	b.ReportMetric(r.Value, r.Unit)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, name := range order {
		fmt.Println(results[name])
	}
	os.Exit(code)
}

func BenchmarkPushCPU(b *testing.B) {
	for range b.N {
		r, err := PushCPU(50000)
		keep(b, r, err)
	}
}

func BenchmarkPushQueuedCPU(b *testing.B) {
	for range b.N {
		r, err := PushQueuedCPU(50000)
		keep(b, r, err)
	}
}

func BenchmarkSDKPostToConnection(b *testing.B) {
	for range b.N {
		r, err := SDKPeer(20000)
		keep(b, r, err)
	}
}

func BenchmarkHelloWorldThroughput(b *testing.B) {
	for range b.N {
		r, err := HelloWorldThroughput(8000, 16)
		keep(b, r, err)
	}
}

func BenchmarkDottedVMIDAttackHeap(b *testing.B) {
	for range b.N {
		r, err := DottedVMIDAttackHeap(2000, 10)
		keep(b, r, err)
	}
}

func BenchmarkIdleSessionBytes(b *testing.B) {
	for range b.N {
		r, err := IdleSessionBytes(10000)
		keep(b, r, err)
	}
}

// The measurement functions work at small sizes (part of the normal test run).
func TestMeasurementsRun(t *testing.T) {
	for _, f := range []func() (Result, error){
		func() (Result, error) { return PushCPU(50) },
		func() (Result, error) { return PushQueuedCPU(50) },
		func() (Result, error) { return SDKPeer(50) },
		func() (Result, error) { return HelloWorldThroughput(64, 4) },
		func() (Result, error) { return IdleSessionBytes(100) },
		func() (Result, error) { return DottedVMIDAttackHeap(10, 1) },
	} {
		r, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if r.Value <= 0 || r.Baseline <= 0 || r.Ratio != r.Value/r.Baseline {
			t.Errorf("implausible result %v", r)
		}
	}
}
