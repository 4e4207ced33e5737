package vm

import (
	"context"
	"fmt"
	"reflect"
	"strings"
)

// apply runs one update entry (a property path or a command) on in. Caller holds Base.mu.
// Names the type does not declare as writable or callable are ignored, like dotNetify's
// unresolved updates, so nothing else is reachable by name.
func (rt *Runtime) apply(in *instance, c Caller, e entry) error {
	ctx := in.callCtx(c)
	if !strings.Contains(e.key, ".") {
		if cmd, ok := in.info.commands[e.key]; ok {
			return cmd.invoke(ctx, in.rv, e.value)
		}
		i, ok := in.info.byName[e.key]
		if !ok || !in.info.props[i].writable {
			rt.log.Debug("ignored update of an undeclared name", "vmId", in.vmID, "name", e.key)
			return nil
		}
		p := &in.info.props[i]
		v, err := coerce(e.value, p.typ)
		if err != nil {
			return &Exception{Type: "FormatException", Message: fmt.Sprintf("%s: %v", e.key, err)}
		}
		in.rv.Elem().Field(p.index).Set(v)
		in.base().record(change{key: e.key})
		return in.afterSet(ctx, e.key)
	}
	ok, err := rt.setPath(in, e)
	if err != nil || !ok {
		return err
	}
	return in.afterSet(ctx, e.key)
}

func (in *instance) afterSet(ctx context.Context, name string) error {
	if ps, ok := in.model.(PropertySetter); ok {
		return ps.OnPropertySet(ctx, name)
	}
	return nil
}

// setPath handles "Prop.Field…" (Prop tagged write, each field tagged write) and
// "List.$key.Field" (through ListItemGetter; the item's fields tagged write).
func (rt *Runtime) setPath(in *instance, e entry) (bool, error) {
	segs := strings.Split(e.key, ".")
	i, ok := in.info.byName[segs[0]]
	if !ok {
		return false, nil
	}
	p := &in.info.props[i]
	var cur reflect.Value
	rest := segs[1:]
	if strings.HasPrefix(rest[0], "$") {
		g, ok := in.model.(ListItemGetter)
		if !ok {
			return false, nil
		}
		item, found := g.ListItem(segs[0], rest[0][1:])
		if !found {
			return false, nil
		}
		cur = reflect.ValueOf(item)
		rest = rest[1:]
	} else {
		if !p.writable {
			return false, nil
		}
		cur = in.rv.Elem().Field(p.index).Addr()
	}
	for n, name := range rest {
		for cur.Kind() == reflect.Pointer || cur.Kind() == reflect.Interface {
			if cur.IsNil() {
				return false, nil
			}
			cur = cur.Elem()
		}
		if cur.Kind() != reflect.Struct {
			return false, nil
		}
		f, ok := cur.Type().FieldByName(name)
		if !ok || !f.IsExported() || !hasWriteTag(f) {
			return false, nil
		}
		fv := cur.FieldByIndex(f.Index)
		if n < len(rest)-1 {
			cur = fv
			continue
		}
		if !fv.CanSet() {
			return false, nil
		}
		v, err := coerce(e.value, f.Type)
		if err != nil {
			return false, &Exception{Type: "FormatException", Message: fmt.Sprintf("%s: %v", e.key, err)}
		}
		fv.Set(v)
		return true, nil
	}
	return false, nil
}

func hasWriteTag(f reflect.StructField) bool {
	for _, opt := range strings.Split(f.Tag.Get("vm"), ",") {
		if opt == "write" {
			return true
		}
	}
	return false
}
