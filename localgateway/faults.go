package localgateway

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault injects failures into @connections calls, for testing how a backend
// copes with throttling, errors and latency.
type Fault struct {
	Status    int      `json:"status"`    // 429 or 5xx answered instead of the call; 0: latency only
	Rate      float64  `json:"rate"`      // fraction of calls that fail, 0 < rate ≤ 1; 0 means 1
	Count     int      `json:"count"`     // fail this many calls, then stop; 0: no limit
	LatencyMs int      `json:"latencyMs"` // delay added to every matching call
	Methods   []string `json:"methods"`   // POST, GET, DELETE; empty: all
}

// validate checks a fault's fields.
func (f Fault) validate() error {
	if f.Status != 0 && f.Status != 429 && (f.Status < 500 || f.Status > 599) {
		return fmt.Errorf("fault status %d: want 429 or 5xx", f.Status)
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault rate %g: want 0 < rate ≤ 1", f.Rate)
	}
	if f.Count < 0 || f.LatencyMs < 0 {
		return fmt.Errorf("fault count and latencyMs must not be negative")
	}
	if f.Status == 0 && f.LatencyMs == 0 {
		return fmt.Errorf("fault needs a status or a latency")
	}
	for _, m := range f.Methods {
		if m != http.MethodPost && m != http.MethodGet && m != http.MethodDelete {
			return fmt.Errorf("fault method %q: want POST, GET or DELETE", m)
		}
	}
	return nil
}

// ParseFault reads the --fault flag: comma-separated key=value pairs, e.g.
// "status=429,rate=0.5,count=10,latency=200ms,methods=POST+DELETE".
func ParseFault(s string) (Fault, error) {
	var f Fault
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return f, fmt.Errorf("fault %q: want key=value pairs (status, rate, count, latency, methods)", s)
		}
		var err error
		switch k {
		case "status":
			f.Status, err = strconv.Atoi(v)
		case "rate":
			f.Rate, err = strconv.ParseFloat(v, 64)
		case "count":
			f.Count, err = strconv.Atoi(v)
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			f.LatencyMs = int(d / time.Millisecond)
		case "methods":
			f.Methods = strings.Split(strings.ToUpper(v), "+")
		default:
			return f, fmt.Errorf("fault %q: unknown key %q (want status, rate, count, latency, methods)", s, k)
		}
		if err != nil {
			return f, fmt.Errorf("fault %q: bad %s %q", s, k, v)
		}
	}
	return f, f.validate()
}

// faults holds the active fault, if any.
type faults struct {
	mu     sync.Mutex
	active *Fault
	failed int
}

func (fs *faults) set(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.active, fs.failed = &f, 0
}

func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.active, fs.failed = nil, 0
}

// apply sleeps for the latency of a matching fault and reports the status
// to answer instead of the call, if this call fails.
func (fs *faults) apply(method string) (int, bool) {
	fs.mu.Lock()
	f := fs.active
	if f == nil || len(f.Methods) > 0 && !slices.Contains(f.Methods, method) {
		fs.mu.Unlock()
		return 0, false
	}
	fail := f.Status != 0 && (f.Count == 0 || fs.failed < f.Count) && (f.Rate == 0 || rand.Float64() < f.Rate)
	if fail {
		fs.failed++
	}
	latency := time.Duration(f.LatencyMs) * time.Millisecond
	fs.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	return f.Status, fail
}

func faultType(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "LimitExceededException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	}
	return "InternalServerErrorException"
}

func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Rate exceeded"
	case http.StatusServiceUnavailable:
		return "Service Unavailable"
	}
	return "Internal server error"
}
