package vtl

import (
	"encoding/json"
	"strings"
	"testing"
)

func render(t *testing.T, src string, vars map[string]any) string {
	t.Helper()
	tpl, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	out, err := tpl.Render(vars)
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	return out
}

func vars(body string) map[string]any {
	return map[string]any{
		"context": map[string]any{
			"connectionId": "Wm1nYcO3IAMCJ2w=",
			"routeKey":     "$default",
			"identity":     map[string]any{"sourceIp": "127.0.0.1", "userAgent": `Mozilla/5.0 (it's "quoted") é`},
		},
		"input":          &Input{Body: body, Header: map[string]string{"Auth": "tok"}, QueryString: map[string]string{"room": "r1"}},
		"util":           Util{},
		"stageVariables": map[string]any{"backend": "local", "weird-name": "x"},
	}
}

func TestDotNetifyTemplates(t *testing.T) {
	frame := `{"callType":"request_vm","vmId":"HelloWorldVM","vmArgs":"{}"}`
	got := render(t, "{\n   \"connectionId\": \"$context.connectionId\",\n   \"payload\": $input.body\n}\n", vars(frame))
	var decoded map[string]any
	if err := json.Unmarshal([]byte(got), &decoded); err != nil {
		t.Fatalf("rendered template is not JSON: %v\n%s", err, got)
	}
	compact, _ := json.Marshal(decoded)
	want := `{"connectionId":"Wm1nYcO3IAMCJ2w=","payload":{"callType":"request_vm","vmArgs":"{}","vmId":"HelloWorldVM"}}`
	if string(compact) != want {
		t.Fatalf("got %s, want %s", compact, want)
	}
}

func TestEscapeJavaScriptWithReplaceAll(t *testing.T) {
	got := render(t, `"$util.escapeJavaScript($context.identity.userAgent).replaceAll("\\'","'")"`, vars(""))
	want := `"Mozilla\/5.0 (it's \"quoted\") \u00E9"`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var s string
	if err := json.Unmarshal([]byte(got), &s); err != nil || s != `Mozilla/5.0 (it's "quoted") é` {
		t.Fatalf("not a JSON string of the user agent: %q %v", s, err)
	}
}

