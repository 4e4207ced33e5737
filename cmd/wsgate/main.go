// Command wsgate is the developer CLI of wsgate:
//
//	wsgate dev       synthesize your CDK app, run the local gateway and your server
//	wsgate gateway   run the local API Gateway WebSocket emulator on a template
//	wsgate bench     measure the server and the gateway against baselines
//
// Each subcommand lives in its own file and registers itself in commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand: it runs until ctx is cancelled (Ctrl-C,
// SIGTERM) or it fails.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands maps subcommand names to their implementation.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to a subcommand and turns its error into one line on
// stderr and exit status 1 (2 for usage errors). Asking for help (-h) is
// not an error: the synopsis goes to stdout and the status is 0.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "wsgate: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "wsgate %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "wsgate %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: wsgate <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Examples:")
	fmt.Fprintln(w, "  wsgate dev --server-package ./cmd/counter")
	fmt.Fprintln(w, "  go run github.com/wsgate/wsgate/cmd/wsgate dev --server-package ./cmd/counter")
	fmt.Fprintln(w, "  wsgate gateway --template cdk.out/MyStack.template.json --backend http://127.0.0.1:8080")
	fmt.Fprintln(w, "  wsgate bench --quick")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'wsgate <command> -h' for a command's synopsis, flags and examples.")
}

// parseFlags parses a subcommand's flags. With -h it prints fs.Usage to
// stdout and returns flag.ErrHelp (status 0); a bad flag is returned as an
// error of one line, without the usage text burying it.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
	}
	return err
}
