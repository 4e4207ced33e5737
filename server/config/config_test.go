package config

import (
	"log/slog"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	c, err := FromEnv(env(map[string]string{"WSGATE_CALLBACK_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{CallbackURL: "https://abc.execute-api.eu-west-1.amazonaws.com/prod", ListenAddr: ":8080", Region: "us-east-1", PushConcurrency: 256, LogLevel: slog.LevelInfo,
		MaxVMIDBytes: 256, MaxVMDepth: 4, MaxVMsPerConnection: 64, MaxPendingBytes: 1 << 20, MaxQueuedBytes: 1 << 20, MaxQueuedFrames: 256, DrainWindow: 5 * time.Second,
		ServiceName: "wsgate", MetricsInterval: time.Minute}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestAllSet(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"WSGATE_CALLBACK_URL": "http://127.0.0.1:4000/prod", "WSGATE_LISTEN_ADDR": "127.0.0.1:9000",
		"WSGATE_REGION": "eu-west-1", "AWS_REGION": "us-west-2", "WSGATE_INTEGRATION_SECRET": "s",
		"WSGATE_PUSH_RATE": "9500", "WSGATE_PUSH_CONCURRENCY": "64", "WSGATE_LOG_LEVEL": "DEBUG",
		"WSGATE_MAX_VMID_BYTES": "512", "WSGATE_MAX_VM_DEPTH": "2", "WSGATE_MAX_VMS_PER_CONNECTION": "8",
		"WSGATE_MAX_QUEUED_BYTES": "262144", "WSGATE_MAX_QUEUED_FRAMES": "32", "WSGATE_MAX_PENDING_BYTES": "300000",
		"WSGATE_DRAIN_WINDOW": "0s", "WSGATE_SERVICE_NAME": "chat-prod", "WSGATE_METRICS_INTERVAL": "0",
		"WSGATE_METRICS_ADDR": ":9090",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{CallbackURL: "http://127.0.0.1:4000/prod", ListenAddr: "127.0.0.1:9000", Region: "eu-west-1", IntegrationSecret: "s",
		PushRate: 9500, PushBurst: 9500, PushConcurrency: 64, LogLevel: slog.LevelDebug,
		MaxVMIDBytes: 512, MaxVMDepth: 2, MaxVMsPerConnection: 8, MaxPendingBytes: 300000, MaxQueuedBytes: 262144, MaxQueuedFrames: 32,
		ServiceName: "chat-prod", MetricsAddr: ":9090"}
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	c, _ = FromEnv(env(map[string]string{"WSGATE_CALLBACK_URL": "http://h/prod", "AWS_REGION": "us-west-2", "WSGATE_PUSH_RATE": "0.5", "WSGATE_PUSH_BURST": "3"}))
	if c.Region != "us-west-2" || c.PushBurst != 3 {
		t.Errorf("AWS_REGION fallback or burst: %+v", c)
	}
}

func TestErrorsListEveryProblem(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "invalid configuration: WSGATE_CALLBACK_URL is required (the stage's connection URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod)"},
		{map[string]string{
			"WSGATE_CALLBACK_URL": "abc.execute-api.eu-west-1.amazonaws.com/prod", "WSGATE_LISTEN_ADDR": "8080",
			"WSGATE_PUSH_RATE": "fast", "WSGATE_PUSH_BURST": "0", "WSGATE_PUSH_CONCURRENCY": "-1", "WSGATE_LOG_LEVEL": "trace",
		}, `invalid configuration: WSGATE_CALLBACK_URL="abc.execute-api.eu-west-1.amazonaws.com/prod": want an absolute http(s) URL without query, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod; ` +
			`WSGATE_LISTEN_ADDR="8080": want host:port, e.g. :8080 or 127.0.0.1:8080; ` +
			`WSGATE_PUSH_RATE="fast": want a number of pushes per second ≥ 0 (0 = unpaced); ` +
			`WSGATE_PUSH_BURST="0": want an integer ≥ 1; ` +
			`WSGATE_PUSH_CONCURRENCY="-1": want an integer from 1 to 65536; ` +
			`WSGATE_LOG_LEVEL="trace": want debug, info, warn or error`},
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_PUSH_RATE": "-3"}, `invalid configuration: WSGATE_PUSH_RATE="-3": want a number of pushes per second ≥ 0 (0 = unpaced)`},
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_MAX_VMID_BYTES": "8", "WSGATE_MAX_VM_DEPTH": "deep", "WSGATE_MAX_VMS_PER_CONNECTION": "0", "WSGATE_MAX_PENDING_BYTES": "1000"},
			`invalid configuration: WSGATE_MAX_VMID_BYTES="8": want an integer from 16 to 4096; ` +
				`WSGATE_MAX_VM_DEPTH="deep": want an integer from 1 to 16; ` +
				`WSGATE_MAX_VMS_PER_CONNECTION="0": want an integer from 1 to 4096; ` +
				`WSGATE_MAX_PENDING_BYTES="1000": want an integer from 262144 to 1073741824`},
		// A bound under one 128 KiB frame would close every connection that is sent one.
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_MAX_QUEUED_BYTES": "65536", "WSGATE_MAX_QUEUED_FRAMES": "0"},
			`invalid configuration: WSGATE_MAX_QUEUED_BYTES="65536": want an integer from 131072 to 1073741824; ` +
				`WSGATE_MAX_QUEUED_FRAMES="0": want an integer from 1 to 65536`},
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_DRAIN_WINDOW": "5"},
			`invalid configuration: WSGATE_DRAIN_WINDOW="5": want a duration from 0s to 1m, e.g. 5s`},
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_DRAIN_WINDOW": "2m"},
			`invalid configuration: WSGATE_DRAIN_WINDOW="2m": want a duration from 0s to 1m, e.g. 5s`},
		// The Prometheus endpoint must not share the port only API Gateway reaches.
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_SERVICE_NAME": "a\nb", "WSGATE_METRICS_INTERVAL": "500ms", "WSGATE_METRICS_ADDR": ":8080"},
			`invalid configuration: WSGATE_SERVICE_NAME="a\nb": want 1 to 255 printable characters, e.g. the ECS service's name; ` +
				`WSGATE_METRICS_INTERVAL="500ms": want 0 (no EMF records) or a duration from 1s to 1h, e.g. 60s; ` +
				`WSGATE_METRICS_ADDR=":8080": want a port other than WSGATE_LISTEN_ADDR's: only API Gateway reaches that one`},
		{map[string]string{"WSGATE_CALLBACK_URL": "https://h/prod", "WSGATE_METRICS_INTERVAL": "2h", "WSGATE_METRICS_ADDR": "9090"},
			`invalid configuration: WSGATE_METRICS_INTERVAL="2h": want 0 (no EMF records) or a duration from 1s to 1h, e.g. 60s; ` +
				`WSGATE_METRICS_ADDR="9090": want host:port, e.g. :9090`},
	}
	for _, tt := range tests {
		if _, err := FromEnv(env(tt.env)); err == nil || err.Error() != tt.want {
			t.Errorf("error:\n got %v\nwant %s", err, tt.want)
		}
	}
}
