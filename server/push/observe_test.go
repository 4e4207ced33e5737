package push_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/wsgate/wsgate/server/push"
)

// durations records the durations a hook receives.
type durations struct {
	mu sync.Mutex
	ds []time.Duration
}

func (d *durations) add(x time.Duration) { d.mu.Lock(); d.ds = append(d.ds, x); d.mu.Unlock() }
func (d *durations) count() int          { d.mu.Lock(); defer d.mu.Unlock(); return len(d.ds) }

// OnSent times each frame the gateway accepted through the queue, and nothing else: not a
// 410, not a frame given up after retries. OnPaced times every paced request, retries and
// closes included.
func TestHooksTimeSentFramesAndPacerWaits(t *testing.T) {
	sk := startSink(t)
	var sent, paced durations
	c := newClient(t, sk, func(cfg *push.Config) {
		cfg.Concurrency = 1
		cfg.Rate, cfg.Burst = 1e6, 1000 // paced, without waiting long
		cfg.OnSent = sent.add
		cfg.OnPaced = paced.add
	})
	sk.SetGone("dead")
	sk.Respond("throttled", http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusTooManyRequests)
	for i := range 3 {
		c.Send("live", frame(i))
	}
	c.Send("dead", frame(0))
	c.Send("throttled", frame(0))
	flush(t, c)
	// 3 accepted; the throttled frame is given up after 4 attempts and its connection closed.
	expectStats(t, c, push.Stats{Sent: 3, Gone: 1, Retried: 3, Failed: 1, GaveUp: 1, Closed: 1})
	if n := sent.count(); n != 3 {
		t.Errorf("OnSent called %d times, want 3 (the accepted frames)", n)
	}
	// 3 + 1 (gone) + 4 attempts + 1 close.
	if n := paced.count(); n != 9 {
		t.Errorf("OnPaced called %d times, want 9", n)
	}
	for _, d := range sent.ds {
		if d < 0 {
			t.Errorf("negative push latency %v", d)
		}
	}
}
