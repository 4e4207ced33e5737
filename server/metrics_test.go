package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/internal/sink"
	"github.com/wsgate/wsgate/server"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/metrics/emfcheck"
)

// syncBuffer is the EMF output: Serve writes it from its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// take returns the records written so far, each checked against the EMF specification.
func (b *syncBuffer) take(t *testing.T) []emfcheck.Record {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var recs []emfcheck.Record
	for _, line := range bytes.SplitAfter(b.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		rec, err := emfcheck.Check(line)
		if err != nil {
			t.Fatalf("record breaks the EMF specification: %v\n%s", err, line)
		}
		recs = append(recs, rec)
	}
	b.buf.Reset()
	return recs
}

// values sums each metric over the records with exactly the given extra dimensions.
func values(t *testing.T, recs []emfcheck.Record, dims ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, r := range recs {
		set := r.Dimensions[0]
		if len(set) != 1+len(dims)/2 {
			continue
		}
		match := true
		for i := 0; i < len(dims); i += 2 {
			var v string
			if json.Unmarshal(r.Members[dims[i]], &v) != nil || v != dims[i+1] {
				match = false
			}
		}
		if !match {
			continue
		}
		for name := range r.Units {
			var v float64
			if json.Unmarshal(r.Members[name], &v) == nil {
				out[name] += v
			}
		}
	}
	return out
}

func expectValues(t *testing.T, what string, got map[string]float64, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s = %v, want %v", what, name, got[name], w)
		}
	}
}

