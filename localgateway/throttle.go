package localgateway

import (
	"sync"

	"golang.org/x/time/rate"

	"github.com/wsgate/wsgate/localgateway/cfn"
)

// throttle applies the stage's token buckets: RouteSettings per route key,
// else DefaultRouteSettings. Routes with neither limit are not throttled.
type throttle struct {
	stage   *cfn.Stage
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newThrottle(stage *cfn.Stage) *throttle {
	return &throttle{stage: stage, buckets: map[string]*rate.Limiter{}}
}

// allow takes a token for routeKey, reporting false when throttled (429).
func (t *throttle) allow(routeKey string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l, ok := t.buckets[routeKey]
	if !ok {
		s, set := t.stage.RouteSettings[routeKey]
		if !set || s.RateLimit == 0 && s.BurstLimit == 0 {
			s = t.stage.DefaultSettings
		}
		if s.RateLimit > 0 || s.BurstLimit > 0 {
			l = rate.NewLimiter(rate.Limit(s.RateLimit), s.BurstLimit)
		}
		t.buckets[routeKey] = l
	}
	return l == nil || l.Allow()
}
