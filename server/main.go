package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/vm"
)

// Option changes the Config that Main builds from the environment.
type Option func(*Config)

// WithAuthorize sets Config.Authorize: fn runs before every request_vm and update_vm.
func WithAuthorize(fn vm.AuthorizeFunc) Option {
	return func(c *Config) { c.Authorize = fn }
}

// WithConfig lets fn change any field of the Config Main built from the environment, before
// the server is created (for example an HTTP client with a proxy, or a longer
// ShutdownTimeout).
func WithConfig(fn func(*Config)) Option { return fn }

// Main runs the server with the view models of reg and returns only by exiting the process,
// like lambda.Start. It reads the WSGATE_* environment (a bad one stops it with one line
// naming every problem), logs JSON lines to stderr, signs pushes with the AWS SDK's default
// credential chain, and serves until SIGTERM or SIGINT, then drains (see Server.Serve). It
// exits 0 after a clean drain and 1 with a one-line error otherwise.
func Main(reg *vm.Registry, opts ...Option) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, reg, os.Getenv, os.Stderr, opts)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// run is Main without the process: the environment through getenv, logs to logs, until ctx
// ends.
func run(ctx context.Context, reg *vm.Registry, getenv func(string) string, logs io.Writer, opts []Option) error {
	settings, err := config.FromEnv(getenv)
	if err != nil {
		return err
	}
	cfg := Config{
		Settings: settings,
		Registry: reg,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: settings.LogLevel})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Settings.ListenAddr)
	if err != nil {
		_ = s.Close(ctx)
		return fmt.Errorf("listen on %s: %w", cfg.Settings.ListenAddr, err)
	}
	return s.Serve(ctx, ln)
}
