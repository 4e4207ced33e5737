package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// promBoundsIdx picks the Prometheus buckets out of boundsMs: 1, 2.5 and 5 of each decade
// (0.1 ms to 100 s), 19 buckets instead of 61. Each is one of the histogram's own bounds, so
// its cumulative count is exact.
var promBoundsIdx = func() []int {
	var out []int
	for i, b := range boundsMs {
		m := b
		for m >= 10 {
			m /= 10
		}
		for m < 1 {
			m *= 10
		}
		if m == 1 || m == 2.5 || m == 5 {
			out = append(out, i)
		}
	}
	return out
}()

// collector exposes a Snapshot as Prometheus metrics at each scrape.
type collector struct {
	m                                          *Metrics
	requests, sessions, viewModels, limits     *prometheus.Desc
	sent, retried, gone, failed, dropped       *prometheus.Desc
	integrationLatency, pushLatency, pacerWait *prometheus.Desc
}

func newCollector(m *Metrics) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wsgate_"+name, help, labels, nil)
	}
	return &collector{
		m:                  m,
		requests:           d("integration_requests_total", "Integration requests answered, by API Gateway route and outcome (ok: 2xx, rejected: 4xx, error: 5xx).", "route", "outcome"),
		integrationLatency: d("integration_latency_seconds", "Time to answer an integration request."),
		sessions:           d("sessions", "Connections the runtime holds a session for."),
		viewModels:         d("view_models", "View models the sessions hold."),
		sent:               d("pushes_sent_total", "Frames the gateway accepted."),
		retried:            d("pushes_retried_total", "Requests to the gateway sent again after a 429, a 5xx or a first 403."),
		gone:               d("pushes_gone_total", "Frames answered 410: the client had left."),
		failed:             d("pushes_failed_total", "Frames not delivered after retries, and closes that failed; each closes its connection."),
		dropped:            d("pushes_dropped_total", "Frames discarded unsent: behind a failed frame, over a queue bound, for a gone or closing connection."),
		pushLatency:        d("push_latency_seconds", "Time from queuing a frame to the gateway accepting it."),
		pacerWait:          d("pacer_wait_seconds", "Time each request to the gateway waited for the push pacer."),
		limits:             d("limit_refusals_total", "What a per-connection limit refused, by limit.", "limit"),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.integrationLatency, c.sessions, c.viewModels, c.sent, c.retried,
		c.gone, c.failed, c.dropped, c.pushLatency, c.pacerWait, c.limits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.Snapshot()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
	}
	for r, route := range routes {
		for o, outcome := range outcomes {
			counter(c.requests, s.Requests[r][o], route, outcome)
		}
	}
	ch <- promHistogram(c.integrationLatency, s.IntegrationLatency)
	gauge(c.sessions, s.Sessions)
	gauge(c.viewModels, s.ViewModels)
	counter(c.sent, s.PushesSent)
	counter(c.retried, s.PushesRetried)
	counter(c.gone, s.PushesGone)
	counter(c.failed, s.PushesFailed)
	counter(c.dropped, s.PushesDropped)
	ch <- promHistogram(c.pushLatency, s.PushLatency)
	ch <- promHistogram(c.pacerWait, s.Pacer)
	for l := range numLimits {
		counter(c.limits, s.LimitRefusals[l], l.String())
	}
}

// promHistogram is h as a Prometheus histogram in seconds, with cumulative buckets.
func promHistogram(d *prometheus.Desc, h HistogramSnapshot) prometheus.Metric {
	buckets := make(map[float64]uint64, len(promBoundsIdx))
	var cum uint64
	next := 0
	for _, idx := range promBoundsIdx {
		for ; next <= idx; next++ {
			cum += h.Counts[next]
		}
		buckets[boundsMs[idx]/1000] = cum
	}
	return prometheus.MustNewConstHistogram(d, h.Count(), float64(h.SumNs)/1e9, buckets)
}

// newPromHandler serves m's metrics and the standard Go and process collectors from a
// registry of its own (not the global one, so that two servers in one process do not clash).
func newPromHandler(m *Metrics) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(m), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