// A scripted run through New and Serve against the SigV4-verifying sink: the EMF records
// and the Prometheus endpoint count exactly what happened (requests by route and outcome,
// frames pushed, a limit's refusal, sessions and view models), a record is written once
// more after the drain, and no record names a connection.
func TestMetricsCountAScriptedRun(t *testing.T) {
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	promLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	srv, err := server.New(server.Config{
		Settings: config.Config{CallbackURL: sk.URL, Region: contract.DefaultLocalRegion, MaxVMsPerConnection: 1,
			ServiceName: "chat", MetricsInterval: time.Hour}, // no tick during the test: it emits by hand
		Registry:        counterRegistry(),
		Credentials:     localCredentials,
		Logger:          slog.New(slog.DiscardHandler),
		Clock:           func() time.Time { return now },
		MetricsOutput:   out,
		MetricsListener: promLn,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, shutdown := serveLoopback(t, srv)
	base := "http://" + addr
	const conn = "Wm1nYcO3IAMCJ2w="
	body := func(payload string) string { return `{"connectionId":"` + conn + `","payload":` + payload + `}` }

	post(t, base+contract.PathMessage, `{"connectionId":"`+conn+`"}`) // $connect
	post(t, base+contract.PathMessage, body(`{"callType":"request_vm","vmId":"CounterVM","vmArgs":"{}"}`))
	const updates = 5
	for range updates {
		post(t, base+contract.PathMessage, body(`{"callType":"update_vm","vmId":"CounterVM","value":"{\"Increment\":\"\"}"}`))
	}
	// Over MaxVMsPerConnection: the client gets an exception frame, the limit a refusal.
	post(t, base+contract.PathMessage, body(`{"callType":"request_vm","vmId":"CounterVM$2","vmArgs":"{}"}`))
	resp, err := http.Post(base+contract.PathMessage, "application/json", strings.NewReader(`{"connectionId":`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("malformed body: %d, want 400", resp.StatusCode)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const frames = 1 + updates + 1
	if _, err := sk.WaitFrames(wctx, conn, frames); err != nil {
		t.Fatalf("%v; rejected %q", err, sk.Rejected())
	}
	if err := srv.Flush(wctx); err != nil {
		t.Fatal(err)
	}

	if err := srv.EmitMetrics(); err != nil {
		t.Fatal(err)
	}
	recs := out.take(t)
	expectValues(t, "first record", values(t, recs), map[string]float64{
		contract.MetricIntegrationRequests: 1 + 1 + updates + 1 + 1, contract.MetricSessions: 1, contract.MetricViewModels: 1,
		contract.MetricPushesSent: frames, contract.MetricPushesFailed: 0, contract.MetricPushesDropped: 0,
		contract.MetricLimitRefusals: 1,
	})
	expectValues(t, "$connect ok", values(t, recs, contract.DimensionRoute, contract.RouteConnect, contract.DimensionOutcome, contract.OutcomeOK),
		map[string]float64{contract.MetricIntegrationRequests: 1})
	expectValues(t, "$default ok", values(t, recs, contract.DimensionRoute, contract.RouteDefault, contract.DimensionOutcome, contract.OutcomeOK),
		map[string]float64{contract.MetricIntegrationRequests: 1 + updates + 1})
	expectValues(t, "$default rejected", values(t, recs, contract.DimensionRoute, contract.RouteDefault, contract.DimensionOutcome, contract.OutcomeRejected),
		map[string]float64{contract.MetricIntegrationRequests: 1})
	expectValues(t, "VMsPerConnection", values(t, recs, contract.DimensionLimit, contract.LimitVMsPerConnection),
		map[string]float64{contract.MetricLimitRefusals: 1})
	for _, r := range recs {
		if r.Timestamp != now.UnixMilli() {
			t.Errorf("record stamped %d, want the server's clock %d", r.Timestamp, now.UnixMilli())
		}
		var d struct{ Count float64 }
		if raw, ok := r.Members[contract.MetricPushLatency]; ok && (json.Unmarshal(raw, &d) != nil || d.Count != frames) {
			t.Errorf("PushLatency %s, want %d frames", raw, frames)
		}
	}

	// The Prometheus endpoint, scraped like Prometheus does, shows the same totals.
	fams := scrapeMetrics(t, "http://"+promLn.Addr().String()+"/metrics")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wsgate_integration_requests_total", map[string]string{"route": contract.RouteConnect, "outcome": contract.OutcomeOK}, 1},
		{"wsgate_integration_requests_total", map[string]string{"route": contract.RouteDefault, "outcome": contract.OutcomeOK}, 1 + updates + 1},
		{"wsgate_integration_requests_total", map[string]string{"route": contract.RouteDefault, "outcome": contract.OutcomeRejected}, 1},
		{"wsgate_pushes_sent_total", nil, frames},
		{"wsgate_sessions", nil, 1},
		{"wsgate_view_models", nil, 1},
		{"wsgate_limit_refusals_total", map[string]string{"limit": contract.LimitVMsPerConnection}, 1},
	} {
		if got := sample(t, fams, c.name, c.labels); got != c.want {
			t.Errorf("Prometheus %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if h := fams["wsgate_push_latency_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() != frames {
		t.Errorf("Prometheus push latency count %d, want %d", h.GetSampleCount(), frames)
	}

	post(t, base+contract.PathDisconnect, `{"connectionId":"`+conn+`"}`)
	if err := shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// The record written after the drain: only what happened since the previous one.
	recs = out.take(t)
	expectValues(t, "shutdown record", values(t, recs), map[string]float64{
		contract.MetricIntegrationRequests: 1, contract.MetricSessions: 0, contract.MetricViewModels: 0,
		contract.MetricPushesSent: 0, contract.MetricLimitRefusals: 0,
	})
	expectValues(t, "$disconnect ok", values(t, recs, contract.DimensionRoute, contract.RouteDisconnect, contract.DimensionOutcome, contract.OutcomeOK),
		map[string]float64{contract.MetricIntegrationRequests: 1})
	if len(recs) != 2 {
		t.Errorf("%d records after the drain, want the main one and $disconnect ok", len(recs))
	}
	for _, r := range recs {
		for name, raw := range r.Members {
			if strings.Contains(string(raw), conn) {
				t.Errorf("member %s names the connection: %s", name, raw)
			}
		}
	}
	if _, err := http.Get("http://" + promLn.Addr().String() + "/metrics"); err == nil {
		t.Error("the Prometheus endpoint still answers after Serve returned")
	}
}

// With no interval the server writes no records, not even at shutdown.
func TestNoMetricsRecordsWithoutInterval(t *testing.T) {
	sk, err := sink.Start(sink.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	out := &syncBuffer{}
	srv, err := server.New(server.Config{
		Settings: config.Config{CallbackURL: sk.URL, Region: contract.DefaultLocalRegion},
		Registry: counterRegistry(), Credentials: localCredentials, Logger: slog.New(slog.DiscardHandler), MetricsOutput: out,
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, shutdown := serveLoopback(t, srv)
	post(t, "http://"+addr+contract.PathMessage, `{"connectionId":"c1"}`)
	if err := shutdown(); err != nil {
		t.Fatal(err)
	}
	if recs := out.take(t); len(recs) != 0 {
		t.Errorf("%d records with MetricsInterval 0", len(recs))
	}
	if got := srv.Metrics().IntegrationRequests(contract.RouteConnect, contract.OutcomeOK); got != 1 {
		t.Errorf("Metrics: $connect ok = %d, want 1 (counted even without records)", got)
	}
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
				continue next
			}
		}
		if f.GetType() == dto.MetricType_GAUGE {
			return m.GetGauge().GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
