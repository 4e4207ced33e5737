package bench

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestBestRoundsTakesTheLowestLatencyAndTheHighestRate(t *testing.T) {
	got := bestRounds([]map[string]float64{
		{"p50_ms": 0.4, "p99_ms": 9, "trips_per_sec": 480},
		{"p50_ms": 0.3, "p99_ms": 12, "trips_per_sec": 500},
		{"p50_ms": 0.5, "p99_ms": 4, "trips_per_sec": 490},
	})
	want := map[string]float64{"p50_ms": 0.3, "p99_ms": 4, "trips_per_sec": 500}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestMedianAndRatios(t *testing.T) {
	sub := []map[string]float64{{"p50_ms": 0.6}, {"p50_ms": 0.9}, {"p50_ms": 0.4}, {"p50_ms": 1}}
	base := []map[string]float64{{"p50_ms": 0.3}, {"p50_ms": 0.3}, {"p50_ms": 0.4}, {"p50_ms": 0.5}}
	r := roundRatios(sub, base, "p50_ms")
	if !slices.Equal(r, []float64{2, 3, 1, 2}) {
		t.Fatalf("ratios %v", r)
	}
	if m := median(r); m != 2 {
		t.Errorf("median %v, want 2", m)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("odd median %v, want 2", m)
	}
	if s := ratioRange(r); s != "1.00x–3.00x" {
		t.Errorf("range %q", s)
	}
	if s := roundPairs(base[:2], sub[:2], "p50_ms"); s != "0.3/0.6 0.3/0.9" {
		t.Errorf("pairs %q", s)
	}
}

// A quick round trip runs the relay and wsgate through the same rounds and reports both
// goals against the relay.
func TestRoundTripQuickComparesWithTheRelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := RoundTrip(ctx, RoundTripOptions{Quick: true, Clients: 5, Trips: 2, Rounds: 2, Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range r.Measurements {
		names = append(names, m.Role+": "+m.Name)
		if m.Metrics["p50_ms"] <= 0 || m.Metrics["p99_ms"] < m.Metrics["p50_ms"] {
			t.Errorf("%s: p50 %v, p99 %v", m.Name, m.Metrics["p50_ms"], m.Metrics["p99_ms"])
		}
	}
	if want := []string{"reference: " + rtEcho, "baseline: " + rtRelay, "subject: " + rtWsgate}; !slices.Equal(names, want) {
		t.Fatalf("measurements %q, want %q", names, want)
	}
	if len(r.Goals) != 2 || r.Goals[0].Target != 1.5 || r.Goals[1].Target != 3 {
		t.Fatalf("goals %+v", r.Goals)
	}
}
