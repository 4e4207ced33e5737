// Package config reads the server's WSGATE_* environment, validating every variable and
// reporting all problems at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wsgate/wsgate/contract"
	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/vm"
)

// Config is the server configuration.
type Config struct {
	// CallbackURL is the stage's connection URL (WSGATE_CALLBACK_URL, required).
	CallbackURL string
	// ListenAddr is the HTTP listen address (WSGATE_LISTEN_ADDR, default ":8080").
	ListenAddr string
	// Region is the SigV4 region (WSGATE_REGION, then AWS_REGION, then "us-east-1").
	Region string
	// IntegrationSecret, when set, must arrive in X-Wsgate-Secret (WSGATE_INTEGRATION_SECRET).
	IntegrationSecret string
	// PushRate is pushes per second, 0 = unpaced (WSGATE_PUSH_RATE).
	PushRate float64
	// PushBurst is the token bucket burst (WSGATE_PUSH_BURST, default PushRate).
	PushBurst int
	// PushConcurrency is pushes in flight at once (WSGATE_PUSH_CONCURRENCY, default 256).
	PushConcurrency int
	// LogLevel is debug, info, warn or error (WSGATE_LOG_LEVEL, default info).
	LogLevel slog.Level
	// MaxVMIDBytes bounds a client's vmId (WSGATE_MAX_VMID_BYTES, default 256).
	MaxVMIDBytes int
	// MaxVMDepth bounds the levels of a vmId (WSGATE_MAX_VM_DEPTH, default 4).
	MaxVMDepth int
	// MaxVMsPerConnection bounds the view models of one connection
	// (WSGATE_MAX_VMS_PER_CONNECTION, default 64).
	MaxVMsPerConnection int
	// MaxPendingBytes bounds the messages from one connection waiting to be handled
	// (WSGATE_MAX_PENDING_BYTES, default 1 MiB); crossing it closes that connection.
	MaxPendingBytes int
	// MaxQueuedBytes bounds the bytes of the frames queued for one connection
	// (WSGATE_MAX_QUEUED_BYTES, default 1 MiB); crossing it closes that connection.
	MaxQueuedBytes int
	// MaxQueuedFrames bounds the frames queued for one connection
	// (WSGATE_MAX_QUEUED_FRAMES, default 256); crossing it closes that connection.
	MaxQueuedFrames int
	// DrainWindow is how long /healthz answers 503 on SIGTERM before the listener closes, so
	// that load balancers see the task leave before its connections are refused
	// (WSGATE_DRAIN_WINDOW, default 5s; 0 closes at once).
	DrainWindow time.Duration
	// ServiceName is the value of the metrics' ServiceName dimension (WSGATE_SERVICE_NAME,
	// default "wsgate").
	ServiceName string
	// MetricsInterval is how often the metrics are written to stdout as Embedded Metric
	// Format records, and once more after the drain (WSGATE_METRICS_INTERVAL, default 60s;
	// 0 writes none).
	MetricsInterval time.Duration
	// MetricsAddr is the address of the Prometheus endpoint, GET /metrics
	// (WSGATE_METRICS_ADDR, e.g. ":9090"; default none).
	MetricsAddr string
}

// DefaultDrainWindow is DrainWindow's default: longer than a few health checks at a short
// interval, and short enough that the drain after it still fits in ECS's 30 s stop timeout.
const DefaultDrainWindow = 5 * time.Second

// Defaults of the metrics' settings.
const (
	DefaultServiceName     = "wsgate"
	DefaultMetricsInterval = time.Minute
)

