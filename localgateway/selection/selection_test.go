package selection

import (
	"encoding/json"
	"testing"
)

func TestEvaluateSpecExamples(t *testing.T) {
	body := []byte(`{"service":"chat","action":"join","data":{"room":"room1234"},"n":1,"b":true,"list":["a",2],"nil":null}`)
	lookup, ok := BodyLookup(body)
	if !ok {
		t.Fatal("body not recognised as JSON")
	}
	cases := map[string]string{
		`$request.body.action`:                               "join",
		`${request.body.action}`:                             "join",
		`${request.body.service}/${request.body.action}`:     "chat/join",
		`${request.body.action}-${request.body.invalidPath}`: "join-",
		`action`:                      "action",
		`\$default`:                   "$default",
		`$request.body.data.room`:     "room1234",
		`$request.body['service']`:    "chat",
		`$request.body.n`:             "1",
		`$request.body.b`:             "true",
		`$request.body.list`:          "[a, 2]",
		`$request.body.nil`:           "",
		`$request.body.data`:          "{room=room1234}",
		`$request.body.list[1]`:       "2",
		`x$request.body.action.y`:     "x",
		`${request.body.action`:       "${request.body.action",
		`cost: $`:                     "cost: $",
		`$request.header.x-api-key`:   "",
		`${request.body.data.room}!!`: "room1234!!",
	}
	for expr, want := range cases {
		if got := Evaluate(expr, lookup); got != want {
			t.Errorf("Evaluate(%q) = %q, want %q", expr, got, want)
		}
	}
}

func TestBodyLookupNonJSON(t *testing.T) {
	lookup, ok := BodyLookup([]byte("hello there"))
	if ok {
		t.Fatal("plain text recognised as JSON")
	}
	if got := Evaluate("$request.body.action", lookup); got != "" {
		t.Fatalf("got %q from non-JSON", got)
	}
}

func TestPath(t *testing.T) {
	var doc any
	if err := json.Unmarshal([]byte(`{"a":{"b":[{"c":1},{"c":2}]},"k":"v"}`), &doc); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"$":                   "{a={b=[{c=1}, {c=2}]}, k=v}",
		"$.k":                 "v",
		"$.a.b[0].c":          "1",
		"$.a.b[-1].c":         "2",
		"$.a.b[*].c":          "[1, 2]",
		"$['a']['b'][1]['c']": "2",
		"$.missing":           "",
	}
	for path, want := range cases {
		v, err := Path(doc, path)
		if err != nil {
			t.Fatalf("Path(%q): %v", path, err)
		}
		if got := Stringify(v); got != want {
			t.Errorf("Path(%q) = %q, want %q", path, got, want)
		}
	}
	for path, want := range map[string]string{
		"a.b":    `JSONPath "a.b": must start with $`,
		"$.a[":   `JSONPath "$.a[": unclosed '['`,
		"$.a[x]": `JSONPath "$.a[x]": bad subscript [x]`,
		"$..a":   `JSONPath "$..a": empty name after '.'`,
	} {
		if _, err := Path(doc, path); err == nil || err.Error() != want {
			t.Errorf("Path(%q) error = %v, want %q", path, err, want)
		}
	}
}

func FuzzEvaluate(f *testing.F) {
	f.Add(`${request.body.service}/${request.body.action}`, `{"service":"chat","action":"join"}`)
	f.Add(`\$default`, `not json`)
	f.Add(`$request.body.a[0]['b'][*]`, `{"a":[{"b":{"x":1}}]}`)
	f.Add(`${`, `{}`)
	f.Fuzz(func(t *testing.T, expr, body string) {
		lookup, _ := BodyLookup([]byte(body))
		_ = Evaluate(expr, lookup)
		var doc any
		_ = json.Unmarshal([]byte(body), &doc)
		_, _ = Path(doc, "$"+expr)
	})
}
