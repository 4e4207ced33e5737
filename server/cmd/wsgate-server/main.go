// Command wsgate-server is the wsgate integration server with dotNetify's demo view models
// (HelloWorldVM, ControlTypesVM, SimpleListVM, LiveChartVM, ChatRoomVM). It is configured by
// WSGATE_* environment variables (see server/README.md) and takes AWS credentials from the
// standard chain.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/wsgate/wsgate/examples/viewmodels"
	"github.com/wsgate/wsgate/server/config"
	"github.com/wsgate/wsgate/server/integration"
	"github.com/wsgate/wsgate/server/push"
	"github.com/wsgate/wsgate/server/vm"
)

// shutdownTimeout bounds the SIGTERM drain; ECS waits 30 s before SIGKILL by default.
const shutdownTimeout = 25 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wsgate-server:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(cfg.Region))
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	reg := vm.NewRegistry()
	if err := viewmodels.Register(reg, viewmodels.Options{}); err != nil {
		return fmt.Errorf("register view models: %w", err)
	}
	var rt *vm.Runtime
	pusher, err := push.New(push.Config{
		CallbackURL: cfg.CallbackURL,
		Region:      cfg.Region,
		Credentials: awsCfg.Credentials,
		Rate:        cfg.PushRate,
		Burst:       cfg.PushBurst,
		Concurrency: cfg.PushConcurrency,
		// A client whose frames pile up (throttled, or a view model pushing faster than the
		// gateway takes) is closed once its queue crosses a bound, so it cannot take the
		// task's memory.
		MaxQueuedBytes:  cfg.MaxQueuedBytes,
		MaxQueuedFrames: cfg.MaxQueuedFrames,
		Logger:          log,
		OnGone:          func(id string) { rt.Disconnect(id) },
	})
	if err != nil {
		return err
	}
	rt = vm.New(vm.Config{Registry: reg, Sender: pusher, Closer: pusher, Logger: log,
		MaxVMIDBytes: cfg.MaxVMIDBytes, MaxVMDepth: cfg.MaxVMDepth, MaxVMsPerConnection: cfg.MaxVMsPerConnection,
		MaxPendingBytes: cfg.MaxPendingBytes})
	h := integration.NewHandler(integration.Config{Runtime: rt, Secret: cfg.IntegrationSecret, Logger: log})

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "callbackUrl", cfg.CallbackURL, "region", cfg.Region)
	// The view models live in this process only. Once the last pushes are out, close the
	// clients' connections: they reconnect (to another task, or to this one restarted) and
	// request their view models again, instead of talking to a server that forgot them.
	closeClients := func(ctx context.Context) error { return pusher.DisconnectAll(ctx, rt.Connections()) }
	err = integration.Serve(ctx, ln, h, shutdownTimeout, rt.Drain, pusher.Flush, closeClients, pusher.Close)
	st := pusher.Stats()
	log.Info("stopped", "sent", st.Sent, "retried", st.Retried, "gone", st.Gone, "failed", st.Failed, "dropped", st.Dropped, "closed", st.Closed,
		"gaveUp", st.GaveUp, "tooLarge", st.TooLarge, "refused", st.Refused, "maybeDelivered", st.Ambiguous, "queueOverflow", st.Overflow)
	vs := rt.Stats()
	log.Info("view-model limits crossed", "vmIdTooLong", vs.VMIDTooLong, "vmTooDeep", vs.VMTooDeep, "tooManyVMs", vs.TooManyVMs, "frameTooLarge", vs.FrameTooLarge, "backlogFull", vs.BacklogFull)
	return err
}
