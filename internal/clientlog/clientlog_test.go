package clientlog

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

func TestWarnLogsTheFirstThenACount(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(func() time.Time { return clock })
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	for range 5 {
		l.Warn(log, "bad", "refused")
	}
	l.Warn(log, "other", "refused other")
	clock = clock.Add(Interval)
	l.Warn(log, "bad", "refused")
	want := "level=WARN msg=refused\nlevel=WARN msg=\"refused other\"\nlevel=WARN msg=refused suppressed=4\n"
	if buf.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
