package clientlog

import (
	"strings"
	"testing"
	"time"
)

func TestClip(t *testing.T) {
	if got := Clip("short"); got != "short" {
		t.Errorf("Clip(short) = %q", got)
	}
	long := strings.Repeat("é", 100) // 200 bytes; byte 128 starts a rune
	if got, want := Clip(long), strings.Repeat("é", 64)+"…(200 bytes)"; got != want {
		t.Errorf("clip = %q, want %q", got, want)
	}
	odd := "x" + strings.Repeat("é", 100) // byte 128 is inside a rune: cut before it
	if got, want := Clip(odd), "x"+strings.Repeat("é", 63)+"…(201 bytes)"; got != want {
		t.Errorf("clip = %q, want %q", got, want)
	}
}

// The first event of a key in each interval passes and reports how many were held back.
func TestLimiterLetsTheFirstPerIntervalThroughThenACount(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	l := NewLimiter(func() time.Time { return now })
	type step struct {
		advance    time.Duration
		key        string
		ok         bool
		suppressed int
	}
	for i, s := range []step{
		{0, "a", true, 0},
		{0, "a", false, 0},
		{time.Second, "a", false, 0},
		{0, "b", true, 0}, // keys are independent
		{Interval - time.Second - 1, "a", false, 0},
		{1, "a", true, 3},
		{0, "a", false, 0},
		{Interval, "a", true, 1},
		{Interval, "a", true, 0},
	} {
		now = now.Add(s.advance)
		ok, suppressed := l.Allow(s.key)
		if ok != s.ok || suppressed != s.suppressed {
			t.Errorf("step %d (%s): allow = %v, %d; want %v, %d", i, s.key, ok, suppressed, s.ok, s.suppressed)
		}
	}
}
