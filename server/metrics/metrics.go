// Package metrics holds the server's metrics and writes them out two ways: CloudWatch
// Embedded Metric Format records on stdout (the awslogs driver turns them into CloudWatch
// metrics without an agent) and a Prometheus text endpoint for those who scrape.
//
// The names, units and dimensions are those of package contract, which the constructs'
// dashboard and alarms read: namespace Wsgate, dimension ServiceName on every metric, and
// second dimension sets (ServiceName, Route, Outcome) on IntegrationRequests and
// (ServiceName, Limit) on LimitRefusals. No dimension ever carries a connection id.
//
// Recording is cheap enough for the hot paths: the integration handler and the push client
// call Observe… (atomic adds, no lock, no allocation); the counters the push client and
// the runtime keep anyway are read only when the metrics are written out (Readings).
package metrics

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsgate/wsgate/contract"
)

// routes are the values of the Route dimension, in the order of Snapshot.Requests.
var routes = [...]string{contract.RouteConnect, contract.RouteDefault, contract.RouteDisconnect}

// outcomes are the values of the Outcome dimension, in the order of Snapshot.Requests.
var outcomes = [...]string{contract.OutcomeOK, contract.OutcomeRejected, contract.OutcomeError}

// Limit is a per-connection limit whose refusals are counted.
type Limit int

// The limits, in the order of Readings.LimitRefusals.
const (
	LimitVMIDBytes Limit = iota
	LimitVMDepth
	LimitVMsPerConnection
	LimitPendingBytes
	LimitFrameBytes
	LimitPushQueue
	numLimits
)

// limitNames are the values of the Limit dimension.
var limitNames = [numLimits]string{
	contract.LimitVMIDBytes, contract.LimitVMDepth, contract.LimitVMsPerConnection,
	contract.LimitPendingBytes, contract.LimitFrameBytes, contract.LimitPushQueue,
}

// String is the limit's dimension value.
func (l Limit) String() string { return limitNames[l] }

// Readings are the figures the server's parts keep themselves: gauges as they are now and
// counters as totals since the start. Metrics reads them through its read function each
// time it writes out.
type Readings struct {
	// Sessions are the connections the runtime holds a session for.
	Sessions int
	// ViewModels are the view models those sessions hold (a shared one once per session).
	ViewModels int
	// Push outcomes, as counted by the push client.
	PushesSent, PushesRetried, PushesGone, PushesFailed, PushesDropped uint64
	// LimitRefusals counts, per limit, what crossing it refused.
	LimitRefusals [numLimits]uint64
}

// Metrics is the server's set of metrics. Its Observe methods are safe for concurrent use.
type Metrics struct {
	read     func() Readings
	requests [len(routes)][len(outcomes)]atomic.Uint64
	// Durations: an integration request's handling, a pushed frame from Send to the
	// gateway's 2xx, and each wait for the push pacer.
	integration, push, pacer Histogram
}

// New returns metrics that take the server's own figures from read (nil: all zero).
func New(read func() Readings) *Metrics {
	if read == nil {
		read = func() Readings { return Readings{} }
	}
	return &Metrics{read: read}
}

// ObserveRequest records an integration request of route (contract.Route…) answered with
// status after elapsed. An unknown route counts as $default.
func (m *Metrics) ObserveRequest(route string, status int, elapsed time.Duration) {
	r := 1
	switch route {
	case contract.RouteConnect:
		r = 0
	case contract.RouteDisconnect:
		r = 2
	}
	m.requests[r][outcomeOf(status)].Add(1)
	m.integration.Observe(elapsed)
}

// outcomeOf maps an HTTP status to the Outcome index: 2xx (and anything below 400) ok,
// 4xx rejected, 5xx error.
func outcomeOf(status int) int {
	switch {
	case status >= 500:
		return 2
	case status >= 400:
		return 1
	default:
		return 0
	}
}

// ObservePush records a frame the gateway accepted, elapsed after it was queued.
func (m *Metrics) ObservePush(elapsed time.Duration) { m.push.Observe(elapsed) }

// ObservePacerWait records one wait for the push pacer.
func (m *Metrics) ObservePacerWait(elapsed time.Duration) { m.pacer.Observe(elapsed) }

// Snapshot is every metric at one moment: counters as totals since the start.
type Snapshot struct {
	// Requests counts integration requests by route and outcome (the orders of routes and
	// outcomes: $connect, $default, $disconnect; ok, rejected, error).
	Requests                               [len(routes)][len(outcomes)]uint64
	IntegrationLatency, PushLatency, Pacer HistogramSnapshot
	Readings
}

// Snapshot reads every metric.
func (m *Metrics) Snapshot() Snapshot {
	s := Snapshot{Readings: m.read()}
	for r := range s.Requests {
		for o := range s.Requests[r] {
			s.Requests[r][o] = m.requests[r][o].Load()
		}
	}
	s.IntegrationLatency = m.integration.Snapshot()
	s.PushLatency = m.push.Snapshot()
	s.Pacer = m.pacer.Snapshot()
	return s
}

// IntegrationRequests is the number of integration requests of route with outcome
// (contract.Route…, contract.Outcome…); 0 for unknown names.
func (s Snapshot) IntegrationRequests(route, outcome string) uint64 {
	for r, rn := range routes {
		for o, on := range outcomes {
			if rn == route && on == outcome {
				return s.Requests[r][o]
			}
		}
	}
	return 0
}

// TotalRequests is the number of integration requests over every route and outcome.
func (s Snapshot) TotalRequests() uint64 {
	var n uint64
	for r := range s.Requests {
		for o := range s.Requests[r] {
			n += s.Requests[r][o]
		}
	}
	return n
}

// TotalLimitRefusals is the number of refusals over every limit.
func (s Snapshot) TotalLimitRefusals() uint64 {
	var n uint64
	for _, v := range s.LimitRefusals {
		n += v
	}
	return n
}

// Handler is the Prometheus text endpoint: these metrics with wsgate_ names, and the Go
// runtime's and the process's standard collectors.
func (m *Metrics) Handler() http.Handler { return newPromHandler(m) }
