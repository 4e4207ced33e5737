package snapshot

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// Copies of the synthesized template that other packages load without a
// synth (the local gateway's tests, the embedded one `wsgate bench` serves).
// Their WebSocket API must stay the one the stack synthesizes today.
var templateCopies = []string{
	"../../localgateway/testdata/wsgate-stack.template.json",
	"../../bench/wsgate-stack.template.json",
}

func TestTemplateCopiesServeTheSynthesizedAPI(t *testing.T) {
	want := apiResources(t, golden)
	if len(want) == 0 {
		t.Fatalf("%s has no AWS::ApiGatewayV2 resources", golden)
	}
	for _, path := range templateCopies {
		got := apiResources(t, path)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: its AWS::ApiGatewayV2 resources differ from %s; copy the golden template over it", path, golden)
		}
	}
}

// apiResources returns the template's API Gateway v2 resources by logical id.
func apiResources(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read template copy: %v", err)
	}
	var tmpl struct {
		Resources map[string]struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
			DependsOn  any            `json:"DependsOn"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := map[string]any{}
	for id, r := range tmpl.Resources {
		if strings.HasPrefix(r.Type, "AWS::ApiGatewayV2::") {
			out[id] = r
		}
	}
	return out
}
