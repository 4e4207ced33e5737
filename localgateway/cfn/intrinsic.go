package cfn

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// noValue marks a property removed by Ref AWS::NoValue.
type noValue struct{}

// resolver evaluates intrinsic functions against one template.
type resolver struct {
	doc        *document
	opts       Options
	conditions map[string]bool
}

// resolve returns v with every intrinsic function evaluated. Attributes of
// resources that exist only after a deployment (a load balancer's DNS name,
// say) become the placeholder "<Resource.Attribute>": the gateway replaces
// integration hosts anyway.
func (r *resolver) resolve(v any) (any, error) {
	switch t := v.(type) {
	case []any:
		out := make([]any, 0, len(t))
		for _, e := range t {
			x, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, skip := x.(noValue); !skip {
				out = append(out, x)
			}
		}
		return out, nil
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return r.function(k, arg)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			x, err := r.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, skip := x.(noValue); !skip {
				out[k] = x
			}
		}
		return out, nil
	}
	return v, nil
}

func (r *resolver) function(name string, arg any) (any, error) {
	if name == "Fn::Sub" {
		return r.sub(arg)
	}
	if name == "Fn::If" {
		return r.ifFunc(arg)
	}
	a, err := r.resolve(arg)
	if err != nil {
		return nil, err
	}
	switch name {
	case "Ref":
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("Ref needs a name, got %v", a)
		}
		return r.ref(s)
	case "Fn::GetAtt":
		return r.getAtt(a)
	case "Fn::Join":
		return join(a)
	case "Fn::Select":
		return selectFunc(a)
	case "Fn::Split":
		l, ok := a.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split needs [delimiter, string]")
		}
		parts := strings.Split(str(l[1]), str(l[0]))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::Base64":
		return base64.StdEncoding.EncodeToString([]byte(str(a))), nil
	case "Fn::GetAZs":
		return []any{r.opts.Region + "a", r.opts.Region + "b", r.opts.Region + "c"}, nil
	case "Fn::ImportValue":
		return "<import:" + str(a) + ">", nil
	case "Fn::FindInMap":
		return r.findInMap(a)
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.condition(name, a)
	}
	return nil, fmt.Errorf("unsupported intrinsic function %s", name)
}

// pseudo parameters a local deployment answers.
func (r *resolver) pseudo(name string) (string, bool) {
	switch name {
	case "AWS::Region":
		return r.opts.Region, true
	case "AWS::AccountId":
		return r.opts.AccountID, true
	case "AWS::Partition":
		return "aws", true
	case "AWS::URLSuffix":
		return "amazonaws.com", true
	case "AWS::StackName":
		return r.opts.StackName, true
	case "AWS::StackId":
		return "arn:aws:cloudformation:" + r.opts.Region + ":" + r.opts.AccountID + ":stack/" + r.opts.StackName + "/local", true
	}
	return "", false
}

func (r *resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.pseudo(name); ok {
		return v, nil
	}
	if p, ok := r.doc.Parameters[name]; ok {
		if d, ok := p["Default"]; ok {
			return r.resolve(d)
		}
		return nil, fmt.Errorf("Ref %s: the parameter has no Default, and the local gateway takes no parameter values", name)
	}
	if _, ok := r.doc.Resources[name]; ok {
		// The logical id stands in for the physical id.
		return name, nil
	}
	return nil, fmt.Errorf("Ref %s: no such parameter or resource", name)
}

func (r *resolver) getAtt(a any) (any, error) {
	var res, attr string
	switch t := a.(type) {
	case []any:
		if len(t) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt needs [resource, attribute]")
		}
		res, attr = str(t[0]), str(t[1])
	case string:
		res, attr, _ = strings.Cut(t, ".")
	}
	rs, ok := r.doc.Resources[res]
	if !ok {
		return nil, fmt.Errorf("Fn::GetAtt %s.%s: no such resource", res, attr)
	}
	if rs.Type == typeAPI {
		switch attr {
		case "ApiId":
			return res, nil
		case "ApiEndpoint":
			return "wss://" + res + ".execute-api." + r.opts.Region + ".amazonaws.com", nil
		}
	}
	return "<" + res + "." + attr + ">", nil
}

// sub implements Fn::Sub: ${Name} is a variable, a Ref or (with a dot) a
// GetAtt; ${!Literal} is "${Literal}". Unknown dotted names such as
// ${stageVariables.x} stay as they are for the gateway to fill in later.
func (r *resolver) sub(arg any) (any, error) {
	var tpl string
	vars := map[string]any{}
	switch t := arg.(type) {
	case string:
		tpl = t
	case []any:
		if len(t) != 2 {
			return nil, fmt.Errorf("Fn::Sub needs a string or [string, variables]")
		}
		tpl = str(t[0])
		m, err := r.resolve(t[1])
		if err != nil {
			return nil, err
		}
		mm, ok := m.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub variables must be a map")
		}
		vars = mm
	default:
		return nil, fmt.Errorf("Fn::Sub needs a string or [string, variables]")
	}
	var b strings.Builder
	for {
		i := strings.Index(tpl, "${")
		if i < 0 {
			b.WriteString(tpl)
			return b.String(), nil
		}
		b.WriteString(tpl[:i])
		end := strings.IndexByte(tpl[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("Fn::Sub: unclosed ${ in %q", tpl)
		}
		name := tpl[i+2 : i+end]
		tpl = tpl[i+end+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		v, err := r.subVar(name, vars)
		if err != nil {
			return nil, err
		}
		b.WriteString(v)
	}
}

func (r *resolver) subVar(name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return str(v), nil
	}
	res, attr, dotted := strings.Cut(name, ".")
	if dotted {
		if _, ok := r.doc.Resources[res]; !ok {
			return "${" + name + "}", nil
		}
		v, err := r.getAtt([]any{res, attr})
		return str(v), err
	}
	v, err := r.ref(name)
	if err != nil {
		return "", fmt.Errorf("Fn::Sub: %w", err)
	}
	return str(v), nil
}

