package bench

import (
	"fmt"
	"math"
	"runtime"
	"syscall"
	"time"
)

// cost is what n operations took.
type cost struct {
	N          int
	Wall       time.Duration
	CPU        time.Duration // user + system time of the whole process
	Allocs     uint64
	AllocBytes uint64
}

func (c cost) metrics() map[string]float64 {
	n := float64(c.N)
	return map[string]float64{
		"cpu_us_per_op":   float64(c.CPU.Microseconds()) / n,
		"wall_us_per_op":  float64(c.Wall.Nanoseconds()) / 1e3 / n,
		"allocs_per_op":   math.Round(float64(c.Allocs)/n*10) / 10,
		"bytes_per_op":    math.Round(float64(c.AllocBytes) / n),
		"ops_per_sec":     n / c.Wall.Seconds(),
		"ops_per_cpu_sec": n / math.Max(c.CPU.Seconds(), 1e-9),
	}
}

// measure runs fn(n) once and reports process CPU time, wall time and heap allocations.
// fn must do n operations; whatever else runs in the process is counted too, so callers
// keep the process quiet.
func measure(n int, fn func(n int) error) (cost, error) {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := processCPU()
	start := time.Now()
	err := fn(n)
	wall := time.Since(start)
	cpu1 := processCPU()
	runtime.ReadMemStats(&m1)
	if err != nil {
		return cost{}, err
	}
	return cost{N: n, Wall: wall, CPU: cpu1 - cpu0, Allocs: m1.Mallocs - m0.Mallocs, AllocBytes: m1.TotalAlloc - m0.TotalAlloc}, nil
}

// processCPU is the user plus system time the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentile returns the p-th percentile (0..100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ratio is a/b, NaN when b is zero.
func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}
