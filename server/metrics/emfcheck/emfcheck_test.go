package emfcheck

import (
	"strings"
	"testing"
)

const good = `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Wsgate","Dimensions":[["ServiceName"]],"Metrics":[{"Name":"PushesSent","Unit":"Count"},{"Name":"PushLatency","Unit":"Milliseconds"}]}]},"ServiceName":"wsgate","PushesSent":3,"PushLatency":{"Values":[1.5,3],"Counts":[2,1],"Max":4,"Min":1,"Count":3,"Sum":6}}` + "\n"

func TestCheckAcceptsAWellFormedRecord(t *testing.T) {
	rec, err := Check([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Namespace != "Wsgate" || rec.Timestamp != 1700000000000 || rec.Units["PushLatency"] != "Milliseconds" {
		t.Errorf("record: %+v", rec)
	}
}

// Each malformed record is refused, with a message naming the rule it breaks.
func TestCheckRefusesMalformedRecords(t *testing.T) {
	dims31 := `"D0"`
	members31 := `"D0":"v"`
	for i := 1; i <= 30; i++ {
		n := `"D` + string(rune('A'+i%26)) + strings.Repeat("x", i) + `"`
		dims31 += "," + n
		members31 += "," + n + `:"v"`
	}
	metrics101, members101 := "", ""
	for i := range 101 {
		n := `"M` + strings.Repeat("m", i) + `"`
		if i > 0 {
			metrics101 += ","
		}
		metrics101 += `{"Name":` + n + `}`
		members101 += "," + n + ":1"
	}
	values101 := "[" + strings.TrimSuffix(strings.Repeat("1,", 101), ",") + "]"
	rec := func(directive, members string) string {
		return `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[` + directive + `]}` + members + "}\n"
	}
	for _, tc := range []struct{ name, line, want string }{
		{"no newline", strings.TrimSuffix(good, "\n"), "does not end with a newline"},
		{"two lines", strings.Replace(good, `,"ServiceName"`, "\n,\"ServiceName\"", 1), "more than one line"},
		{"not JSON", "{\"_aws\":\n", "not a JSON object"},
		{"no _aws", `{"PushesSent":1}` + "\n", "no _aws member"},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[]}]}}` + "\n", "Timestamp must be a positive integer"},
		{"string timestamp", strings.Replace(good, `1700000000000`, `"1700000000000"`, 1), "Timestamp must be a positive integer"},
		{"no directives", `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]}}` + "\n", "non-empty array"},
		{"no namespace", rec(`{"Dimensions":[],"Metrics":[]}`, ""), "Namespace must be a string"},
		{"blank namespace", rec(`{"Namespace":"  ","Dimensions":[],"Metrics":[]}`, ""), "Namespace must be a string"},
		{"extra directive member", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[],"Extra":1}`, ""), `unknown member "Extra"`},
		{"dimension without member", rec(`{"Namespace":"N","Dimensions":[["Route"]],"Metrics":[]}`, ""), `dimension "Route" has no member`},
		{"numeric dimension", rec(`{"Namespace":"N","Dimensions":[["Route"]],"Metrics":[]}`, `,"Route":1`), `dimension "Route" must be a string`},
		{"empty dimension value", rec(`{"Namespace":"N","Dimensions":[["Route"]],"Metrics":[]}`, `,"Route":""`), `value must have 1 to 1024`},
		{"31 dimensions", rec(`{"Namespace":"N","Dimensions":[[`+dims31+`]],"Metrics":[]}`, ","+members31), "31 names, over 30"},
		{"101 metrics", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[`+metrics101+`]}`, members101), "101 metrics, over 100"},
		{"metric without member", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M"}]}`, ""), `metric "M" has no member`},
		{"string metric", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M"}]}`, `,"M":"1"`), "want a number"},
		{"bad unit", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M","Unit":"ms"}]}`, `,"M":1`), "not a CloudWatch unit"},
		{"bad resolution", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M","StorageResolution":5}]}`, `,"M":1`), "StorageResolution must be 1 or 60"},
		{"metric twice", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M"},{"Name":"M"}]}`, `,"M":1`), "defined twice"},
		{"101 values", rec(`{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"M"}]}`, `,"M":`+values101), "an array of 101 values"},
		{"counts off", strings.Replace(good, `"Count":3`, `"Count":4`, 1), "Counts add up to 3, Count is 4"},
		{"value over max", strings.Replace(good, `"Max":4`, `"Max":2`, 1), "outside [Min 1, Max 2]"},
		{"arrays unequal", strings.Replace(good, `"Counts":[2,1]`, `"Counts":[3]`, 1), "must have the same"},
		{"distribution without sum", strings.Replace(good, `,"Sum":6`, ``, 1), "needs Max, Min, Count and Sum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check([]byte(tc.line))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check: %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}
