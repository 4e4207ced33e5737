package vm

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
)

// apply runs one update entry (a property path or a command) on in, in its line.
// Names the type does not declare as writable or callable are ignored, like dotNetify's
// unresolved updates, so nothing else is reachable by name.
func (rt *Runtime) apply(in *instance, c Caller, e entry) error {
	ctx := in.callCtx(c)
	if !strings.Contains(e.Key, ".") {
		if cmd, ok := in.info.commands[e.Key]; ok {
			return cmd.invoke(ctx, in.rv, e.Value)
		}
		i, ok := in.info.byName[e.Key]
		if !ok || !in.info.props[i].writable {
			rt.log.Debug("ignored update of an undeclared name", "vmId", in.vmID, "name", clip(e.Key))
			return nil
		}
		p := &in.info.props[i]
		v, err := coerce(e.Value, p.typ)
		if err != nil {
			return &Exception{Type: "FormatException", Message: fmt.Sprintf("%s: %v", e.Key, err)}
		}
		assignWritable(in.rv.Elem().Field(p.index), v)
		in.base().record(change{key: e.Key})
		return in.afterSet(ctx, e.Key)
	}
	ok, err := rt.setPath(in, e)
	if err != nil || !ok {
		return err
	}
	return in.afterSet(ctx, e.Key)
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
	segs := strings.Split(e.Key, ".")
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
		v, err := coerce(e.Value, f.Type)
		if err != nil {
			return false, &Exception{Type: "FormatException", Message: fmt.Sprintf("%s: %v", e.Key, err)}
		}
		assignWritable(fv, v)
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

// assignWritable stores src (decoded from the client) into dst, honouring the write tags
// inside structs the way the path form does: a whole-object write {"Me":{"Role":"admin"}}
// sets only the fields of Me tagged `vm:"write"` (at every level), exactly as "Me.Role"
// would. Other fields keep their values; elements of a written list or map start from zero
// values, so a client never chooses the value of a field it may not write. Types that
// decode themselves (time.Time, json.Unmarshaler, encoding.TextUnmarshaler) are values.
func assignWritable(dst, src reflect.Value) {
	switch dst.Kind() {
	case reflect.Struct, reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
	default:
		dst.Set(src) // strings, numbers, booleans: the common case, no lookup
		return
	}
	if !hasTaggedStructs(dst.Type()) {
		dst.Set(src)
		return
	}
	switch dst.Kind() {
	case reflect.Struct:
		t := dst.Type()
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && hasWriteTag(f) {
				assignWritable(dst.Field(i), src.Field(i))
			}
		}
	case reflect.Pointer:
		switch {
		case !src.IsNil() && dst.IsNil():
			dst.Set(reflect.New(dst.Type().Elem()))
			assignWritable(dst.Elem(), src.Elem())
		case !src.IsNil():
			assignWritable(dst.Elem(), src.Elem())
		case !dst.IsNil():
			// null clears what the client may write, not the fields it may not.
			assignWritable(dst.Elem(), reflect.Zero(dst.Type().Elem()))
		}
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		out := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			assignWritable(out.Index(i), src.Index(i))
		}
		dst.Set(out)
	case reflect.Array:
		for i := range src.Len() {
			el := reflect.New(dst.Type().Elem()).Elem()
			assignWritable(el, src.Index(i))
			dst.Index(i).Set(el)
		}
	case reflect.Map:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		out := reflect.MakeMapWithSize(dst.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			el := reflect.New(dst.Type().Elem()).Elem()
			assignWritable(el, it.Value())
			out.SetMapIndex(it.Key(), el)
		}
		dst.Set(out)
	default:
		dst.Set(src)
	}
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	taggedStructs       sync.Map // reflect.Type → bool, see hasTaggedStructs
)

// hasTaggedStructs reports whether values of t contain structs whose fields the write tags
// govern, so that assignWritable must filter; for other types (strings, numbers, lists of
// them) a write is a plain assignment.
func hasTaggedStructs(t reflect.Type) bool {
	if v, ok := taggedStructs.Load(t); ok {
		return v.(bool)
	}
	v := containsStructs(t, map[reflect.Type]bool{})
	taggedStructs.Store(t, v)
	return v
}

func containsStructs(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a recursive type: the first visit answers
	}
	seen[t] = true
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return containsStructs(t.Elem(), seen)
	}
	return false
}
