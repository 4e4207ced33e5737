package vm

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// maxLoggedBytes bounds every client-controlled string the runtime logs (vmIds, property
// names, error messages quoting input): one message of 128 KiB must not become a log line
// of 128 KiB.
const maxLoggedBytes = 128

// clip shortens client-controlled text for a log line: at most maxLoggedBytes of it (cut on
// a rune boundary), then a marker with the original length, so a reader knows it was cut.
func clip(s string) string {
	if len(s) <= maxLoggedBytes {
		return s
	}
	cut := maxLoggedBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// warnInterval is how often one kind of client-triggered warning is logged: the first in
// each interval, then, with the next one logged, how many were suppressed meanwhile. A
// client sending the same bad message in a loop costs a few lines a minute, not one each.
const warnInterval = 10 * time.Second

// limiter lets through the first event per key per interval and counts the rest.
type limiter struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*limitState
}

type limitState struct {
	next       time.Time // first moment the next event is let through
	suppressed int       // events held back since the last one let through
}

// maxLimiterKeys bounds the limiter's memory; keys are fixed strings chosen by the runtime,
// never client text, so this is a safety net only.
const maxLimiterKeys = 1024

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, keys: map[string]*limitState{}}
}

// allow reports whether the event key may be logged now and, if so, how many events of
// that key were suppressed since the last one logged.
func (l *limiter) allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.keys[key]
	if st == nil {
		if len(l.keys) >= maxLimiterKeys {
			clear(l.keys)
		}
		st = &limitState{}
		l.keys[key] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		return false, 0
	}
	suppressed = st.suppressed
	st.suppressed = 0
	st.next = now.Add(warnInterval)
	return true, suppressed
}

// warn logs a client-triggered warning at most once per key per warnInterval. Callers
// clip client-controlled attributes themselves.
func (rt *Runtime) warn(key, msg string, args ...any) {
	ok, suppressed := rt.warnings.allow(key)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	rt.log.Warn(msg, args...)
}
