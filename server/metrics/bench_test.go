package metrics_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/metrics"
)

// BenchmarkObserveRequest is the integration handler's cost per request, from many
// goroutines at once as requests arrive.
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest(contract.RouteDefault, http.StatusOK, 1500*time.Microsecond)
		}
	})
}

// BenchmarkObservePush is the push client's cost per accepted frame.
func BenchmarkObservePush(b *testing.B) {
	m := metrics.New(nil)
	b.ReportAllocs()
	for b.Loop() {
		m.ObservePush(40 * time.Millisecond)
	}
}
