// Package emfcheck checks a log line against the CloudWatch Embedded Metric Format
// specification ("Specification: Embedded metric format" in the CloudWatch user guide), so
// that tests fail on a record CloudWatch would not turn into metrics. It also accepts the
// distribution value ({Values, Counts, Max, Min, Count, Sum}) that the CloudWatch agent and
// the OpenTelemetry EMF exporter send.
package emfcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// Limits of the specification and of the path to CloudWatch Logs.
const (
	MaxEventBytes        = 256 << 10 // a CloudWatch Logs event
	MaxLineBytes         = 16 << 10  // Docker splits longer lines before the awslogs driver sees them
	MaxMetricsPerRecord  = 100       // MetricDefinitions in one directive
	MaxDimensionsPerSet  = 30        // names in one DimensionSet
	MaxValuesPerMetric   = 100       // entries of a value array (or of Values/Counts)
	MaxNameChars         = 1024      // namespace, metric and dimension names, dimension values
	MaxStorageResolution = 60
)

// units are the CloudWatch units a MetricDefinition may name.
var units = map[string]bool{}

func init() {
	for _, u := range strings.Fields(`Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes
		Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second
		Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second
		Terabits/Second Count/Second None`) {
		units[u] = true
	}
}

// Record is a checked record's content, for assertions on values.
type Record struct {
	Namespace  string
	Timestamp  int64
	Dimensions [][]string
	Units      map[string]string // metric name → unit
	Members    map[string]json.RawMessage
}

// Check parses one line (with its trailing newline) and returns every rule it breaks.
func Check(line []byte) (Record, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !bytes.HasSuffix(line, []byte("\n")) {
		bad("the record does not end with a newline")
	}
	body := bytes.TrimSuffix(line, []byte("\n"))
	if bytes.ContainsAny(body, "\r\n") {
		bad("the record spans more than one line")
	}
	if len(line) > MaxLineBytes {
		bad("the record is %d bytes, over the %d of one log line", len(line), MaxLineBytes)
	}
	var root map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&root); err != nil {
		return Record{}, errors.Join(append(errs, fmt.Errorf("not a JSON object: %w", err))...)
	}
	if dec.More() {
		bad("data after the JSON object")
	}
	rec := Record{Members: root, Units: map[string]string{}}
	rawAWS, ok := root["_aws"]
	if !ok {
		return rec, errors.Join(append(errs, errors.New("no _aws member"))...)
	}
	var aws map[string]json.RawMessage
	if err := json.Unmarshal(rawAWS, &aws); err != nil {
		return rec, errors.Join(append(errs, fmt.Errorf("_aws is not an object: %w", err))...)
	}
	for k := range aws {
		if k != "Timestamp" && k != "CloudWatchMetrics" && k != "LogGroupName" {
			bad("_aws has an unknown member %q", k)
		}
	}
	if err := json.Unmarshal(aws["Timestamp"], &rec.Timestamp); err != nil || rec.Timestamp <= 0 {
		bad("_aws.Timestamp must be a positive integer of milliseconds since the epoch, got %s", aws["Timestamp"])
	}
	var directives []map[string]json.RawMessage
	if err := json.Unmarshal(aws["CloudWatchMetrics"], &directives); err != nil || len(directives) == 0 {
		return rec, errors.Join(append(errs, fmt.Errorf("_aws.CloudWatchMetrics must be a non-empty array of objects, got %s", aws["CloudWatchMetrics"]))...)
	}
	for i, d := range directives {
		errs = append(errs, checkDirective(i, d, root, &rec)...)
	}
	return rec, errors.Join(errs...)
}

