package vtl

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/wsgate/wsgate/localgateway/selection"
)

// Object is a value with methods and properties, such as $input and $util.
type Object interface {
	// Property returns the value of .name.
	Property(name string) (any, bool)
	// Call invokes .name(args...).
	Call(name string, args []any) (any, error)
}

// maxIterations bounds #foreach and ranges so a hostile template cannot hang
// the gateway.
const maxIterations = 10000

// Render evaluates the template with the given top-level variables (without
// "$": "context", "input", "util", "stageVariables" …). Missing values render
// as "".
func (t *Template) Render(vars map[string]any) (string, error) {
	scope := make(map[string]any, len(vars))
	for k, v := range vars {
		scope[k] = v
	}
	var b strings.Builder
	r := &renderer{scope: scope, out: &b}
	if err := r.nodes(t.nodes); err != nil {
		return "", err
	}
	return b.String(), nil
}

type renderer struct {
	scope map[string]any
	out   *strings.Builder
	steps int
}

func (r *renderer) nodes(ns []node) error {
	for _, n := range ns {
		if err := r.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) node(n node) error {
	switch n := n.(type) {
	case textNode:
		r.out.WriteString(string(n))
	case refNode:
		v, err := r.reference(n.ref)
		if err != nil {
			return err
		}
		r.out.WriteString(toString(v))
	case setNode:
		v, err := r.eval(n.value)
		if err != nil {
			return err
		}
		return r.assign(n.target, v)
	case ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c)
			if err != nil {
				return err
			}
			if truthy(v) {
				return r.nodes(n.bodies[i])
			}
		}
		if len(n.bodies) > len(n.conds) {
			return r.nodes(n.bodies[len(n.conds)])
		}
	case foreachNode:
		return r.foreach(n)
	}
	return nil
}

func (r *renderer) foreach(n foreachNode) error {
	v, err := r.eval(n.list)
	if err != nil {
		return err
	}
	items := iterable(v)
	saved, hadVar := r.scope[n.variable]
	savedLoop := r.scope["foreach"]
	savedCount := r.scope["velocityCount"]
	for i, item := range items {
		if r.steps++; r.steps > maxIterations {
			return fmt.Errorf("template: more than %d loop iterations", maxIterations)
		}
		r.scope[n.variable] = item
		r.scope["foreach"] = map[string]any{
			"index": float64(i), "count": float64(i + 1),
			"hasNext": i+1 < len(items), "first": i == 0, "last": i+1 == len(items),
		}
		r.scope["velocityCount"] = float64(i + 1)
		if err := r.nodes(n.body); err != nil {
			return err
		}
	}
	if hadVar {
		r.scope[n.variable] = saved
	} else {
		delete(r.scope, n.variable)
	}
	r.scope["foreach"], r.scope["velocityCount"] = savedLoop, savedCount
	return nil
}

// iterable returns the elements #foreach walks: list items or map values.
func iterable(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case map[string]any:
		keys := sortedKeys(t)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = t[k]
		}
		return out
	}
	return nil
}

// assign implements #set for $x and $x.key / $x[key] on maps.
func (r *renderer) assign(ref *reference, v any) error {
	if len(ref.steps) == 0 {
		r.scope[ref.root] = v
		return nil
	}
	parent, err := r.walk(r.scope[ref.root], ref.steps[:len(ref.steps)-1])
	if err != nil {
		return err
	}
	last := ref.steps[len(ref.steps)-1]
	m, ok := parent.(map[string]any)
	if !ok || last.call {
		return fmt.Errorf("template: cannot #set %s", ref.src)
	}
	key := last.name
	if last.bracket {
		k, err := r.eval(last.index)
		if err != nil {
			return err
		}
		key = toString(k)
	}
	m[key] = v
	return nil
}

func (r *renderer) reference(ref *reference) (any, error) {
	return r.walk(r.scope[ref.root], ref.steps)
}

func (r *renderer) walk(v any, steps []accessor) (any, error) {
	for _, s := range steps {
		var err error
		switch {
		case s.bracket:
			var k any
			if k, err = r.eval(s.index); err == nil {
				v = index(v, k)
			}
		case s.call:
			args := make([]any, len(s.args))
			for i, a := range s.args {
				if args[i], err = r.eval(a); err != nil {
					return nil, err
				}
			}
			v, err = call(v, s.name, args)
		default:
			v = property(v, s.name)
		}
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, nil
		}
	}
	return v, nil
}

func property(v any, name string) any {
	switch t := v.(type) {
	case map[string]any:
		return t[name]
	case map[string]string:
		if s, ok := t[name]; ok {
			return s
		}
	case Object:
		p, _ := t.Property(name)
		return p
	}
	return nil
}

