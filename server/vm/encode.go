package vm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"

	"github.com/wsgate/wsgate/server/protocol"
)

// appendValue appends v as JSON the way the reference server writes it: no HTML escaping,
// nil slices as [] (the client's list helpers need arrays), func values as null.
func appendValue(dst []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Invalid:
		return append(dst, "null"...), nil
	case reflect.String:
		return protocol.AppendString(dst, v.String()), nil
	case reflect.Bool:
		return strconv.AppendBool(dst, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(dst, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(dst, v.Uint(), 10), nil
	case reflect.Func, reflect.Chan:
		return append(dst, "null"...), nil
	case reflect.Slice:
		if v.IsNil() {
			return append(dst, "[]"...), nil
		}
	case reflect.Interface:
		if v.IsNil() {
			return append(dst, "null"...), nil
		}
		return appendValue(dst, v.Elem())
	}
	return appendJSON(dst, v.Interface())
}

func appendJSON(dst []byte, x any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

// appendAny appends an arbitrary Go value (CRUD items, direct sends).
func appendAny(dst []byte, x any) ([]byte, error) {
	return appendValue(dst, reflect.ValueOf(x))
}

// fullState serialises every property in declaration order, then the <List>_itemKey keys.
func (ti *typeInfo) fullState(model reflect.Value) ([]byte, error) {
	st := model.Elem()
	b := make([]byte, 0, 128)
	b = append(b, '{')
	var err error
	for i := range ti.props {
		p := &ti.props[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = protocol.AppendString(b, p.name)
		b = append(b, ':')
		if b, err = appendValue(b, st.Field(p.index)); err != nil {
			return nil, err
		}
	}
	for i := range ti.props {
		p := &ti.props[i]
		if p.itemKey == "" {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = protocol.AppendString(b, p.name+"_itemKey")
		b = append(b, ':')
		b = protocol.AppendString(b, p.itemKey)
	}
	return append(b, '}'), nil
}
