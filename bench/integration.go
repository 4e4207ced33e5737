package bench

import (
	"context"
	"strconv"

	"github.com/wsgate/wsgate/bench/serverbench"
)

// IntegrationOptions configure Integration.
type IntegrationOptions struct {
	// Quick sends 64 requests instead of 8,000.
	Quick bool
	// Requests per round (default 8,000) and concurrent Clients (default 16).
	Requests, Clients int
}

// Integration measures HelloWorld update_vm requests per second at the server's
// integration endpoint (decode, view-model update, signed push on a network-free transport,
// every push finished before the clock stops) against a no-op net/http handler reading the
// same bodies from the same concurrent clients. Goal: at least 0.7x. The measurement is the
// server's own (package bench/serverbench: interleaved rounds, best of each).
func Integration(ctx context.Context, o IntegrationOptions) (*Result, error) {
	if o.Requests == 0 {
		o.Requests = pick2(o.Quick, 64, 8000)
	}
	if o.Clients == 0 {
		o.Clients = pick2(o.Quick, 4, 16)
	}
	got, err := serverbench.HelloWorldThroughput(o.Requests, o.Clients)
	if err != nil {
		return nil, err
	}
	r := &Result{
		Title:   "Integration throughput: HelloWorld update_vm at POST /api/dotnetify/vm",
		Params:  map[string]any{"requests_per_round": o.Requests, "clients": o.Clients, "rounds": serverbench.ThroughputRounds},
		Columns: []Column{{Key: "ops_per_sec", Header: "requests/s", Chart: true}},
	}
	r.add("no-op net/http handler", RoleBaseline, map[string]float64{"ops_per_sec": got.Baseline})
	r.add("wsgate HelloWorld update_vm", RoleSubject, map[string]float64{"ops_per_sec": got.Value})
	r.Goals = []Goal{NewGoal("HelloWorld updates/s vs no-op handler", got.Ratio, ">=", 0.7, "x")}
	r.Notes = append(r.Notes, "each round is timed until the runtime drained and every FullName push was sent")
	return r, nil
}

// pick2 returns quick when q is set, otherwise full.
func pick2[T any](q bool, quick, full T) T {
	if q {
		return quick
	}
	return full
}

// clientID is a connection id for synthetic client i.
func clientID(i int) string { return "Wm1nYcO3IA" + strconv.Itoa(1000000+i) + "=" }
