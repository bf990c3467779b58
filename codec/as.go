package codec

import (
	"encoding/base64"
	"math/big"
	"reflect"
	"time"
)

// As returns v, a session value read back through any codec, as a T. Besides
// an exact type match it converts where nothing is lost, so a value comes
// out as the type it went in as whatever the codec: numbers between numeric
// types (int64(3) as an int, float64(3) as an int, not 3.5), RFC 3339
// strings as time.Time, base64 strings as []byte, and, element by element,
// []any as a slice of T's element type and map[string]any as a map with
// string keys. It reports false when some part does not convert.
func As[T any](v any) (T, bool) {
	if t, ok := v.(T); ok {
		return t, true
	}
	var zero T
	if v == nil {
		return zero, false
	}
	out, ok := convert(reflect.ValueOf(v), reflect.TypeFor[T](), 0)
	if !ok {
		return zero, false
	}
	return out.Interface().(T), true
}

var (
	timeType  = reflect.TypeFor[time.Time]()
	bytesType = reflect.TypeFor[[]byte]()
	bigType   = reflect.TypeFor[*big.Int]()
)

// maxConvertDepth bounds the nesting As follows.
const maxConvertDepth = 32

func convert(src reflect.Value, target reflect.Type, depth int) (reflect.Value, bool) {
	if src.Kind() == reflect.Interface {
		if src.IsNil() {
			return reflect.Zero(target), target.Kind() == reflect.Interface
		}
		src = src.Elem()
	}
	switch st := src.Type(); {
	case st.AssignableTo(target):
		return src, true
	case depth > maxConvertDepth:
		return reflect.Value{}, false
	case st.Kind() == reflect.String && target == timeType:
		t, err := time.Parse(time.RFC3339Nano, src.String())
		return reflect.ValueOf(t), err == nil
	case st.Kind() == reflect.String && target == bytesType:
		b, err := base64.StdEncoding.DecodeString(src.String())
		return reflect.ValueOf(b), err == nil
	case st == bigType && isNumber(target.Kind()):
		// CBOR gives an unsigned value above math.MaxInt64 as a *big.Int.
		n := src.Interface().(*big.Int)
		if n == nil || !n.IsUint64() {
			return reflect.Value{}, false
		}
		return convert(reflect.ValueOf(n.Uint64()), target, depth)
	case isNumber(st.Kind()) && isNumber(target.Kind()):
		out := src.Convert(target)
		// A round trip that gives back the same number lost nothing.
		if back := out.Convert(st); !back.Equal(src) || isSigned(st.Kind()) && src.Int() < 0 && isUnsigned(target.Kind()) {
			return reflect.Value{}, false
		}
		return out, true
	case st.Kind() == reflect.Slice && target.Kind() == reflect.Slice:
		out := reflect.MakeSlice(target, src.Len(), src.Len())
		for i := range src.Len() {
			e, ok := convert(src.Index(i), target.Elem(), depth+1)
			if !ok {
				return reflect.Value{}, false
			}
			out.Index(i).Set(e)
		}
		return out, true
	case st.Kind() == reflect.Map && target.Kind() == reflect.Map &&
		st.Key().Kind() == reflect.String && target.Key().Kind() == reflect.String:
		out := reflect.MakeMapWithSize(target, src.Len())
		for it := src.MapRange(); it.Next(); {
			e, ok := convert(it.Value(), target.Elem(), depth+1)
			if !ok {
				return reflect.Value{}, false
			}
			out.SetMapIndex(it.Key().Convert(target.Key()), e)
		}
		return out, true
	}
	return reflect.Value{}, false
}

func isNumber(k reflect.Kind) bool {
	return isSigned(k) || isUnsigned(k) || k == reflect.Float32 || k == reflect.Float64
}

func isSigned(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Int64
}

func isUnsigned(k reflect.Kind) bool {
	return k >= reflect.Uint && k <= reflect.Uintptr
}
