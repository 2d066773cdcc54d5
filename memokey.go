package corral

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
)

// keyEncoderFor returns how Memoize turns a K into the last part of its key:
// the string itself for string kinds, the decimal number for integer kinds,
// and for other comparable types a canonical encoding that tags every scalar
// with its kind, ends it with ';', and writes strings length-first, so that
// distinct values never meet. Interfaces add their dynamic type's name: two
// types of one name declared in different functions (a type declared inside
// a function has its package's name only) share a key when their values
// encode alike, so do not key interfaces with such types.
// Pointers, channels and functions compare by address, which means nothing
// to another process or after a restart: they are refused.
func keyEncoderFor[K comparable]() (func(K) (string, error), error) {
	t := reflect.TypeFor[K]()
	if err := checkKeyType(t); err != nil {
		return nil, err
	}
	switch t.Kind() {
	case reflect.String:
		if t == reflect.TypeFor[string]() {
			return func(k K) (string, error) { return any(k).(string), nil }, nil
		}
		return func(k K) (string, error) { return reflect.ValueOf(k).String(), nil }, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == reflect.TypeFor[int]() {
			return func(k K) (string, error) { return strconv.Itoa(any(k).(int)), nil }, nil
		}
		return func(k K) (string, error) { return strconv.FormatInt(reflect.ValueOf(k).Int(), 10), nil }, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(k K) (string, error) { return strconv.FormatUint(reflect.ValueOf(k).Uint(), 10), nil }, nil
	}
	return func(k K) (string, error) {
		b, err := appendKey(nil, reflect.ValueOf(&k).Elem())
		return string(b), err
	}, nil
}

// checkKeyType refuses key types that hold pointers, channels or functions.
func checkKeyType(t reflect.Type) error {
	switch t.Kind() {
	case reflect.Pointer, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Map, reflect.Slice:
		return fmt.Errorf("corral: Memoize: a key of type %v compares by address or is not comparable; use MemoizeWithKey", t)
	case reflect.Array:
		return checkKeyType(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if err := checkKeyType(t.Field(i).Type); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendKey appends the canonical encoding of v.
func appendKey(b []byte, v reflect.Value) ([]byte, error) {
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			return append(b, "t;"...), nil
		}
		return append(b, "f;"...), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return append(strconv.AppendInt(append(b, 'i'), v.Int(), 10), ';'), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return append(strconv.AppendUint(append(b, 'u'), v.Uint(), 10), ';'), nil
	case reflect.Float32, reflect.Float64:
		return appendFloat(append(b, 'f'), v.Float())
	case reflect.Complex64, reflect.Complex128:
		c := v.Complex()
		b, err := appendFloat(append(b, 'c'), real(c))
		if err != nil {
			return nil, err
		}
		return appendFloat(b, imag(c))
	case reflect.String:
		s := v.String()
		b = strconv.AppendInt(append(b, 's'), int64(len(s)), 10)
		return append(append(b, ':'), s...), nil
	case reflect.Array:
		b = append(b, '[')
		for i := range v.Len() {
			var err error
			if b, err = appendKey(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case reflect.Struct:
		b = append(b, '{')
		for i := range v.NumField() {
			var err error
			if b, err = appendKey(b, v.Field(i)); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case reflect.Interface:
		if v.IsNil() {
			return append(b, "n;"...), nil
		}
		e := v.Elem()
		if err := checkKeyType(e.Type()); err != nil {
			return nil, err
		}
		name := typeName(e.Type())
		b = strconv.AppendInt(append(b, 'I'), int64(len(name)), 10)
		return appendKey(append(append(b, ':'), name...), e)
	}
	return nil, fmt.Errorf("corral: Memoize: cannot make a key of a %v", v.Type())
}

// appendFloat writes the shortest decimal that reads back as f; the
// infinities and -0 keep their own spellings. NaN is refused: it equals
// nothing, not even itself, and NaNs of different bits would share one key.
func appendFloat(b []byte, f float64) ([]byte, error) {
	switch {
	case math.IsNaN(f):
		return nil, errNaNKey
	case f == 0 && math.Signbit(f):
		return append(b, "-0;"...), nil
	}
	return append(strconv.AppendFloat(b, f, 'g', -1, 64), ';'), nil
}

// errNaNKey is a Memoize key that holds a NaN.
var errNaNKey = errors.New("a NaN equals nothing, not even itself: it cannot be a key")

func typeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}
