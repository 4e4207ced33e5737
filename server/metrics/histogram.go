package metrics

import (
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// boundsMs are the histograms' bucket upper bounds in milliseconds: ten per decade, about
// 25 % apart, from 0.1 ms to 100 s. A duration d falls in the first bucket whose bound is
// ≥ d; longer ones fall in one more bucket past the last bound. 62 buckets stay under the
// 100 values an Embedded Metric Format record may carry for one metric.
var boundsMs = func() []float64 {
	mantissas := []float64{1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.4, 8}
	var out []float64
	for exp := -1; exp <= 4; exp++ {
		for _, m := range mantissas {
			out = append(out, roundMs(m*math.Pow10(exp)))
		}
	}
	return append(out, 100_000)
}()

// boundsNs are boundsMs in nanoseconds, for Observe's search.
var boundsNs = func() []int64 {
	out := make([]int64, len(boundsMs))
	for i, b := range boundsMs {
		out[i] = int64(math.Round(b * 1e6))
	}
	return out
}()

// numBuckets is len(boundsMs)+1: the last bucket holds what is over the last bound.
const numBuckets = 62

// roundMs drops the floating-point noise of m·10^exp (0.30000000000000004).
func roundMs(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// Histogram counts durations in fixed buckets. Observe is lock-free and allocates nothing:
// one binary search and two atomic adds. The counts only grow; readers keep their own
// previous copy to get what changed (EMF records carry the changes, Prometheus the totals).
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	sumNs  atomic.Int64
}

// Observe records one duration; a negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	ns := max(int64(d), 0)
	i, _ := slices.BinarySearch(boundsNs, ns)
	h.counts[i].Add(1)
	h.sumNs.Add(ns)
}

// HistogramSnapshot is a histogram's totals at one moment.
type HistogramSnapshot struct {
	Counts [numBuckets]uint64
	SumNs  int64
}

// Snapshot reads the totals. Reads run alongside Observe, so a snapshot may hold a count
// whose duration is not yet in SumNs; the next one catches up.
func (h *Histogram) Snapshot() HistogramSnapshot {
	var s HistogramSnapshot
	s.SumNs = h.sumNs.Load()
	for i := range s.Counts {
		s.Counts[i] = h.counts[i].Load()
	}
	return s
}

// Count is the number of durations observed.
func (s HistogramSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// Sub is what was observed between prev and s.
func (s HistogramSnapshot) Sub(prev HistogramSnapshot) HistogramSnapshot {
	out := HistogramSnapshot{SumNs: s.SumNs - prev.SumNs}
	for i := range s.Counts {
		out.Counts[i] = s.Counts[i] - prev.Counts[i]
	}
	return out
}

// bucketRange is bucket i's range in milliseconds: (lo, hi]. The last bucket has no upper
// bound; its hi is its lo.
func bucketRange(i int) (lo, hi float64) {
	if i > 0 {
		lo = boundsMs[i-1]
	}
	if i < len(boundsMs) {
		return lo, boundsMs[i]
	}
	return lo, lo
}

// representative is the value that stands for bucket i's durations in an EMF record: the
// middle of its range (the last bucket's lower bound, 100 s).
func representative(i int) float64 {
	lo, hi := bucketRange(i)
	return roundMs((lo + hi) / 2)
}
