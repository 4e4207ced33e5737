package vm

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// property is one serialised field of a view-model struct.
type property struct {
	name     string
	index    int
	typ      reflect.Type
	writable bool
	callable bool   // func field tagged `vm:"command"`
	itemKey  string // `vm:"itemkey=Id"`: adds Name_itemKey to the full state
	isFunc   bool   // func fields serialise as null
}

// command is a callable: a method listed with Commands, or a func field tagged command.
type command struct {
	name   string
	method int // method index on the pointer type; -1 for a func field
	field  int // field index for a func field
	fn     reflect.Type
	hasCtx bool
	arg    reflect.Type // nil: no argument
	hasErr bool
}

// typeInfo is the reflected shape of a view-model type, computed once at registration.
type typeInfo struct {
	ptr      reflect.Type
	props    []property
	byName   map[string]int
	commands map[string]*command
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
	baseType    = reflect.TypeFor[Base]()
)

// crudMarkers are substrings the client's unanchored regexes treat as list operations.
var crudMarkers = []string{"_add", "_update", "_remove", "_itemKey"}

func inspect(ptr reflect.Type, commandNames []string) (*typeInfo, error) {
	if ptr.Kind() != reflect.Pointer || ptr.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is not a pointer to a struct", ptr)
	}
	st := ptr.Elem()
	ti := &typeInfo{ptr: ptr, byName: map[string]int{}, commands: map[string]*command{}}
	var problems []string
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		if f.Anonymous || !f.IsExported() {
			if f.Anonymous && f.Type != baseType {
				problems = append(problems, fmt.Sprintf("embedded field %s is not supported (only vm.Base may be embedded)", f.Name))
			}
			continue
		}
		p, skip, err := parseField(f, i)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if skip {
			continue
		}
		ti.byName[p.name] = len(ti.props)
		ti.props = append(ti.props, p)
		if p.callable {
			c, err := newCommand(p.name, f.Type, -1, i, false)
			if err != nil {
				problems = append(problems, err.Error())
				continue
			}
			ti.commands[p.name] = c
		}
	}
	for _, name := range commandNames {
		if err := ti.addMethod(name); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("view model %v: %s", ptr, strings.Join(problems, "; "))
	}
	return ti, nil
}

func parseField(f reflect.StructField, i int) (property, bool, error) {
	p := property{name: f.Name, index: i, typ: f.Type, isFunc: f.Type.Kind() == reflect.Func}
	tag, _ := f.Tag.Lookup("vm")
	if tag == "-" {
		return p, true, nil
	}
	for _, opt := range strings.Split(tag, ",") {
		switch {
		case opt == "":
		case opt == "write":
			p.writable = true
		case opt == "command":
			p.callable = true
		case strings.HasPrefix(opt, "itemkey="):
			p.itemKey = strings.TrimPrefix(opt, "itemkey=")
		default:
			return p, false, fmt.Errorf("field %s: unknown vm tag option %q (want write, command, itemkey=Name or -)", f.Name, opt)
		}
	}
	for _, m := range crudMarkers {
		if strings.Contains(p.name, m) {
			return p, false, fmt.Errorf("field %s: the dotnetify client reads names containing %q as list operations; rename it or tag it vm:\"-\"", f.Name, m)
		}
	}
	if p.callable && !p.isFunc {
		return p, false, fmt.Errorf("field %s: vm:\"command\" needs a func field", f.Name)
	}
	if p.writable && p.isFunc {
		return p, false, fmt.Errorf("field %s: a func field is called, not written; use vm:\"command\"", f.Name)
	}
	if p.itemKey != "" && f.Type.Kind() != reflect.Slice {
		return p, false, fmt.Errorf("field %s: itemkey needs a slice field", f.Name)
	}
	return p, false, nil
}

func (ti *typeInfo) addMethod(name string) error {
	m, ok := ti.ptr.MethodByName(name)
	if !ok {
		return fmt.Errorf("command %s: no exported method %s on %v", name, name, ti.ptr)
	}
	if _, clash := ti.byName[name]; clash {
		return fmt.Errorf("command %s: a property has the same name", name)
	}
	// Method types include the receiver; strip it so checks match func fields.
	c, err := newCommand(name, m.Func.Type(), m.Index, -1, true)
	if err != nil {
		return err
	}
	ti.commands[name] = c
	return nil
}

func newCommand(name string, fn reflect.Type, method, field int, hasRecv bool) (*command, error) {
	c := &command{name: name, method: method, field: field, fn: fn}
	in := 0
	if hasRecv {
		in = 1
	}
	if in < fn.NumIn() && fn.In(in) == contextType {
		c.hasCtx = true
		in++
	}
	switch fn.NumIn() - in {
	case 0:
	case 1:
		c.arg = fn.In(in)
	default:
		return nil, fmt.Errorf("command %s: takes %d arguments; take one struct to bind several arguments by name", name, fn.NumIn()-in)
	}
	switch {
	case fn.NumOut() == 0:
	case fn.NumOut() == 1 && fn.Out(0) == errorType:
		c.hasErr = true
	default:
		return nil, fmt.Errorf("command %s: must return nothing or error", name)
	}
	return c, nil
}

// invoke calls c on model with the raw JSON argument.
func (c *command) invoke(ctx context.Context, model reflect.Value, raw json.RawMessage) error {
	var args []reflect.Value
	var fn reflect.Value
	if c.method >= 0 {
		fn = model.Method(c.method)
	} else {
		fn = model.Elem().Field(c.field)
		if fn.IsNil() {
			return &Exception{Type: "InvalidOperationException", Message: fmt.Sprintf("command %s is not set", c.name)}
		}
	}
	if c.hasCtx {
		args = append(args, reflect.ValueOf(ctx))
	}
	if c.arg != nil {
		v, err := coerce(raw, c.arg)
		if err != nil {
			return &Exception{Type: "FormatException", Message: fmt.Sprintf("argument of %s: %v", c.name, err)}
		}
		args = append(args, v)
	}
	out := fn.Call(args)
	if c.hasErr && !out[0].IsNil() {
		return out[0].Interface().(error)
	}
	return nil
}
