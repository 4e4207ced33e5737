package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/metrics"
	"github.com/wsgate/wsgate/server/metrics/emfcheck"
)

// clock is a test clock: it moves only when the test says.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// readings is a fake of what the push client and the runtime count, set by the test.
type readings struct {
	mu sync.Mutex
	r  metrics.Readings
}

func (r *readings) read() metrics.Readings { r.mu.Lock(); defer r.mu.Unlock(); return r.r }
func (r *readings) set(fn func(*metrics.Readings)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.r)
}

// emitted checks every line of out against the EMF specification and returns the records.
func emitted(t *testing.T, out *bytes.Buffer) []emfcheck.Record {
	t.Helper()
	var recs []emfcheck.Record
	for _, line := range bytes.SplitAfter(out.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		rec, err := emfcheck.Check(line)
		if err != nil {
			t.Fatalf("record breaks the EMF specification: %v\n%s", err, line)
		}
		recs = append(recs, rec)
	}
	out.Reset()
	return recs
}

// find returns the record with exactly these dimension values.
func find(t *testing.T, recs []emfcheck.Record, dims map[string]string) emfcheck.Record {
	t.Helper()
	for _, r := range recs {
		if len(r.Dimensions) != 1 || len(r.Dimensions[0]) != len(dims) {
			continue
		}
		match := true
		for _, name := range r.Dimensions[0] {
			var v string
			if json.Unmarshal(r.Members[name], &v) != nil || dims[name] != v {
				match = false
			}
		}
		if match {
			return r
		}
	}
	t.Fatalf("no record with dimensions %v among %d", dims, len(recs))
	return emfcheck.Record{}
}

func number(t *testing.T, r emfcheck.Record, name string) float64 {
	t.Helper()
	var v float64
	if err := json.Unmarshal(r.Members[name], &v); err != nil {
		t.Fatalf("%s: %s is not a number", name, r.Members[name])
	}
	return v
}

type distribution struct {
	Values, Counts       []float64
	Max, Min, Count, Sum float64
}

func dist(t *testing.T, r emfcheck.Record, name string) distribution {
	t.Helper()
	var d distribution
	if err := json.Unmarshal(r.Members[name], &d); err != nil {
		t.Fatalf("%s: %s is not a distribution", name, r.Members[name])
	}
	return d
}

