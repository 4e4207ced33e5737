package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsgate/wsgate/bench"
)

func init() {
	commands["bench"] = command{
		summary: "measure push cost, fan-out, round trip, throughput, footprint (and load, fault)",
		run:     runBench,
	}
}

// runBench is `wsgate bench [--quick] [--scenario NAME]... [--out DIR]`.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wsgate bench", flag.ContinueOnError)
	var o bench.Options
	var scenarios scenarioList
	var list, inProcess bool
	fs.BoolVar(&o.Quick, "quick", false, "tiny sizes: every scenario in seconds (shape only, not figures)")
	fs.Var(&scenarios, "scenario", "scenario to run, repeatable or comma-separated: "+strings.Join(bench.Names(), ", ")+
		", or all (default: all but load and fault)")
	fs.StringVar(&o.Out, "out", "bench-results", "directory for the JSON results and SVG charts (\"\" for none)")
	fs.StringVar(&o.ServerBinary, "server-bin", "", "a built wsgate-server for the footprint scenario (default: build one with the go tool)")
	fs.IntVar(&o.Clients, "clients", 0, "clients of the load run and of the fault run's restart drill (default: the scenario's)")
	fs.DurationVar(&o.Duration, "duration", 0, "how long the load run sends (default: the scenario's)")
	fs.BoolVar(&list, "list", false, "list the scenarios and exit")
	fs.BoolVar(&inProcess, "in-process", false, "run the local gateway inside the bench process (limits N to the open-file limit / 2)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "usage: wsgate bench [--quick] [--scenario NAME]... [--out DIR] [--clients N] [--duration D]")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Runs each scenario against a baseline measured in the same run and prints a table with")
		fmt.Fprintln(w, "the ratio and the goal; everything listens on 127.0.0.1 only.")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Examples:")
		fmt.Fprintln(w, "  wsgate bench --quick")
		fmt.Fprintln(w, "  wsgate bench --scenario round-trip,integration --out bench-results")
		fmt.Fprintln(w, "  wsgate bench --scenario load --clients 5000 --duration 2m")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Flags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (scenarios are chosen with --scenario)", fs.Arg(0))}
	}
	if o.Clients < 0 || o.Duration < 0 {
		return usageError{"--clients and --duration must not be negative"}
	}
	if list {
		for _, s := range bench.Scenarios() {
			suffix := ""
			if !s.Default {
				suffix = " (only with --scenario)"
			}
			fmt.Fprintf(stdout, "%s%s\n", s.Name, suffix)
		}
		return nil
	}
	o.Log = stdout
	if !inProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the wsgate binary to run its gateway: %w", err)
		}
		o.GatewayCommand = []string{exe, "gateway"}
	}
	start := time.Now()
	results, err := bench.Run(ctx, scenarios, o)
	if len(results) > 0 {
		if serr := bench.WriteSummary(stdout, results); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		var unknown *bench.UnknownScenarioError
		if errors.As(err, &unknown) {
			return usageError{err.Error()}
		}
		return err
	}
	if o.Out != "" {
		if err := writeSummary(o.Out, results); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "results, charts and summary.md in %s (%.0fs in all)\n", o.Out, time.Since(start).Seconds())
	}
	return nil
}

// writeSummary writes dir/summary.md, the Markdown tables of this run.
func writeSummary(dir string, results []*bench.Result) error {
	f, err := os.Create(filepath.Join(dir, "summary.md"))
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if err := bench.WriteMarkdown(f, results); err != nil {
		f.Close()
		return fmt.Errorf("summary: %w", err)
	}
	return f.Close()
}

// scenarioList collects --scenario values.
type scenarioList []string

func (s *scenarioList) String() string { return strings.Join(*s, ",") }

func (s *scenarioList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			*s = append(*s, name)
		}
	}
	return nil
}
