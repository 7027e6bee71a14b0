package web

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/omnitriage/omnitriage/internal/derrors"
)

// invalidField is a validation error for one field.
func invalidField(field, format string, args ...any) error {
	ve := &derrors.ValidationError{}
	ve.Add(field, format, args...)
	return ve
}

// locateDecodeError finds where body does not fit the type of v and says
// why in plain words, with the field's JSON path (lines[0].qty). encoding/json
// names fields without list indexes and speaks of Go types
// ([]orchestration.LineInput, "2006-01-02T15:04:05Z07:00"), so on a failed
// decode the body is walked again against v's type, one value at a time.
// It returns nil when it cannot place the error.
func locateDecodeError(body []byte, v any) error {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	field, reason, ok := locate(t.Elem(), body, jsonPath{})
	if !ok {
		return nil
	}
	return invalidField(field, "%s", reason)
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	uuidType        = reflect.TypeFor[uuid.UUID]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// locate returns the path and reason of the first value of raw that does not
// decode into t, and true; or false when all of raw fits.
func locate(t reflect.Type, raw []byte, path jsonPath) (string, string, bool) {
	raw = trimSpace(raw)
	if string(raw) == "null" {
		return "", "", false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessageType || t.Kind() == reflect.Interface:
		return "", "", false
	case t == timeType:
		var s string
		if json.Unmarshal(raw, &s) != nil || json.Unmarshal(raw, new(time.Time)) != nil {
			return path.String(), "must be a date-time like 2026-12-24T18:00:00Z (RFC 3339, with a time zone)", true
		}
		return "", "", false
	case t == uuidType:
		if json.Unmarshal(raw, new(uuid.UUID)) != nil {
			return path.String(), "must be a UUID like 0b6c1f4e-8d2a-4c1e-9f3a-2d5e7a9b1c3d", true
		}
		return "", "", false
	case reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType):
		if err := json.Unmarshal(raw, reflect.New(t).Interface()); err != nil {
			return path.String(), plainUnmarshalerError(err), true
		}
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return path.String(), "must be a JSON object {…}, not " + jsonKind(raw), true
		}
		fields := structFields(t)
		// Report in the body's order, so the first bad field is the one named.
		for _, key := range memberOrder(raw) {
			f, ok := fields[key]
			if !ok {
				for name, g := range fields {
					if strings.EqualFold(name, key) {
						f, ok = g, true
						break
					}
				}
			}
			p := jsonPath{parts: append(append([]pathPart{}, path.parts...), pathPart{key: key})}
			if !ok {
				return p.String(), "unknown field; see the API's documentation for the fields of this request", true
			}
			if field, reason, bad := locate(f, members[key], p); bad {
				return field, reason, true
			}
		}
		return "", "", false
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			if json.Unmarshal(raw, new([]byte)) != nil {
				return path.String(), "must be base64 text", true
			}
			return "", "", false
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return path.String(), "must be a JSON list […], not " + jsonKind(raw), true
		}
		for i, item := range items {
			p := jsonPath{parts: append(append([]pathPart{}, path.parts...), pathPart{array: true, index: i})}
			if field, reason, bad := locate(t.Elem(), item, p); bad {
				return field, reason, true
			}
		}
		return "", "", false
	case reflect.Map:
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			return path.String(), "must be a JSON object {…}, not " + jsonKind(raw), true
		}
		for _, key := range memberOrder(raw) {
			p := jsonPath{parts: append(append([]pathPart{}, path.parts...), pathPart{key: key})}
			if field, reason, bad := locate(t.Elem(), members[key], p); bad {
				return field, reason, true
			}
		}
		return "", "", false
	}
	if json.Unmarshal(raw, reflect.New(t).Interface()) == nil {
		return "", "", false
	}
	return path.String(), kindReason(t, raw), true
}

// kindReason says in plain words what a scalar field wants.
func kindReason(t reflect.Type, raw []byte) string {
	got := jsonKind(raw)
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if got == "a number" {
			return "must be a whole number within ±" + fmt.Sprint(int64(1)<<(t.Bits()-1)-1)
		}
		return "must be a whole number, not " + got
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a whole number from 0, not " + got
	case reflect.Float32, reflect.Float64:
		if got == "a number" {
			return "must be a number within the range of a 64-bit float"
		}
		return "must be a number, not " + got
	case reflect.String:
		return "must be a string, not " + got
	case reflect.Bool:
		return "must be true or false, not " + got
	}
	return "has the wrong type: " + got
}

// jsonKind names the kind of a JSON value by its first byte.
func jsonKind(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// plainUnmarshalerError is a custom type's own decode error, without the
// json package's prefix. Types of this repo return plain messages.
func plainUnmarshalerError(err error) string {
	var ve *derrors.ValidationError
	if errors.As(err, &ve) && len(ve.Fields) > 0 {
		return ve.Fields[0].Reason
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.Contains(msg, "Go ") || strings.Contains(msg, "cannot unmarshal") {
		return "has the wrong type"
	}
	return msg
}

// structFields maps the JSON names of t's fields (embedded structs
// flattened, as encoding/json does) to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := out[name]; !dup {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	return out
}

// memberOrder lists the member names of the JSON object raw in order.
func memberOrder(raw []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		key, _ := tok.(string)
		keys = append(keys, key)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && strings.IndexByte(" \t\r\n", b[0]) >= 0 {
		b = b[1:]
	}
	for len(b) > 0 && strings.IndexByte(" \t\r\n", b[len(b)-1]) >= 0 {
		b = b[:len(b)-1]
	}
	return b
}