func TestReferencesAndFunctions(t *testing.T) {
	body := `{"action":"send","items":[{"n":1},{"n":2}],"msg":"a b&c","b64":"aGk="}`
	cases := map[string]string{
		`$input.json('$.items[0]')`:                   `{"n":1}`,
		`$input.json('$.action')`:                     `"send"`,
		`$input.path('$.items').size()`:               "2",
		`$input.path('$.items[1].n')`:                 "2",
		`$input.params('room')/$input.params('Auth')`: "r1/tok",
		`$input.params().querystring.room`:            "r1",
		`$util.urlEncode($input.path('$.msg'))`:       "a+b%26c",
		`$util.urlDecode("a+b%26c")`:                  "a b&c",
		`$util.base64Encode("hi")`:                    "aGk=",
		`$util.base64Decode($input.path('$.b64'))`:    "hi",
		`$util.parseJson($input.body).action`:         "send",
		`$stageVariables.backend $stageVariables['weird-name'] ${stageVariables['backend']}`: "local x local",
		`${context.connectionId}x`:             "Wm1nYcO3IAMCJ2w=x",
		`$!context.missing|$context.missing|`:  "||",
		`price: $5 and #hash`:                  "price: $5 and #hash",
		`\$context.routeKey`:                   "$context.routeKey",
		`$context.routeKey.length()`:           "8",
		`$context.connectionId.substring(0,4)`: "Wm1n",
	}
	for src, want := range cases {
		if got := render(t, src, vars(body)); got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
}

func TestDirectives(t *testing.T) {
	body := `{"items":[{"n":1},{"n":2},{"n":3}],"kind":"b"}`
	src := `## a comment line
#set($items = $input.path('$.items'))#set($total = 0)
[#foreach($it in $items)$it.n#if($foreach.hasNext),#end#set($total = $total + $it.n)#end]
#* block
comment *#total=$total count=$items.size()
#if($input.path('$.kind') == "a")A#elseif($input.path('$.kind') == 'b' && $total > 5)B#{else}C#end
#set($m = {"k": "v", "n": 2})$m.k$m.get("n") #foreach($i in [1..3])$velocityCount#end #if(!$nothing)none#end`
	want := "[1,2,3]\ntotal=6 count=3\nB\nv2 123 none"
	if got := render(t, src, vars(body)); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		`#if($x)a`:               "template line 1: #if without #end",
		"a\n#end":                "template line 2: #end without a matching #if or #foreach",
		`#set $x = 1)`:           "template line 1: #set needs '('",
		`#foreach($x $list)#end`: "template line 1: #foreach needs 'in'",
		`${context.x`:            "template line 1: missing '}' in reference ${context",
		`#set($x = 'abc)`:        "template line 1: unclosed string",
		`#* never closed`:        "template line 1: unclosed #* comment",
	}
	for src, want := range cases {
		_, err := Parse(src)
		if err == nil || err.Error() != want {
			t.Errorf("Parse(%q) error = %v, want %q", src, err, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	cases := map[string]string{
		`$util.parseJson("{oops")`:       "template: $util.parseJson: invalid character 'o' looking for beginning of object key string",
		`$util.nothing("x")`:             "template: no method $util.nothing",
		`#foreach($i in [1..20000])#end`: "template: bad range [1..20000]",
		`#set($x = 1 / 0)`:               "template: division by zero",
		`$input.json('items')`:           `template: $input.json: JSONPath "items": must start with $`,
	}
	for src, want := range cases {
		tpl, err := Parse(src)
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if _, err := tpl.Render(vars(`{}`)); err == nil || err.Error() != want {
			t.Errorf("Render(%q) error = %v, want %q", src, err, want)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	f.Add(`{"connectionId": "$context.connectionId", "payload": $input.body}`, `{"a":1}`)
	f.Add(`#foreach($i in $input.path('$.l'))$i#if($foreach.hasNext),#end#end`, `{"l":[1,2]}`)
	f.Add(`#set($x = {"a": [1..3]})$x.a.get(0)`, ``)
	f.Add(`$util.escapeJavaScript($input.body).replaceAll("\\'","'")`, `it's`)
	f.Fuzz(func(t *testing.T, src, body string) {
		tpl, err := Parse(src)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "template") {
				t.Fatalf("parse error without context: %v", err)
			}
			return
		}
		_, _ = tpl.Render(vars(body))
	})
}

// Patterns are compiled once and kept, up to a bound: past it they are still compiled and
// used, just not kept, so a template that builds patterns from client data cannot grow
// the gateway's memory.
func TestRegexPatternsAreBounded(t *testing.T) {
	for i := range maxPatterns + 10 {
		p := "a{" + strings.Repeat("1", 1) + "}" + strings.Repeat("b", i)
		got, err := regexMethod("a"+strings.Repeat("b", i)+"c", "replaceAll", p, []any{p, "x"})
		if err != nil || got != "xc" {
			t.Fatalf("pattern %d: got %v, %v; want xc", i, got, err)
		}
	}
	if n := patternCount(); n != maxPatterns {
		t.Fatalf("kept %d patterns, want at most %d", n, maxPatterns)
	}
	if _, err := regexMethod("a", "matches", "(", nil); err == nil || err.Error() != "template: matches: bad pattern \"(\": error parsing regexp: missing closing ): `(`" {
		t.Fatalf("bad pattern: got %v", err)
	}
}

// The user agent field of wsgate's own request template, rendered per message.
func BenchmarkRenderUserAgentTemplate(b *testing.B) {
	tpl, err := Parse(`{"ua":"$util.escapeJavaScript($context.identity.userAgent).replaceAll("\\'","'")","payload":$input.body}`)
	if err != nil {
		b.Fatal(err)
	}
	v := vars(`{"callType":"update_vm","vmId":"HelloWorldVM","value":"{\"FirstName\":\"Jane\"}"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tpl.Render(v); err != nil {
			b.Fatal(err)
		}
	}
}
