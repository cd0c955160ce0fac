package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// strictKeys refuses what encoding/json lets through silently: a key
// given twice in one object (the last would win, and an audit entry
// reading the first would lie), and a key that names a field of v only
// in another case ("Redirect_URIs" for "redirect_uris"). Keys of objects
// that decode into no struct (a client's jwks) are checked for
// duplicates only. body must be well-formed JSON for this to say
// anything; the decoder reports other problems.
func strictKeys(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := walkKeys(dec, reflect.TypeOf(v), "")
	if _, ok := err.(*keyError); !ok {
		return nil
	}
	return err
}

// keyError is a duplicate or wrongly cased key, at path.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

// walkKeys reads one JSON value from dec, whose Go type is t (nil when
// unknown), and checks the keys of every object in it.
func walkKeys(dec *json.Decoder, t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		fields := jsonFields(t)
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key, _ := kt.(string)
			at := strings.TrimPrefix(path+"."+key, ".")
			if seen[key] {
				return &keyError{fmt.Sprintf("%s is given twice", at)}
			}
			seen[key] = true
			var sub reflect.Type
			switch {
			case fields != nil:
				f, ok := fields[key]
				if !ok {
					return &keyError{fmt.Sprintf("unknown field %s (field names are lower case, as documented)", at)}
				}
				sub = f
			case t != nil && t.Kind() == reflect.Map:
				sub = t.Elem()
			}
			if err := walkKeys(dec, sub, at); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t != rawMessage {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walkKeys(dec, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

var rawMessage = reflect.TypeOf(json.RawMessage(nil))

// jsonFields maps the exact JSON names of struct t's fields to their
// types; nil when t is not a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		ft := f.Type
		if ft == rawMessage {
			ft = nil
		}
		out[name] = ft
	}
	return out
}
