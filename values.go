package httpsession

import (
	"math"
	"reflect"
	"time"
)

// toInt64 returns v as an int64 if it is a number without a fractional part
// that fits.
func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint:
		return int64(n), n <= math.MaxInt64
	case uint64:
		return int64(n), n <= math.MaxInt64
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case float64:
		return int64(n), n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64
	case float32:
		f := float64(n)
		return int64(f), f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64
	}
	return 0, false
}

var timeType = reflect.TypeFor[time.Time]()

// convert turns v into a T where that loses nothing: numbers between numeric
// types, and RFC 3339 strings into times.
func convert[T any](v any) (T, bool) {
	var zero T
	target := reflect.TypeFor[T]()
	src := reflect.ValueOf(v)
	if target == timeType {
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				return any(t).(T), true
			}
		}
		return zero, false
	}
	if !isNumber(src.Kind()) || !isNumber(target.Kind()) {
		return zero, false
	}
	out := src.Convert(target)
	// A round trip that gives back the same number lost nothing.
	if back := out.Convert(src.Type()); !back.Equal(src) {
		return zero, false
	}
	if isSigned(src.Kind()) && src.Int() < 0 && isUnsigned(target.Kind()) {
		return zero, false
	}
	return out.Interface().(T), true
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
