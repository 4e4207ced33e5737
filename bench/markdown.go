package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteMarkdown renders results as Markdown: per scenario its parameters, a table of the
// measurements, its goals and notes; BENCHMARKS.md quotes this output.
func WriteMarkdown(w io.Writer, results []*Result) error {
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintf(&b, "### %s: %s\n\n", r.Scenario, r.Title)
		if len(r.Params) > 0 {
			var ps []string
			for _, k := range sortedKeys(r.Params) {
				ps = append(ps, fmt.Sprintf("%s=%v", k, r.Params[k]))
			}
			fmt.Fprintf(&b, "Parameters: %s; %.0f s.\n\n", strings.Join(ps, ", "), r.Seconds)
		}
		b.WriteString("| measurement | role |")
		for _, c := range r.Columns {
			b.WriteString(" " + c.Header + " |")
		}
		b.WriteString("\n| --- | --- |" + strings.Repeat(" ---: |", len(r.Columns)) + "\n")
		for _, m := range r.Measurements {
			fmt.Fprintf(&b, "| %s | %s |", m.Name, m.Role)
			for _, c := range r.Columns {
				v, ok := m.Metrics[c.Key]
				if !ok {
					b.WriteString(" – |")
					continue
				}
				b.WriteString(" " + FormatNumber(v) + " |")
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
		for _, g := range r.Goals {
			fmt.Fprintf(&b, "- Goal: %s: **%s**\n", g.Name, g.Describe())
		}
		if len(r.Counters) > 0 {
			var cs []string
			for _, k := range sortedKeys(r.Counters) {
				cs = append(cs, fmt.Sprintf("%s %s", k, FormatNumber(r.Counters[k])))
			}
			fmt.Fprintf(&b, "- Counters: %s\n", strings.Join(cs, ", "))
		}
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- Note: %s\n", n)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
