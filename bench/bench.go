// Package bench measures wsgate side by side with a baseline run in the same invocation:
// push cost, fan-out, round trip, integration throughput and footprint, plus the load and
// fault runs. Every scenario is a function that takes its options and returns a Result; each
// is bounded in count and time and talks only to 127.0.0.1 (and 127.0.0.x source addresses).
//
// Figures are ratios against the baseline because the machines that run them are noisy:
// the absolute numbers of two runs differ, the ratio of two measurements taken together
// much less.
package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Roles of a measurement in a Result.
const (
	RoleSubject   = "subject"   // what wsgate does
	RoleBaseline  = "baseline"  // what the ratio is taken against
	RoleReference = "reference" // shown for comparison, not part of a goal
)

// Measurement is one measured thing (wsgate's path, its baseline, a reference peer).
type Measurement struct {
	Name    string             `json:"name"`
	Role    string             `json:"role"`
	Metrics map[string]float64 `json:"metrics"`
}

// Column describes one metric of a scenario's table: its key in Measurement.Metrics, a
// header and whether the chart shows it.
type Column struct {
	Key    string `json:"key"`
	Header string `json:"header"`
	Chart  bool   `json:"chart"`
}

// Goal is one target of a scenario with what the run measured.
type Goal struct {
	// Name says what is compared, e.g. "CPU per push vs bare signed request".
	Name string `json:"name"`
	// Value is the measured ratio (or the absolute value when Unit is not "x").
	Value float64 `json:"value"`
	// Op is "<=" or ">=".
	Op string `json:"op"`
	// Target is the bound Value must meet.
	Target float64 `json:"target"`
	// Unit is "x" for ratios, otherwise the unit of an absolute value.
	Unit string `json:"unit"`
	// Met reports whether Value meets Target.
	Met bool `json:"met"`
}

// NewGoal returns a Goal with Met computed.
func NewGoal(name string, value float64, op string, target float64, unit string) Goal {
	met := value <= target
	if op == ">=" {
		met = value >= target
	}
	return Goal{Name: name, Value: value, Op: op, Target: target, Unit: unit, Met: met}
}

// Result is what one scenario measured.
type Result struct {
	Scenario     string             `json:"scenario"`
	Title        string             `json:"title"`
	Quick        bool               `json:"quick"`
	Params       map[string]any     `json:"params"`
	Columns      []Column           `json:"columns"`
	Measurements []Measurement      `json:"measurements"`
	Goals        []Goal             `json:"goals"`
	Counters     map[string]float64 `json:"counters,omitempty"`
	Notes        []string           `json:"notes,omitempty"`
	Started      time.Time          `json:"started"`
	Seconds      float64            `json:"seconds"`
}

// Metric returns the metric key of the measurement called name (0 when absent).
func (r *Result) Metric(name, key string) float64 {
	for _, m := range r.Measurements {
		if m.Name == name {
			return m.Metrics[key]
		}
	}
	return 0
}

// add appends a measurement.
func (r *Result) add(name, role string, metrics map[string]float64) {
	r.Measurements = append(r.Measurements, Measurement{Name: name, Role: role, Metrics: metrics})
}

// Options are shared by every scenario run through Run.
type Options struct {
	// Quick runs tiny sizes (seconds in all); the smoke test uses it.
	Quick bool
	// Out is the directory for JSON and SVG files; "" writes none.
	Out string
	// Log receives progress lines and the tables; nil discards them.
	Log io.Writer
	// ServerBinary is a built wsgate-server for the footprint measurement; "" builds one
	// with the go tool when the module source is at hand.
	ServerBinary string
	// GatewayCommand runs the local gateway as its own process, e.g. {"/usr/bin/wsgate",
	// "gateway"}, for the scenarios that go through it (fan-out, load, fault; the round
	// trip keeps it in process, like its relay baseline):
	// one process cannot hold 10,000 client sockets and the gateway's 10,000 ends of them
	// within a 20,000 open-file limit. Empty runs the gateway in this process.
	GatewayCommand []string
	// Clients and Duration size the load run (and Clients the fault run's restart drill);
	// zero keeps each scenario's default.
	Clients  int
	Duration time.Duration
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
}

// Scenario is a named measurement.
type Scenario struct {
	Name string
	// Default reports whether a run without --scenario includes it (load and fault do not).
	Default bool
	Run     func(ctx context.Context, o Options) (*Result, error)
}