// The first record carries everything counted so far, the next only what changed, gauges
// as they are now; every record follows the specification, is stamped by the clock, and a
// route, outcome or limit with nothing to count has no record.
func TestEmitWritesDeltasAndGaugesAsEMF(t *testing.T) {
	rd := &readings{}
	m := metrics.New(rd.read)
	clk := &clock{t: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)}
	var out bytes.Buffer
	e := m.NewEmitter(metrics.EmitterConfig{Service: "chat", Out: &out, Now: clk.now})

	for range 5 {
		m.ObserveRequest(contract.RouteDefault, http.StatusOK, 2*time.Millisecond)
	}
	m.ObserveRequest(contract.RouteConnect, http.StatusOK, 500*time.Microsecond)
	m.ObserveRequest(contract.RouteDefault, http.StatusBadRequest, time.Millisecond)
	m.ObserveRequest(contract.RouteDisconnect, http.StatusInternalServerError, 3*time.Millisecond)
	m.ObservePush(40 * time.Millisecond)
	m.ObservePush(40 * time.Millisecond)
	m.ObservePacerWait(0)
	rd.set(func(r *metrics.Readings) {
		r.Sessions, r.ViewModels = 3, 7
		r.PushesSent, r.PushesRetried, r.PushesGone, r.PushesFailed, r.PushesDropped = 2, 1, 1, 0, 4
		r.LimitRefusals[metrics.LimitVMsPerConnection] = 2
		r.LimitRefusals[metrics.LimitPushQueue] = 1
	})
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	recs := emitted(t, &out)
	if len(recs) != 1+4+2 {
		t.Fatalf("%d records, want the main one, 4 route/outcome ones and 2 limit ones", len(recs))
	}
	main := find(t, recs, map[string]string{contract.DimensionServiceName: "chat"})
	if main.Namespace != contract.MetricNamespace || main.Timestamp != clk.t.UnixMilli() {
		t.Errorf("namespace %q, timestamp %d", main.Namespace, main.Timestamp)
	}
	for name, want := range map[string]float64{
		contract.MetricIntegrationRequests: 8, contract.MetricSessions: 3, contract.MetricViewModels: 7,
		contract.MetricPushesSent: 2, contract.MetricPushesRetried: 1, contract.MetricPushesGone: 1,
		contract.MetricPushesFailed: 0, contract.MetricPushesDropped: 4, contract.MetricLimitRefusals: 3,
	} {
		if got := number(t, main, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
		if main.Units[name] != "Count" {
			t.Errorf("%s unit %q, want Count", name, main.Units[name])
		}
	}
	lat := dist(t, main, contract.MetricIntegrationLatency)
	if lat.Count != 8 || lat.Sum != 5*2+0.5+1+3 || main.Units[contract.MetricIntegrationLatency] != "Milliseconds" {
		t.Errorf("IntegrationLatency %+v", lat)
	}
	if p := dist(t, main, contract.MetricPushLatency); p.Count != 2 || p.Sum != 80 || len(p.Values) != 1 || p.Min > 40 || p.Max < 40 {
		t.Errorf("PushLatency %+v", p)
	}
	if p := dist(t, main, contract.MetricPacerWait); p.Count != 1 || p.Sum != 0 {
		t.Errorf("PacerWait %+v", p)
	}
	for _, c := range []struct {
		route, outcome string
		n              float64
	}{
		{contract.RouteDefault, contract.OutcomeOK, 5}, {contract.RouteConnect, contract.OutcomeOK, 1},
		{contract.RouteDefault, contract.OutcomeRejected, 1}, {contract.RouteDisconnect, contract.OutcomeError, 1},
	} {
		r := find(t, recs, map[string]string{contract.DimensionServiceName: "chat", contract.DimensionRoute: c.route, contract.DimensionOutcome: c.outcome})
		if got := number(t, r, contract.MetricIntegrationRequests); got != c.n {
			t.Errorf("%s %s: %v, want %v", c.route, c.outcome, got, c.n)
		}
	}
	for limit, want := range map[string]float64{contract.LimitVMsPerConnection: 2, contract.LimitPushQueue: 1} {
		r := find(t, recs, map[string]string{contract.DimensionServiceName: "chat", contract.DimensionLimit: limit})
		if got := number(t, r, contract.MetricLimitRefusals); got != want {
			t.Errorf("LimitRefusals %s: %v, want %v", limit, got, want)
		}
	}

	// The next interval: one more request, a session fewer.
	clk.t = clk.t.Add(time.Minute)
	m.ObserveRequest(contract.RouteDefault, http.StatusOK, time.Millisecond)
	rd.set(func(r *metrics.Readings) { r.Sessions = 2; r.PushesSent = 5 })
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	recs = emitted(t, &out)
	if len(recs) != 2 {
		t.Fatalf("%d records, want the main one and $default ok", len(recs))
	}
	main = find(t, recs, map[string]string{contract.DimensionServiceName: "chat"})
	if main.Timestamp != clk.t.UnixMilli() {
		t.Errorf("timestamp %d, want %d", main.Timestamp, clk.t.UnixMilli())
	}
	for name, want := range map[string]float64{
		contract.MetricIntegrationRequests: 1, contract.MetricSessions: 2, contract.MetricViewModels: 7,
		contract.MetricPushesSent: 3, contract.MetricPushesDropped: 0, contract.MetricLimitRefusals: 0,
	} {
		if got := number(t, main, name); got != want {
			t.Errorf("second interval: %s = %v, want %v", name, got, want)
		}
	}
	// An interval without pushes has no push latency: a metric needs a value.
	for _, name := range []string{contract.MetricPushLatency, contract.MetricPacerWait} {
		if _, ok := main.Members[name]; ok {
			t.Errorf("%s present in an interval without any", name)
		}
	}
}

// Durations on the buckets' edges land in the right bucket: a value stands for its bucket's
// durations and the distribution's Min and Max bound them. Durations past the last bound
// land in one bucket; a histogram never has more than 100 values.
func TestHistogramBuckets(t *testing.T) {
	m := metrics.New(nil)
	var out bytes.Buffer
	e := m.NewEmitter(metrics.EmitterConfig{Service: "wsgate", Out: &out, Now: time.Now})
	m.ObservePush(time.Millisecond)     // exactly a bound: the bucket (0.8, 1]
	m.ObservePush(time.Millisecond + 1) // just over: (1, 1.25]
	m.ObservePush(200 * time.Second)    // over the last bound
	m.ObservePush(time.Hour)            // the same bucket
	m.ObservePush(-time.Second)         // a clock step back counts as zero
	for d := time.Microsecond; d < 2*time.Minute; d = d * 11 / 10 {
		m.ObservePacerWait(d)
	}
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	main := find(t, emitted(t, &out), map[string]string{contract.DimensionServiceName: "wsgate"})
	p := dist(t, main, contract.MetricPushLatency)
	want := distribution{Values: []float64{0.05, 0.9, 1.125, 100000}, Counts: []float64{1, 1, 1, 2}, Min: 0, Max: 100000, Count: 5}
	if len(p.Values) != len(want.Values) || p.Min != want.Min || p.Max != want.Max || p.Count != want.Count {
		t.Fatalf("PushLatency %+v, want %+v", p, want)
	}
	for i := range want.Values {
		if p.Values[i] != want.Values[i] || p.Counts[i] != want.Counts[i] {
			t.Errorf("bucket %d: %v×%v, want %v×%v", i, p.Values[i], p.Counts[i], want.Values[i], want.Counts[i])
		}
	}
	if w := dist(t, main, contract.MetricPacerWait); len(w.Values) > 100 || len(w.Values) < 60 {
		t.Errorf("PacerWait has %d values, want all 62 buckets used at most", len(w.Values))
	}
}

