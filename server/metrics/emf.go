package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wsgate/wsgate/contract"
)

// CloudWatch units of the metrics.
const (
	unitCount        = "Count"
	unitMilliseconds = "Milliseconds"
)

// EmitterConfig configures an Emitter.
type EmitterConfig struct {
	// Service is the value of the ServiceName dimension. Required.
	Service string
	// Out receives the records, one JSON object per line, each in one Write call (os.Stdout
	// in the server: the awslogs driver makes every line a log event). Required.
	Out io.Writer
	// Now stamps the records. Default: time.Now.
	Now func() time.Time
}

// Emitter writes the metrics as CloudWatch Embedded Metric Format records: counters as what
// changed since its previous Emit, gauges as they are now, durations as the changes of
// their histograms (value and count arrays). Emit and Run are safe for concurrent use.
type Emitter struct {
	m    *Metrics
	cfg  EmitterConfig
	mu   sync.Mutex // serializes emissions, so records are whole lines and deltas do not overlap
	last Snapshot
}

// NewEmitter returns an emitter of m's metrics. Its first Emit carries everything counted
// since m was made.
func (m *Metrics) NewEmitter(cfg EmitterConfig) *Emitter {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Emitter{m: m, cfg: cfg}
}

// Emit writes the records of one interval: one with every metric under the ServiceName
// dimension, then one per route and outcome, and one per limit, that counted anything since
// the previous Emit. A write error leaves the interval open: the next Emit carries its
// counts again.
func (e *Emitter) Emit() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.m.Snapshot()
	lines, err := encodeRecords(e.cfg.Service, e.cfg.Now(), cur, e.last)
	if err != nil {
		return err
	}
	for _, line := range lines {
		if _, err := e.cfg.Out.Write(line); err != nil {
			return fmt.Errorf("metrics: write EMF record: %w", err)
		}
	}
	e.last = cur
	return nil
}