// FromEnv reads the configuration through getenv (os.Getenv in the binary). The error lists
// every bad variable on one line.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{ListenAddr: ":8080", PushConcurrency: 256, LogLevel: slog.LevelInfo,
		MaxVMIDBytes: vm.DefaultMaxVMIDBytes, MaxVMDepth: vm.DefaultMaxVMDepth, MaxVMsPerConnection: vm.DefaultMaxVMsPerConnection,
		MaxPendingBytes: vm.DefaultMaxPendingBytes, MaxQueuedBytes: push.DefaultMaxQueuedBytes, MaxQueuedFrames: push.DefaultMaxQueuedFrames,
		DrainWindow: DefaultDrainWindow, ServiceName: DefaultServiceName, MetricsInterval: DefaultMetricsInterval}
	var errs []string
	bad := func(name, value, want string) {
		errs = append(errs, fmt.Sprintf("%s=%q: %s", name, value, want))
	}

	c.CallbackURL = strings.TrimSpace(getenv(contract.EnvCallbackURL))
	if c.CallbackURL == "" {
		errs = append(errs, contract.EnvCallbackURL+" is required (the stage's connection URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod)")
	} else if u, err := url.Parse(c.CallbackURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		bad(contract.EnvCallbackURL, c.CallbackURL, "want an absolute http(s) URL without query, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod")
	}

	if v := getenv(contract.EnvListenAddr); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			bad(contract.EnvListenAddr, v, "want host:port, e.g. :8080 or 127.0.0.1:8080")
		}
		c.ListenAddr = v
	}

	c.Region = firstNonEmpty(getenv(contract.EnvRegion), getenv("AWS_REGION"), "us-east-1")

	c.IntegrationSecret = getenv(contract.EnvIntegrationSecret)

	if v := getenv(contract.EnvPushRate); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f != f {
			bad(contract.EnvPushRate, v, "want a number of pushes per second ≥ 0 (0 = unpaced)")
		}
		c.PushRate = f
	}
	c.PushBurst = int(c.PushRate + 0.999)
	if v := getenv(contract.EnvPushBurst); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad(contract.EnvPushBurst, v, "want an integer ≥ 1")
		}
		c.PushBurst = n
	}
	if v := getenv(contract.EnvPushConcurrency); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65536 {
			bad(contract.EnvPushConcurrency, v, "want an integer from 1 to 65536")
		}
		c.PushConcurrency = n
	}
	if v := getenv(contract.EnvLogLevel); v != "" {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			bad(contract.EnvLogLevel, v, "want debug, info, warn or error")
		}
	}
	// The runtime's limits: what one connection can make the server hold.
	intIn := func(name string, dst *int, lo, hi int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				bad(name, v, fmt.Sprintf("want an integer from %d to %d", lo, hi))
			}
			*dst = n
		}
	}
	intIn(contract.EnvMaxVMIDBytes, &c.MaxVMIDBytes, 16, 4096)
	intIn(contract.EnvMaxVMDepth, &c.MaxVMDepth, 1, 16)
	intIn(contract.EnvMaxVMsPerConnection, &c.MaxVMsPerConnection, 1, 4096)
	// At least one message of the largest integration body (160 KiB) and its overhead.
	intIn(contract.EnvMaxPendingBytes, &c.MaxPendingBytes, 256<<10, 1<<30)
	// At least one frame of the gateway's largest (128 KiB), or it could never be queued.
	intIn(contract.EnvMaxQueuedBytes, &c.MaxQueuedBytes, 128<<10, 1<<30)
	intIn(contract.EnvMaxQueuedFrames, &c.MaxQueuedFrames, 1, 65536)
	if v := getenv(contract.EnvDrainWindow); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			bad(contract.EnvDrainWindow, v, "want a duration from 0s to 1m, e.g. 5s")
		}
		c.DrainWindow = d
	}
	if v := getenv(contract.EnvServiceName); v != "" {
		if len(v) > 255 || strings.TrimSpace(v) == "" || strings.ContainsFunc(v, unicode.IsControl) {
			bad(contract.EnvServiceName, v, "want 1 to 255 printable characters, e.g. the ECS service's name")
		}
		c.ServiceName = v
	}
	if v := getenv(contract.EnvMetricsInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d != 0 && (d < time.Second || d > time.Hour) {
			bad(contract.EnvMetricsInterval, v, "want 0 (no EMF records) or a duration from 1s to 1h, e.g. 60s")
		}
		c.MetricsInterval = d
	}
	if v := getenv(contract.EnvMetricsAddr); v != "" {
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			bad(contract.EnvMetricsAddr, v, "want host:port, e.g. :9090")
		} else if v == c.ListenAddr {
			bad(contract.EnvMetricsAddr, v, "want a port other than "+contract.EnvListenAddr+"'s: only API Gateway reaches that one")
		}
		c.MetricsAddr = v
	}
	if len(errs) > 0 {
		return c, errors.New("invalid configuration: " + strings.Join(errs, "; "))
	}
	return c, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