// A failed write leaves the interval open: the next Emit carries its counts.
func TestEmitAfterAFailedWriteCarriesTheCountsAgain(t *testing.T) {
	m := metrics.New(nil)
	w := &failingWriter{fail: true}
	e := m.NewEmitter(metrics.EmitterConfig{Service: "wsgate", Out: w, Now: time.Now})
	m.ObserveRequest(contract.RouteDefault, http.StatusOK, time.Millisecond)
	if err := e.Emit(); err == nil || !strings.Contains(err.Error(), "metrics: write EMF record: disk full") {
		t.Fatalf("Emit: %v", err)
	}
	w.fail = false
	if err := e.Emit(); err != nil {
		t.Fatal(err)
	}
	main := find(t, emitted(t, &w.buf), map[string]string{contract.DimensionServiceName: "wsgate"})
	if got := number(t, main, contract.MetricIntegrationRequests); got != 1 {
		t.Errorf("IntegrationRequests %v after the failed write, want 1", got)
	}
}

type failingWriter struct {
	fail bool
	buf  bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errDiskFull
	}
	return w.buf.Write(p)
}

var errDiskFull = &writeError{"disk full"}

type writeError struct{ s string }

func (e *writeError) Error() string { return e.s }

// Run emits on every tick it is given and stops when its context ends.
func TestRunEmitsOnEachTick(t *testing.T) {
	m := metrics.New(nil)
	var mu sync.Mutex
	var out bytes.Buffer
	e := m.NewEmitter(metrics.EmitterConfig{Service: "wsgate", Out: lockedWriter{&mu, &out}, Now: time.Now})
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx, ticks, func(err error) { t.Error(err) }); close(done) }()
	ticks <- time.Time{}
	ticks <- time.Time{} // taken only once the first tick's Emit returned
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Run took the second tick before cancel, so it emitted twice before it returned.
	if n := bytes.Count(out.Bytes(), []byte("\n")); n != 2 {
		t.Errorf("%d records after two ticks, want 2", n)
	}
	emitted(t, &out)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The Prometheus endpoint, scraped with a real GET and parsed with the client library's text
// parser, shows the same counts with wsgate_ names, plus the Go and process collectors.
func TestPrometheusEndpoint(t *testing.T) {
	rd := &readings{}
	m := metrics.New(rd.read)
	for range 3 {
		m.ObserveRequest(contract.RouteDefault, http.StatusOK, 2*time.Millisecond)
	}
	m.ObserveRequest(contract.RouteConnect, http.StatusUnauthorized, time.Millisecond)
	m.ObservePush(3 * time.Millisecond)
	rd.set(func(r *metrics.Readings) {
		r.Sessions, r.ViewModels, r.PushesSent, r.PushesDropped = 2, 5, 1, 6
		r.LimitRefusals[metrics.LimitPendingBytes] = 4
	})
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	fams := scrape(t, ts.URL)
	counter := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
		for _, mt := range f.GetMetric() {
			if hasLabels(mt, labels) {
				if f.GetType() == dto.MetricType_GAUGE {
					return mt.GetGauge().GetValue()
				}
				return mt.GetCounter().GetValue()
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wsgate_integration_requests_total", map[string]string{"route": "$default", "outcome": "ok"}, 3},
		{"wsgate_integration_requests_total", map[string]string{"route": "$connect", "outcome": "rejected"}, 1},
		{"wsgate_integration_requests_total", map[string]string{"route": "$disconnect", "outcome": "error"}, 0},
		{"wsgate_sessions", nil, 2},
		{"wsgate_view_models", nil, 5},
		{"wsgate_pushes_sent_total", nil, 1},
		{"wsgate_pushes_dropped_total", nil, 6},
		{"wsgate_limit_refusals_total", map[string]string{"limit": contract.LimitPendingBytes}, 4},
		{"wsgate_limit_refusals_total", map[string]string{"limit": contract.LimitVMIDBytes}, 0},
	} {
		if got := counter(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	h := fams["wsgate_integration_latency_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 4 || h.GetSampleSum() < 0.00699 || h.GetSampleSum() > 0.00701 {
		t.Errorf("integration latency: count %d sum %v, want 4 and 0.007", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 0.0025:
			want = 4
		case b.GetUpperBound() >= 0.001:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("integration latency bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	finite := 0
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) {
			finite++
		}
	}
	if finite != 19 {
		t.Errorf("%d buckets, want 19 (1, 2.5 and 5 of each decade from 0.1 ms to 100 s)", finite)
	}
	for _, std := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[std] == nil {
			t.Errorf("no %s: the standard collectors are missing", std)
		}
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}
