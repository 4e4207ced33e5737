package localgateway

import (
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/wsgate/wsgate/localgateway/selection"
)

// accessLog writes one line per connect, message and disconnect in the
// stage's AccessLogSettings.Format, with $context variables filled in.
type accessLog struct {
	format string
	mu     sync.Mutex
	w      io.Writer
}

func (a *accessLog) write(g *Gateway, c *conn, ev *event, status int, res *result, errMsg string) {
	if a.format == "" || a.w == nil {
		return
	}
	ctx := g.context(c, ev)
	ctx["status"] = status
	ctx["error"] = map[string]any{"message": errMsg, "messageString": quoteOrEmpty(errMsg)}
	ctx["integrationErrorMessage"] = errMsg
	latency := "-"
	if res != nil {
		latency = strconv.FormatInt(res.latency.Milliseconds(), 10)
		ctx["integration"] = map[string]any{"status": res.status, "integrationStatus": res.status, "latency": latency}
	}
	ctx["integrationLatency"] = latency
	line := selection.Evaluate(a.format, func(name string) string {
		path, ok := strings.CutPrefix(name, "context.")
		if !ok {
			return "-"
		}
		v := dottedValue(ctx, path)
		if v == nil {
			return "-"
		}
		s := selection.Stringify(v)
		if s == "" {
			return "-"
		}
		return s
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = io.WriteString(a.w, line+"\n")
}

func quoteOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

func dottedValue(v any, path string) any {
	for _, part := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	if n, ok := v.(int); ok {
		return float64(n)
	}
	return v
}
