package vm

import "github.com/wsgate/wsgate/internal/clientlog"

// clip bounds client-controlled text (vmIds, property names, error messages quoting input)
// in a log line.
func clip(s string) string { return clientlog.Clip(s) }

// warn logs a client-triggered warning at most once per key per clientlog.Interval. Callers
// clip client-controlled attributes themselves.
func (rt *Runtime) warn(key, msg string, args ...any) {
	rt.warnings.Warn(rt.log, key, msg, args...)
}
