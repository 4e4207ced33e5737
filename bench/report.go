package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints r as an aligned table, then its goals, counters and notes.
func WriteTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	head := []string{"measurement", "role"}
	for _, c := range r.Columns {
		head = append(head, c.Header)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, m := range r.Measurements {
		row := []string{m.Name, m.Role}
		for _, c := range r.Columns {
			v, ok := m.Metrics[c.Key]
			if !ok {
				row = append(row, "-")
				continue
			}
			row = append(row, FormatNumber(v))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	for _, g := range r.Goals {
		fmt.Fprintf(w, "goal  %-58s %s\n", g.Name, g.Describe())
	}
	for _, k := range sortedKeys(r.Counters) {
		fmt.Fprintf(w, "count %-58s %s\n", k, FormatNumber(r.Counters[k]))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note  %s\n", n)
	}
	_, err := fmt.Fprintf(w, "(%s in %.1fs)\n\n", r.Scenario, r.Seconds)
	return err
}

// Describe renders the measured value against the target, e.g. "1.08x <= 1.25x  met".
func (g Goal) Describe() string {
	verdict := "met"
	if !g.Met {
		verdict = "NOT MET"
	}
	unit := g.Unit
	if unit != "x" {
		unit = " " + unit
	}
	return fmt.Sprintf("%s%s %s %s%s  %s", FormatNumber(g.Value), unit, g.Op, FormatNumber(g.Target), unit, verdict)
}

// FormatNumber prints v with three significant digits, or as an integer when it is large.
func FormatNumber(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// WriteFiles writes dir/<scenario>.json and dir/<scenario>.svg.
func WriteFiles(dir string, r *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(sanitized(r), "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s result: %w", r.Scenario, err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.Scenario+".json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s result: %w", r.Scenario, err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.Scenario+".svg"), []byte(Chart(r)), 0o644); err != nil {
		return fmt.Errorf("write %s chart: %w", r.Scenario, err)
	}
	return nil
}

// sanitized replaces NaN and infinities (which JSON cannot carry) by -1 in a copy of r.
func sanitized(r *Result) *Result {
	c := *r
	fix := func(v float64) float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return -1
		}
		return v
	}
	c.Measurements = make([]Measurement, len(r.Measurements))
	for i, m := range r.Measurements {
		mm := Measurement{Name: m.Name, Role: m.Role, Metrics: map[string]float64{}}
		for k, v := range m.Metrics {
			mm.Metrics[k] = fix(v)
		}
		c.Measurements[i] = mm
	}
	c.Goals = make([]Goal, len(r.Goals))
	for i, g := range r.Goals {
		g.Value = fix(g.Value)
		c.Goals[i] = g
	}
	return &c
}