// Run calls Emit on every tick until ctx ends, passing its errors to onErr (nil: ignored).
func (e *Emitter) Run(ctx context.Context, ticks <-chan time.Time, onErr func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			if err := e.Emit(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// metadata is an EMF record's _aws member.
type metadata struct {
	Timestamp         int64       // milliseconds since the epoch
	CloudWatchMetrics []directive // one here: a record has one namespace
}

// directive is a MetricDirective: which top-level members are metrics, under which
// dimension sets.
type directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []definition
}

// definition is a MetricDefinition.
type definition struct {
	Name string
	Unit string
}

// distribution is a histogram as an EMF metric value: the Values and Counts arrays (at most
// 100 entries) with their statistic set, the form CloudWatch takes from the CloudWatch
// agent and the OpenTelemetry EMF exporter. Each value stands for its bucket's durations
// (see representative); Min and Max are the bounds of the lowest and highest bucket used;
// Sum is exact.
type distribution struct {
	Values []float64
	Counts []uint64
	Max    float64
	Min    float64
	Count  uint64
	Sum    float64
}

// record gathers one EMF record's members before encoding.
type record struct {
	dims    []string
	metrics []definition
	members map[string]any
}

func newRecord(service string, dims ...[2]string) *record {
	r := &record{dims: []string{contract.DimensionServiceName}, members: map[string]any{contract.DimensionServiceName: service}}
	for _, d := range dims {
		r.dims = append(r.dims, d[0])
		r.members[d[0]] = d[1]
	}
	return r
}

func (r *record) add(name, unit string, v any) {
	r.metrics = append(r.metrics, definition{Name: name, Unit: unit})
	r.members[name] = v
}

// addDistribution adds h unless it is empty: an EMF metric needs a value, and an interval
// without a request has no latency.
func (r *record) addDistribution(name string, h HistogramSnapshot) {
	if d, ok := toDistribution(h); ok {
		r.add(name, unitMilliseconds, d)
	}
}

func (r *record) encode(ts time.Time) ([]byte, error) {
	r.members["_aws"] = metadata{
		Timestamp:         ts.UnixMilli(),
		CloudWatchMetrics: []directive{{Namespace: contract.MetricNamespace, Dimensions: [][]string{r.dims}, Metrics: r.metrics}},
	}
	b, err := json.Marshal(r.members)
	if err != nil {
		return nil, fmt.Errorf("metrics: encode EMF record: %w", err)
	}
	return append(b, '\n'), nil
}

// encodeRecords builds the records of the interval from prev to cur.
func encodeRecords(service string, ts time.Time, cur, prev Snapshot) ([][]byte, error) {
	main := newRecord(service)
	main.add(contract.MetricIntegrationRequests, unitCount, delta(cur.TotalRequests(), prev.TotalRequests()))
	main.addDistribution(contract.MetricIntegrationLatency, cur.IntegrationLatency.Sub(prev.IntegrationLatency))
	main.add(contract.MetricSessions, unitCount, cur.Sessions)
	main.add(contract.MetricViewModels, unitCount, cur.ViewModels)
	main.add(contract.MetricPushesSent, unitCount, delta(cur.PushesSent, prev.PushesSent))
	main.add(contract.MetricPushesRetried, unitCount, delta(cur.PushesRetried, prev.PushesRetried))
	main.add(contract.MetricPushesGone, unitCount, delta(cur.PushesGone, prev.PushesGone))
	main.add(contract.MetricPushesFailed, unitCount, delta(cur.PushesFailed, prev.PushesFailed))
	main.add(contract.MetricPushesDropped, unitCount, delta(cur.PushesDropped, prev.PushesDropped))
	main.addDistribution(contract.MetricPushLatency, cur.PushLatency.Sub(prev.PushLatency))
	main.addDistribution(contract.MetricPacerWait, cur.Pacer.Sub(prev.Pacer))
	main.add(contract.MetricLimitRefusals, unitCount, delta(cur.TotalLimitRefusals(), prev.TotalLimitRefusals()))
	records := []*record{main}
	for r, route := range routes {
		for o, outcome := range outcomes {
			if n := delta(cur.Requests[r][o], prev.Requests[r][o]); n > 0 {
				rec := newRecord(service, [2]string{contract.DimensionRoute, route}, [2]string{contract.DimensionOutcome, outcome})
				rec.add(contract.MetricIntegrationRequests, unitCount, n)
				records = append(records, rec)
			}
		}
	}
	for l := range numLimits {
		if n := delta(cur.LimitRefusals[l], prev.LimitRefusals[l]); n > 0 {
			rec := newRecord(service, [2]string{contract.DimensionLimit, l.String()})
			rec.add(contract.MetricLimitRefusals, unitCount, n)
			records = append(records, rec)
		}
	}
	lines := make([][]byte, 0, len(records))
	for _, rec := range records {
		b, err := rec.encode(ts)
		if err != nil {
			return nil, err
		}
		lines = append(lines, b)
	}
	return lines, nil
}

// delta is what a counter counted since prev; never negative.
func delta(cur, prev uint64) uint64 {
	if cur < prev {
		return 0
	}
	return cur - prev
}

// toDistribution turns a histogram's changes into an EMF value; false when it is empty.
func toDistribution(h HistogramSnapshot) (distribution, bool) {
	var d distribution
	lowest, highest := -1, -1
	for i, c := range h.Counts {
		if c == 0 {
			continue
		}
		if lowest < 0 {
			lowest = i
		}
		highest = i
		d.Values = append(d.Values, representative(i))
		d.Counts = append(d.Counts, c)
		d.Count += c
	}
	if d.Count == 0 {
		return distribution{}, false
	}
	d.Min, _ = bucketRange(lowest)
	_, d.Max = bucketRange(highest)
	d.Sum = float64(max(h.SumNs, 0)) / 1e6
	return d, true
}