// Scenarios lists every scenario, in run order.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "push-cost", Default: true, Run: func(ctx context.Context, o Options) (*Result, error) {
			return PushCost(ctx, PushCostOptions{Quick: o.Quick})
		}},
		{Name: "fan-out", Default: true, Run: func(ctx context.Context, o Options) (*Result, error) {
			return FanOut(ctx, FanOutOptions{Quick: o.Quick, Log: o.Log, GatewayCommand: o.GatewayCommand})
		}},
		{Name: "round-trip", Default: true, Run: func(ctx context.Context, o Options) (*Result, error) {
			// The gateway stays in this process, as the relay it is compared with does:
			// 2,000 client sockets fit, and both paths pay for the same processes.
			return RoundTrip(ctx, RoundTripOptions{Quick: o.Quick})
		}},
		{Name: "integration", Default: true, Run: func(ctx context.Context, o Options) (*Result, error) {
			return Integration(ctx, IntegrationOptions{Quick: o.Quick})
		}},
		{Name: "footprint", Default: true, Run: func(ctx context.Context, o Options) (*Result, error) {
			return Footprint(ctx, FootprintOptions{Quick: o.Quick, ServerBinary: o.ServerBinary, Log: o.Log})
		}},
		{Name: "load", Run: func(ctx context.Context, o Options) (*Result, error) {
			return Load(ctx, LoadOptions{Quick: o.Quick, Log: o.Log, Clients: o.Clients, Duration: o.Duration, GatewayCommand: o.GatewayCommand})
		}},
		{Name: "fault", Run: func(ctx context.Context, o Options) (*Result, error) {
			return Fault(ctx, FaultOptions{Quick: o.Quick, Log: o.Log, Clients: o.Clients, GatewayCommand: o.GatewayCommand})
		}},
	}
}

// Names lists the scenario names.
func Names() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

// Run runs the named scenarios (the default ones when names is empty, every one for
// "all") one after the other,
// prints each table to o.Log and writes <name>.json and <name>.svg to o.Out. It stops at
// the first failing scenario.
func Run(ctx context.Context, names []string, o Options) ([]*Result, error) {
	selected, err := pick(names)
	if err != nil {
		return nil, err
	}
	var results []*Result
	for _, s := range selected {
		o.logf("==> %s", s.Name)
		start := time.Now()
		r, err := s.Run(ctx, o)
		if err != nil {
			return results, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		r.Scenario, r.Quick, r.Started = s.Name, o.Quick, start
		r.Seconds = time.Since(start).Seconds()
		if o.Log != nil {
			if err := WriteTable(o.Log, r); err != nil {
				return results, err
			}
		}
		if o.Out != "" {
			if err := WriteFiles(o.Out, r); err != nil {
				return results, err
			}
		}
		results = append(results, r)
	}
	return results, nil
}

// UnknownScenarioError names a scenario that does not exist.
type UnknownScenarioError struct{ Name string }

func (e *UnknownScenarioError) Error() string {
	return fmt.Sprintf("unknown scenario %q (known: %s)", e.Name, strings.Join(Names(), ", "))
}

func pick(names []string) ([]Scenario, error) {
	all := Scenarios()
	if len(names) == 0 {
		return slices.DeleteFunc(all, func(s Scenario) bool { return !s.Default }), nil
	}
	if len(names) == 1 && names[0] == "all" {
		return all, nil
	}
	var out []Scenario
	for _, n := range names {
		i := slices.IndexFunc(all, func(s Scenario) bool { return s.Name == n })
		if i < 0 {
			return nil, &UnknownScenarioError{Name: n}
		}
		out = append(out, all[i])
	}
	return out, nil
}

// WriteSummary prints every goal of results, one line each, and how many were met.
func WriteSummary(w io.Writer, results []*Result) error {
	met, all := 0, 0
	fmt.Fprintln(w, "summary")
	for _, r := range results {
		for _, g := range r.Goals {
			all++
			if g.Met {
				met++
			}
			fmt.Fprintf(w, "  %-12s %-58s %s\n", r.Scenario, g.Name, g.Describe())
		}
	}
	_, err := fmt.Fprintf(w, "%d of %d goals met\n", met, all)
	return err
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
