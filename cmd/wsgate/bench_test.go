package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wsgate/wsgate/bench"
)

// The quick run is the smoke test of `wsgate bench`: every default scenario runs at tiny
// sizes and leaves a table, a JSON result and an SVG chart. The figures are not checked,
// only the report's shape.
func TestBenchQuickReportShape(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--quick", "--in-process", "--out", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	want := map[string][]string{ // scenario → measurements that must be in its result
		"push-cost":   {"bare signed http.Request", "push.Client.Post", "push.Client.Send (queued)", "aws-sdk-go-v2 PostToConnection"},
		"fan-out":     {"bare signed client, N=50", "wsgate push, N=50"},
		"round-trip":  {"raw WebSocket echo (gorilla)", "wsgate: gateway + server + @connections"},
		"integration": {"no-op net/http handler", "wsgate HelloWorld update_vm"},
		"footprint":   {"wsgate server session + HelloWorldVM", "gorilla/websocket echo server socket", "wsgate local gateway socket"},
	}
	for name, measurements := range want {
		if !strings.Contains(out, "==> "+name+"\n") {
			t.Errorf("no table for %s in:\n%s", name, out)
		}
		r := readResult(t, filepath.Join(dir, name+".json"))
		if r.Scenario != name || !r.Quick || r.Title == "" || len(r.Columns) == 0 || len(r.Goals) == 0 {
			t.Errorf("%s: incomplete result: %+v", name, r)
		}
		for _, m := range measurements {
			i := slices.IndexFunc(r.Measurements, func(x bench.Measurement) bool { return x.Name == m })
			if i < 0 {
				t.Errorf("%s: no measurement %q", name, m)
				continue
			}
			if len(r.Measurements[i].Metrics) == 0 {
				t.Errorf("%s: measurement %q has no metrics", name, m)
			}
		}
		for _, g := range r.Goals {
			if g.Name == "" || (g.Op != "<=" && g.Op != ">=") || g.Unit == "" {
				t.Errorf("%s: malformed goal %+v", name, g)
			}
		}
		svg, err := os.ReadFile(filepath.Join(dir, name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(svg, new(struct{ XMLName xml.Name })); err != nil || !bytes.HasPrefix(svg, []byte("<svg ")) {
			t.Errorf("%s.svg is not an SVG document: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "load.json")); !os.IsNotExist(err) {
		t.Errorf("the load run is not part of the default set, but load.json exists (%v)", err)
	}
	if !strings.Contains(out, "summary\n") || !strings.Contains(out, " goals met\n") {
		t.Errorf("no goal summary in:\n%s", out)
	}
	md, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range want {
		if !strings.Contains(string(md), "### "+name+": ") {
			t.Errorf("summary.md has no section for %s", name)
		}
	}
}

func readResult(t *testing.T, path string) bench.Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

func TestBenchRejectsBadCommandLines(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"bench", "--scenario", "nope"}, 2, `wsgate bench: unknown scenario "nope" (known: push-cost, fan-out, round-trip, integration, footprint, load, fault)`},
		{[]string{"bench", "fan-out"}, 2, `wsgate bench: unexpected argument "fan-out" (scenarios are chosen with --scenario)`},
		{[]string{"bench", "--clients", "-5"}, 2, "wsgate bench: --clients and --duration must not be negative"},
		{[]string{"bench", "--duration", "soon"}, 2, `invalid value "soon" for flag -duration`},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
	}
}

func TestBenchList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"bench", "--list"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := "push-cost\nfan-out\nround-trip\nintegration\nfootprint\nload (only with --scenario)\nfault (only with --scenario)\n"
	if stdout.String() != want {
		t.Errorf("--list printed %q, want %q", stdout.String(), want)
	}
}