func (r *resolver) ifFunc(arg any) (any, error) {
	l, ok := arg.([]any)
	if !ok || len(l) != 3 {
		return nil, fmt.Errorf("Fn::If needs [condition, value if true, value if false]")
	}
	name := str(l[0])
	val, ok := r.conditions[name]
	if !ok {
		return nil, fmt.Errorf("Fn::If: no condition %s", name)
	}
	if val {
		return r.resolve(l[1])
	}
	return r.resolve(l[2])
}

// condition evaluates the boolean functions of the Conditions section.
func (r *resolver) condition(name string, a any) (any, error) {
	l, _ := a.([]any)
	switch name {
	case "Fn::Equals":
		if len(l) != 2 {
			return nil, fmt.Errorf("Fn::Equals needs two values")
		}
		return str(l[0]) == str(l[1]), nil
	case "Fn::Not":
		if len(l) != 1 {
			return nil, fmt.Errorf("Fn::Not needs one condition")
		}
		b, ok := l[0].(bool)
		return !b, boolErr(ok, name)
	}
	result := name == "Fn::And"
	for _, e := range l {
		b, ok := e.(bool)
		if !ok {
			return nil, boolErr(false, name)
		}
		if name == "Fn::And" {
			result = result && b
		} else {
			result = result || b
		}
	}
	return result, nil
}

func boolErr(ok bool, name string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("%s needs conditions", name)
}

// evalConditions evaluates the Conditions section, in dependency order
// ({"Condition": name} refers to another condition).
func (r *resolver) evalConditions() error {
	r.conditions = map[string]bool{}
	pending := map[string]any{}
	for k, v := range r.doc.Conditions {
		pending[k] = v
	}
	for len(pending) > 0 {
		progress := false
		names := make([]string, 0, len(pending))
		for k := range pending {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, name := range names {
			expr, ready := r.substituteConditions(pending[name])
			if !ready {
				continue
			}
			v, err := r.resolve(expr)
			if err != nil {
				return fmt.Errorf("condition %s: %w", name, err)
			}
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("condition %s: not a boolean", name)
			}
			r.conditions[name] = b
			delete(pending, name)
			progress = true
		}
		if !progress {
			return fmt.Errorf("conditions refer to each other in a cycle or to missing conditions: %v", names)
		}
	}
	return nil
}

// substituteConditions replaces {"Condition": name} with the value of an
// evaluated condition; ready is false while one is still pending.
func (r *resolver) substituteConditions(v any) (any, bool) {
	switch t := v.(type) {
	case map[string]any:
		if c, ok := t["Condition"]; ok && len(t) == 1 {
			b, done := r.conditions[str(c)]
			return b, done
		}
		out := map[string]any{}
		for k, e := range t {
			x, ok := r.substituteConditions(e)
			if !ok {
				return nil, false
			}
			out[k] = x
		}
		return out, true
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			x, ok := r.substituteConditions(e)
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	}
	return v, true
}

func (r *resolver) findInMap(a any) (any, error) {
	l, ok := a.([]any)
	if !ok || len(l) != 3 {
		return nil, fmt.Errorf("Fn::FindInMap needs [map, top key, second key]")
	}
	m, ok := r.doc.Mappings[str(l[0])].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Fn::FindInMap: no mapping %s", str(l[0]))
	}
	top, ok := m[str(l[1])].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Fn::FindInMap: mapping %s has no key %s", str(l[0]), str(l[1]))
	}
	v, ok := top[str(l[2])]
	if !ok {
		return nil, fmt.Errorf("Fn::FindInMap: mapping %s.%s has no key %s", str(l[0]), str(l[1]), str(l[2]))
	}
	return r.resolve(v)
}

func join(a any) (any, error) {
	l, ok := a.([]any)
	if !ok || len(l) != 2 {
		return nil, fmt.Errorf("Fn::Join needs [delimiter, list]")
	}
	items, ok := l[1].([]any)
	if !ok {
		return nil, fmt.Errorf("Fn::Join needs a list to join")
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = str(it)
	}
	return strings.Join(parts, str(l[0])), nil
}

func selectFunc(a any) (any, error) {
	l, ok := a.([]any)
	if !ok || len(l) != 2 {
		return nil, fmt.Errorf("Fn::Select needs [index, list]")
	}
	i, err := strconv.Atoi(str(l[0]))
	items, ok := l[1].([]any)
	if err != nil || !ok || i < 0 || i >= len(items) {
		return nil, fmt.Errorf("Fn::Select: index %v out of range", l[0])
	}
	return items[i], nil
}

// str renders a resolved scalar as CloudFormation does.
func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprint(v)
}
