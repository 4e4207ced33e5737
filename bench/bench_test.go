package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewGoalMet(t *testing.T) {
	for _, tc := range []struct {
		value, target float64
		op            string
		met           bool
	}{
		{1.2, 1.25, "<=", true}, {1.25, 1.25, "<=", true}, {1.3, 1.25, "<=", false},
		{0.8, 0.8, ">=", true}, {0.79, 0.8, ">=", false}, {math.NaN(), 1, "<=", false}, {math.NaN(), 1, ">=", false},
	} {
		if g := NewGoal("g", tc.value, tc.op, tc.target, "x"); g.Met != tc.met {
			t.Errorf("%v %s %v: met = %v, want %v", tc.value, tc.op, tc.target, g.Met, tc.met)
		}
	}
}

func TestDescribeAndFormat(t *testing.T) {
	for _, tc := range []struct {
		g    Goal
		want string
	}{
		{NewGoal("g", 1.0812, "<=", 1.25, "x"), "1.08x <= 1.25x  met"},
		{NewGoal("g", 0.5, ">=", 0.8, "x"), "0.5x >= 0.8x  NOT MET"},
		{NewGoal("g", 3, "<=", 0, "frames"), "3 frames <= 0 frames  NOT MET"},
		{NewGoal("g", 12345.6, "<=", 20480, "B"), "12346 B <= 20480 B  met"},
		{NewGoal("g", math.NaN(), "<=", 1, "x"), "n/ax <= 1x  NOT MET"},
	} {
		if got := tc.g.Describe(); got != tc.want {
			t.Errorf("Describe() = %q, want %q", got, tc.want)
		}
	}
}

func sampleResult() *Result {
	r := &Result{
		Scenario: "sample", Title: "Sample <&> title",
		Columns: []Column{{Key: "a", Header: "A", Chart: true}, {Key: "b", Header: "B"}},
		Goals:   []Goal{NewGoal("ratio", 1.1, "<=", 1.25, "x"), NewGoal("missing", math.NaN(), ">=", 0.8, "x")},
		Notes:   []string{"a note"}, Counters: map[string]float64{"retried": 3},
	}
	r.add("base", RoleBaseline, map[string]float64{"a": 10, "b": 2})
	r.add("ours", RoleSubject, map[string]float64{"a": 11, "b": math.Inf(1)})
	return r
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"measurement|", "role|", "A|", "B|", "baseline|", "10|", "n/a|", "ratio", "1.1x <= 1.25x  met", "NOT MET", "retried", "note  a note"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestWriteFilesSanitizesAndChartParses(t *testing.T) {
	dir := t.TempDir()
	r := sampleResult()
	if err := WriteFiles(dir, r); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatalf("JSON does not decode: %v\n%s", err, data)
	}
	if back.Measurements[1].Metrics["b"] != -1 || back.Goals[1].Value != -1 {
		t.Errorf("NaN and Inf must be written as -1: %+v %+v", back.Measurements[1], back.Goals[1])
	}
	if !math.IsInf(r.Measurements[1].Metrics["b"], 1) {
		t.Error("WriteFiles changed the caller's result")
	}
	svg, err := os.ReadFile(filepath.Join(dir, "sample.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{ XMLName xml.Name })); err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
	}
	for _, want := range []string{"Sample &lt;&amp;&gt; title", ">base<", ">ours<", "Goals"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}

func TestRunRejectsUnknownScenarioBeforeRunningAny(t *testing.T) {
	results, err := Run(context.Background(), []string{"push-cost", "warp-speed"}, Options{})
	var unknown *UnknownScenarioError
	if !errors.As(err, &unknown) || unknown.Name != "warp-speed" || len(results) != 0 {
		t.Fatalf("Run = %v, %v; want an UnknownScenarioError for warp-speed and no results", results, err)
	}
	if want := `unknown scenario "warp-speed" (known: push-cost, fan-out, round-trip, integration, footprint, load, fault)`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestSeqTracker(t *testing.T) {
	var tr seqTracker
	for _, k := range []int{1, 2, 4, 3, 4, 5, 5} {
		tr.saw(k)
	}
	if len(tr.seen) != 5 || tr.duplicated != 2 || tr.reordered != 1 {
		t.Errorf("seen %d, duplicated %d, reordered %d; want 5, 2, 1", len(tr.seen), tr.duplicated, tr.reordered)
	}
}

func TestSourceAddrSpreadsOverLoopback(t *testing.T) {
	for _, tc := range []struct {
		i, group int
		want     string
	}{{0, 20, "127.0.1.2"}, {19, 20, "127.0.1.2"}, {20, 20, "127.0.1.3"}, {249 * 20, 20, "127.0.1.251"}, {250 * 20, 20, "127.0.2.2"}} {
		if got := sourceAddr(tc.i, tc.group).String(); got != tc.want {
			t.Errorf("sourceAddr(%d, %d) = %s, want %s", tc.i, tc.group, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if percentile(d, 50) != 50 || percentile(d, 99) != 99 || percentile(d, 100) != 100 || percentile(nil, 50) != 0 {
		t.Errorf("percentiles: %v %v %v", percentile(d, 50), percentile(d, 99), percentile(d, 100))
	}
}

// After a kill and restart the clients' sockets stay open; the restarted server closes each
// connection whose probe (update_vm) it holds no session for, the clients reconnect,
// re-request their view models and answer their probes.
func TestRestartDrillMeasuresRecovery(t *testing.T) {
	r := &Result{Counters: map[string]float64{}}
	o := FaultOptions{Clients: 5, Downtime: 10 * time.Millisecond, Recover: 10 * time.Second,
		ReconnectDelays: []time.Duration{20 * time.Millisecond}}
	if err := restartDrill(context.Background(), r, o); err != nil {
		t.Fatal(err)
	}
	if len(r.Measurements) != 1 || r.Measurements[0].Metrics["live"] != 5 || r.Measurements[0].Metrics["seconds_to_all_live"] <= 0 {
		t.Fatalf("want all 5 clients live with a time to all live: %+v", r.Measurements)
	}
	if r.Counters["restart_reconnects"] != 5 || !r.Goals[0].Met {
		t.Errorf("want 5 reconnects and the goal met: %v %+v", r.Counters, r.Goals)
	}
}