func checkDirective(i int, d map[string]json.RawMessage, root map[string]json.RawMessage, rec *Record) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("directive %d: "+format, append([]any{i}, args...)...))
	}
	for k := range d {
		if k != "Namespace" && k != "Dimensions" && k != "Metrics" {
			bad("unknown member %q", k)
		}
	}
	if err := json.Unmarshal(d["Namespace"], &rec.Namespace); err != nil || !validName(rec.Namespace) {
		bad("Namespace must be a string of 1 to %d characters, not only spaces, got %s", MaxNameChars, d["Namespace"])
	}
	var dims [][]string
	if err := json.Unmarshal(d["Dimensions"], &dims); err != nil {
		bad("Dimensions must be an array of arrays of strings, got %s", d["Dimensions"])
	}
	rec.Dimensions = dims
	dimNames := map[string]bool{}
	for j, set := range dims {
		if len(set) > MaxDimensionsPerSet {
			bad("dimension set %d has %d names, over %d", j, len(set), MaxDimensionsPerSet)
		}
		seen := map[string]bool{}
		for _, name := range set {
			if seen[name] {
				bad("dimension set %d names %q twice", j, name)
			}
			seen[name] = true
			dimNames[name] = true
			var v string
			raw, ok := root[name]
			switch {
			case !ok:
				bad("dimension %q has no member", name)
			case json.Unmarshal(raw, &v) != nil:
				bad("dimension %q must be a string, got %s", name, raw)
			case !validName(v):
				bad("dimension %q's value must have 1 to %d characters, not only spaces, got %q", name, MaxNameChars, v)
			}
		}
	}
	var metrics []map[string]json.RawMessage
	if err := json.Unmarshal(d["Metrics"], &metrics); err != nil {
		bad("Metrics must be an array of objects, got %s", d["Metrics"])
	}
	if len(metrics) > MaxMetricsPerRecord {
		bad("%d metrics, over %d", len(metrics), MaxMetricsPerRecord)
	}
	for _, m := range metrics {
		var name, unit string
		var res int
		for k := range m {
			if k != "Name" && k != "Unit" && k != "StorageResolution" {
				bad("metric definition has an unknown member %q", k)
			}
		}
		if err := json.Unmarshal(m["Name"], &name); err != nil || !validName(name) {
			bad("metric Name must be a string of 1 to %d characters, got %s", MaxNameChars, m["Name"])
			continue
		}
		if _, dup := rec.Units[name]; dup {
			bad("metric %q is defined twice", name)
		}
		if dimNames[name] {
			bad("%q is both a dimension and a metric", name)
		}
		if raw, ok := m["Unit"]; ok {
			if err := json.Unmarshal(raw, &unit); err != nil || !units[unit] {
				bad("metric %q: Unit %s is not a CloudWatch unit", name, raw)
			}
		}
		if raw, ok := m["StorageResolution"]; ok {
			if err := json.Unmarshal(raw, &res); err != nil || res != 1 && res != MaxStorageResolution {
				bad("metric %q: StorageResolution must be 1 or 60, got %s", name, raw)
			}
		}
		rec.Units[name] = unit
		raw, ok := root[name]
		if !ok {
			bad("metric %q has no member", name)
			continue
		}
		if err := checkValue(raw); err != nil {
			bad("metric %q: %v", name, err)
		}
	}
	return errs
}

func validName(s string) bool {
	return s != "" && strings.TrimSpace(s) != "" && utf8.RuneCountInString(s) <= MaxNameChars
}

// checkValue accepts a number, an array of at most 100 numbers, or a distribution.
func checkValue(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '[':
		var vs []float64
		if err := json.Unmarshal(raw, &vs); err != nil {
			return fmt.Errorf("want an array of numbers, got %s", raw)
		}
		if len(vs) == 0 || len(vs) > MaxValuesPerMetric {
			return fmt.Errorf("an array of %d values, want 1 to %d", len(vs), MaxValuesPerMetric)
		}
		return nil
	case len(raw) > 0 && raw[0] == '{':
		return checkDistribution(raw)
	default:
		var v float64
		if err := json.Unmarshal(raw, &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("want a number, got %s", raw)
		}
		return nil
	}
}

// checkDistribution checks {Values, Counts, Max, Min, Count, Sum}: equal arrays of at most
// 100 entries, counts that add up to Count, values within [Min, Max].
func checkDistribution(raw json.RawMessage) error {
	var d struct {
		Values               []float64
		Counts               []float64
		Max, Min, Count, Sum *float64
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("not a distribution {Values, Counts, Max, Min, Count, Sum}: %v", err)
	}
	if d.Max == nil || d.Min == nil || d.Count == nil || d.Sum == nil {
		return errors.New("a distribution needs Max, Min, Count and Sum")
	}
	if len(d.Values) == 0 || len(d.Values) > MaxValuesPerMetric || len(d.Values) != len(d.Counts) {
		return fmt.Errorf("Values (%d) and Counts (%d) must have the same 1 to %d entries", len(d.Values), len(d.Counts), MaxValuesPerMetric)
	}
	var total float64
	for i, v := range d.Values {
		if v < *d.Min || v > *d.Max {
			return fmt.Errorf("value %v is outside [Min %v, Max %v]", v, *d.Min, *d.Max)
		}
		if d.Counts[i] <= 0 {
			return fmt.Errorf("count %v of value %v is not positive", d.Counts[i], v)
		}
		total += d.Counts[i]
	}
	if total != *d.Count {
		return fmt.Errorf("Counts add up to %v, Count is %v", total, *d.Count)
	}
	if *d.Sum < 0 {
		return fmt.Errorf("negative Sum %v", *d.Sum)
	}
	return nil
}
