// Package clientlog keeps client-controlled text from growing the server's logs: Clip bounds
// one value, and Limiter logs one kind of client-triggered warning at most once per interval
// with a count of the ones held back. A client sending the same bad message in a loop costs
// a few lines a minute, not one each.
package clientlog

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxBytes bounds every client-controlled string in a log line: one message of 128 KiB must
// not become a log line of 128 KiB.
const MaxBytes = 128

// Clip returns at most MaxBytes of s (cut on a rune boundary), then a marker with the
// original length, so a reader knows it was cut.
func Clip(s string) string {
	if len(s) <= MaxBytes {
		return s
	}
	cut := MaxBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:cut], len(s))
}

// Interval is how often one kind of warning is let through.
const Interval = 10 * time.Second

// maxKeys bounds the limiter's memory; keys are fixed strings chosen by the server, never
// client text, so this is a safety net only.
const maxKeys = 1024

// Limiter lets through the first event per key per Interval and counts the rest.
type Limiter struct {
	mu   sync.Mutex
	now  func() time.Time
	keys map[string]*state
}

type state struct {
	next       time.Time // first moment the next event is let through
	suppressed int       // events held back since the last one let through
}

// NewLimiter returns a limiter on the clock now (time.Now when nil).
func NewLimiter(now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, keys: map[string]*state{}}
}

// Allow reports whether the event key may be logged now and, if so, how many events of that
// key were held back since the last one let through.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := l.keys[key]
	if st == nil {
		if len(l.keys) >= maxKeys {
			clear(l.keys)
		}
		st = &state{}
		l.keys[key] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		return false, 0
	}
	suppressed = st.suppressed
	st.suppressed = 0
	st.next = now.Add(Interval)
	return true, suppressed
}

// Warn logs msg at WARN through log when key is let through, adding "suppressed" when
// events were held back. Callers clip client-controlled attributes themselves.
func (l *Limiter) Warn(log *slog.Logger, key, msg string, args ...any) {
	ok, suppressed := l.Allow(key)
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	log.Warn(msg, args...)
}