func index(v, k any) any {
	switch t := v.(type) {
	case map[string]any:
		return t[toString(k)]
	case map[string]string:
		if s, ok := t[toString(k)]; ok {
			return s
		}
	case []any:
		f, ok := k.(float64)
		if ok && f >= 0 && int(f) < len(t) {
			return t[int(f)]
		}
	case Object:
		p, _ := t.Property(toString(k))
		return p
	}
	return nil
}

func (r *renderer) eval(e expr) (any, error) {
	switch e := e.(type) {
	case literal:
		return e.v, nil
	case interpolated:
		sub := &renderer{scope: r.scope, out: &strings.Builder{}, steps: r.steps}
		err := sub.nodes(e.t.nodes)
		r.steps = sub.steps
		return sub.out.String(), err
	case refExpr:
		return r.reference(e.ref)
	case listExpr:
		out := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case rangeExpr:
		return r.rangeList(e)
	case mapExpr:
		m := make(map[string]any, len(e.keys))
		for i := range e.keys {
			k, err := r.eval(e.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.values[i])
			if err != nil {
				return nil, err
			}
			m[toString(k)] = v
		}
		return m, nil
	case unary:
		x, err := r.eval(e.x)
		if err != nil {
			return nil, err
		}
		if e.op == "!" {
			return !truthy(x), nil
		}
		f, ok := number(x)
		if !ok {
			return nil, fmt.Errorf("template: cannot negate %q", toString(x))
		}
		return -f, nil
	case binary:
		return r.binary(e)
	}
	return nil, fmt.Errorf("template: unknown expression %T", e)
}

func (r *renderer) rangeList(e rangeExpr) (any, error) {
	fv, err := r.eval(e.from)
	if err != nil {
		return nil, err
	}
	tv, err := r.eval(e.to)
	if err != nil {
		return nil, err
	}
	from, ok1 := number(fv)
	to, ok2 := number(tv)
	if !ok1 || !ok2 || math.Abs(to-from) > maxIterations {
		return nil, fmt.Errorf("template: bad range [%s..%s]", toString(fv), toString(tv))
	}
	step := 1.0
	if to < from {
		step = -1
	}
	var out []any
	for i := from; ; i += step {
		out = append(out, i)
		if i == to {
			return out, nil
		}
	}
}

func (r *renderer) binary(e binary) (any, error) {
	l, err := r.eval(e.l)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case "&&":
		if !truthy(l) {
			return false, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	case "||":
		if truthy(l) {
			return true, nil
		}
		rv, err := r.eval(e.r)
		return truthy(rv), err
	}
	rv, err := r.eval(e.r)
	if err != nil {
		return nil, err
	}
	return arithmetic(e.op, l, rv)
}

func arithmetic(op string, l, r any) (any, error) {
	lf, lok := number(l)
	rf, rok := number(r)
	both := lok && rok
	switch op {
	case "==":
		if both {
			return lf == rf, nil
		}
		return l != nil && r != nil && toString(l) == toString(r) || l == nil && r == nil, nil
	case "!=":
		eq, _ := arithmetic("==", l, r)
		return !eq.(bool), nil
	case "+":
		if both {
			return lf + rf, nil
		}
		return toString(l) + toString(r), nil
	}
	if !both {
		if op == "<" || op == ">" || op == "<=" || op == ">=" {
			c := strings.Compare(toString(l), toString(r))
			return compare(op, float64(c), 0), nil
		}
		return nil, fmt.Errorf("template: %q %s %q needs numbers", toString(l), op, toString(r))
	}
	switch op {
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		if rf == 0 {
			return nil, fmt.Errorf("template: division by zero")
		}
		return math.Trunc(lf / rf), nil
	case "%":
		if rf == 0 {
			return nil, fmt.Errorf("template: division by zero")
		}
		return math.Mod(lf, rf), nil
	}
	return compare(op, lf, rf), nil
}

func compare(op string, l, r float64) bool {
	switch op {
	case "<":
		return l < r
	case ">":
		return l > r
	case "<=":
		return l <= r
	}
	return l >= r
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	}
	return 0, false
}

// truthy follows Velocity: null and false are false; so is "" (templates use
// #if($input.params('x')) to test for a value).
func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	}
	return true
}

// toString renders a value the way Velocity (Java's toString) does.
func toString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case map[string]string:
		m := make(map[string]any, len(t))
		for k, s := range t {
			m[k] = s
		}
		return toString(m)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = toString(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := sortedKeys(t)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + toString(t[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case Object:
		return ""
	}
	return selection.Stringify(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
