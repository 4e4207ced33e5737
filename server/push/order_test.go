package push_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/wsgate/wsgate/server/push"
)

// Many connections at once through few workers, some gone, some throttled, some over their
// queue bound, some closed half way: every frame is accounted for exactly once (sent, gone
// or dropped), each connection's frames arrive in the order they were sent, and Flush
// returns after all of it. Run with -race.
func TestManyConnectionsEveryFrameAccountedForInOrder(t *testing.T) {
	sk := startSink(t)
	var gone goneLog
	c := newClient(t, sk, func(cfg *push.Config) { cfg.Concurrency, cfg.MaxQueuedFrames, cfg.OnGone = 4, 8, gone.add })
	const conns, frames = 32, 40
	id := func(i int) string { return fmt.Sprint("c", i) }
	for i := range conns {
		switch i % 4 {
		case 0:
			sk.SetGone(id(i))
		case 1:
			sk.Respond(id(i), 429, 503, 500) // the fourth attempt goes through
		}
	}
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			for n := range frames {
				c.Send(id(i), frame(n))
				if i%4 == 2 && n == frames/2 {
					c.CloseConnection(id(i))
				}
			}
		})
	}
	wg.Wait()
	flush(t, c)
	st := c.Stats()
	if st.Sent+st.Gone+st.Dropped != conns*frames || st.Failed != 0 {
		t.Errorf("stats %+v: sent, gone and dropped should add up to the %d frames, none failed", st, conns*frames)
	}
	if got := uint64(sk.Accepted()); got != st.Sent {
		t.Errorf("sink accepted %d, client counted %d sent", got, st.Sent)
	}
	for i := range conns {
		prev := -1
		for _, f := range sk.Frames(id(i)) {
			var n int
			if _, err := fmt.Sscanf(f, `{"callType":"response_vm","vmId":"X","data":"{\"N\":%d}"}`, &n); err != nil {
				t.Fatalf("%s: frame %s: %v", id(i), f, err)
			}
			if n <= prev {
				t.Fatalf("%s: frame %d after %d", id(i), n, prev)
			}
			prev = n
		}
		if i%4 == 0 && prev != -1 {
			t.Errorf("%s is gone but got frames", id(i))
		}
	}
}
