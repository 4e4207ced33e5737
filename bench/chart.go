package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Chart draws r as an SVG: one panel of horizontal bars per charted column (each bar a
// measurement, coloured by role), then one panel with every goal's measured value against
// its target.
func Chart(r *Result) string {
	const width, labelW, barH, gap, panelGap = 960, 360, 18, 6, 34
	var body strings.Builder
	y := 40
	for _, c := range r.Columns {
		if !c.Chart || !charted(r, c.Key) {
			continue
		}
		y = chartPanel(&body, r, c, y, width, labelW, barH, gap) + panelGap
	}
	if len(r.Goals) > 0 {
		y = goalPanel(&body, r.Goals, y, width, labelW, barH, gap) + panelGap
	}
	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, y)
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&out, `<text x="10" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(r.Title))
	out.WriteString(body.String())
	out.WriteString("</svg>\n")
	return out.String()
}

// charted reports whether some measurement has a finite value for key.
func charted(r *Result, key string) bool {
	for _, m := range r.Measurements {
		if v, ok := m.Metrics[key]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

var roleColour = map[string]string{RoleSubject: "#2b6cb0", RoleBaseline: "#a0aec0", RoleReference: "#dd6b20"}

func chartPanel(b *strings.Builder, r *Result, c Column, y, width, labelW, barH, gap int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y, html.EscapeString(c.Header))
	y += 8
	peak := 0.0
	for _, m := range r.Measurements {
		if v, ok := m.Metrics[c.Key]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			peak = math.Max(peak, v)
		}
	}
	scale := float64(width-labelW-90) / math.Max(peak, 1e-12)
	for _, m := range r.Measurements {
		v, ok := m.Metrics[c.Key]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		w := int(math.Max(v*scale, 1))
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+barH-5, html.EscapeString(shorten(m.Name, 54)))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, labelW, y, w, barH, roleColour[m.Role])
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", labelW+w+6, y+barH-5, FormatNumber(v))
		y += barH + gap
	}
	return y
}

func goalPanel(b *strings.Builder, goals []Goal, y, width, labelW, barH, gap int) int {
	fmt.Fprintf(b, `<text x="10" y="%d" font-weight="bold">Goals (bar: measured; line: target)</text>`+"\n", y)
	y += 8
	for _, g := range goals {
		peak := math.Max(math.Abs(g.Value), g.Target) * 1.1
		if math.IsNaN(peak) || math.IsInf(peak, 0) || peak == 0 {
			peak = 1
		}
		scale := float64(width-labelW-270) / peak
		colour := "#38a169"
		if !g.Met {
			colour = "#e53e3e"
		}
		v := g.Value
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, labelW-8, y+barH-5, html.EscapeString(shorten(g.Name, 54)))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, labelW, y, int(math.Max(v*scale, 1)), barH, colour)
		tx := labelW + int(g.Target*scale)
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black" stroke-width="2"/>`, tx, y-2, tx, y+barH+2)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", width-260, y+barH-5, html.EscapeString(g.Describe()))
		y += barH + gap
	}
	return y
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
