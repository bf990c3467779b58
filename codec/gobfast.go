package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// The Gob codec writes one of two formats, told apart by the first byte.
//
// Most sessions hold only strings, numbers, booleans, byte slices, times,
// durations and maps and slices of those. For them Gob writes a compact
// tagged binary form that keeps every Go type exactly, as gob would, but
// without gob's cost: a fresh gob encoder re-sends its type descriptions
// and a fresh decoder compiles them again, for every record, which made the
// codec most of the cost of a request. Any other value (an application's
// registered struct, say) sends the whole record through encoding/gob.
const (
	formatTagged byte = 0xb1
	formatGob    byte = 0xb2
)

// Value tags of the tagged format.
const (
	tagString byte = iota + 1
	tagFalse
	tagTrue
	tagInt
	tagInt8
	tagInt16
	tagInt32
	tagInt64
	tagUint
	tagUint8
	tagUint16
	tagUint32
	tagUint64
	tagFloat32
	tagFloat64
	tagBytes
	tagTime
	tagDuration
	tagStrings
	tagSlice
	tagMap
	tagStringMap
)

// maxTaggedDepth bounds nesting in the tagged format; deeper values go
// through gob, and a decoder refuses deeper input.
const maxTaggedDepth = 32

// errNotTagged means a value has no tagged form; the record goes to gob.
var errNotTagged = errors.New("no tagged form")

var errTagged = errors.New("codec: gob decode: malformed record")

func appendTaggedState(b []byte, st *State) ([]byte, error) {
	b = append(b, formatTagged)
	var err error
	for _, t := range []time.Time{st.Created, st.Deadline, st.Saved} {
		if b, err = appendTime(b, t); err != nil {
			return nil, err
		}
	}
	b = appendString(b, st.Owner)
	b = appendString(b, st.UserAgent)
	b = appendString(b, st.IP)
	b = binary.AppendUvarint(b, uint64(len(st.KeyExpiry)))
	for k, t := range st.KeyExpiry {
		b = appendString(b, k)
		if b, err = appendTime(b, t); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(st.Len()))
	if st.lazy != nil {
		b, err = appendLazyValues(b, st.lazy)
	} else {
		b, err = appendValues(b, st)
	}
	if err != nil {
		return nil, err
	}
	// Fields added later ride in a trailer that is left out when they are
	// zero, so records without them read the same in older versions.
	if flags := st.flags(); st.Lifetime != 0 || flags != 0 {
		b = append(binary.AppendVarint(b, int64(st.Lifetime)), flags)
	}
	return b, nil
}

// appendValues appends the key-value pairs of st.Values: in ascending
// order of keys when st.keys holds it (the decoder then keeps it), else in
// the map's order.
func appendValues(b []byte, st *State) ([]byte, error) {
	var err error
	if len(st.keys) == len(st.Values) && len(st.keys) > 0 {
		start := len(b)
		sorted := true
		for _, k := range st.keys {
			v, ok := st.Values[k]
			if !ok { // the keys changed since: the map's order
				sorted = false
				break
			}
			b = appendString(b, k)
			if b, err = appendValue(b, v, 0); err != nil {
				return nil, err
			}
		}
		if sorted {
			return b, nil
		}
		b = b[:start]
	}
	for k, v := range st.Values {
		b = appendString(b, k)
		if b, err = appendValue(b, v, 0); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Bits of the trailer's flags byte.
const (
	flagPersist byte = 1 << iota
	flagRenewed
	flagsKnown = flagPersist | flagRenewed
)

func (st *State) flags() byte {
	var f byte
	if st.Persist {
		f |= flagPersist
	}
	if st.Renewed {
		f |= flagRenewed
	}
	return f
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	start := len(b)
	b = append(b, 0) // length, filled in below
	b, err := t.AppendBinary(b)
	if err != nil || len(b)-start-1 > 255 {
		return nil, errNotTagged
	}
	b[start] = byte(len(b) - start - 1)
	return b, nil
}

func appendValue(b []byte, v any, depth int) ([]byte, error) {
	if depth > maxTaggedDepth {
		return nil, errNotTagged
	}
	var err error
	switch x := v.(type) {
	case string:
		b = appendString(append(b, tagString), x)
	case bool:
		if x {
			b = append(b, tagTrue)
		} else {
			b = append(b, tagFalse)
		}
	case int:
		b = binary.AppendVarint(append(b, tagInt), int64(x))
	case int8:
		b = binary.AppendVarint(append(b, tagInt8), int64(x))
	case int16:
		b = binary.AppendVarint(append(b, tagInt16), int64(x))
	case int32:
		b = binary.AppendVarint(append(b, tagInt32), int64(x))
	case int64:
		b = binary.AppendVarint(append(b, tagInt64), x)
	case uint:
		b = binary.AppendUvarint(append(b, tagUint), uint64(x))
	case uint8:
		b = binary.AppendUvarint(append(b, tagUint8), uint64(x))
	case uint16:
		b = binary.AppendUvarint(append(b, tagUint16), uint64(x))
	case uint32:
		b = binary.AppendUvarint(append(b, tagUint32), uint64(x))
	case uint64:
		b = binary.AppendUvarint(append(b, tagUint64), x)
	case float32:
		b = binary.BigEndian.AppendUint32(append(b, tagFloat32), math.Float32bits(x))
	case float64:
		b = binary.BigEndian.AppendUint64(append(b, tagFloat64), math.Float64bits(x))
	case []byte:
		b = binary.AppendUvarint(append(b, tagBytes), uint64(len(x)))
		b = append(b, x...)
	case time.Time:
		b, err = appendTime(append(b, tagTime), x)
	case time.Duration:
		b = binary.AppendVarint(append(b, tagDuration), int64(x))
	case []string:
		b = binary.AppendUvarint(append(b, tagStrings), uint64(len(x)))
		for _, s := range x {
			b = appendString(b, s)
		}
	case []any:
		b = binary.AppendUvarint(append(b, tagSlice), uint64(len(x)))
		for _, e := range x {
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		b = binary.AppendUvarint(append(b, tagMap), uint64(len(x)))
		for k, e := range x {
			b = appendString(b, k)
			if b, err = appendValue(b, e, depth+1); err != nil {
				return nil, err
			}
		}
	case map[string]string:
		b = binary.AppendUvarint(append(b, tagStringMap), uint64(len(x)))
		for k, s := range x {
			b = appendString(appendString(b, k), s)
		}
	default:
		return nil, errNotTagged
	}
	return b, err
}

// taggedReader decodes the tagged format. Every length is checked against
// the bytes left before anything is allocated for it.
//
// Strings (keys and values alike) are substrings of str, one copy of the
// whole record made up front (or the record itself, when it is handed
// over: DecodeLazy), rather than a copy each: a fat session's hundred
// strings cost one allocation, not a hundred, or none. A string a program
// keeps past its request keeps that copy alive, which is the size of one
// record.
type taggedReader struct {
	b   []byte
	str string // a copy of the bytes b started as; b is always a suffix
	err error
}

func (r *taggedReader) fail() {
	if r.err == nil {
		r.err = errTagged
	}
	r.b = nil
}

func (r *taggedReader) byte() byte {
	if len(r.b) == 0 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *taggedReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *taggedReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a collection length; each element takes at least min bytes.
func (r *taggedReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.fail()
		return 0
	}
	return int(n)
}

func (r *taggedReader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *taggedReader) string() string {
	n := r.count(1)
	at := len(r.str) - len(r.b)
	if r.bytes(n); r.err != nil {
		return ""
	}
	return r.str[at : at+n]
}

func (r *taggedReader) time() time.Time {
	var t time.Time
	if p := r.bytes(int(r.byte())); r.err == nil {
		if err := t.UnmarshalBinary(p); err != nil {
			r.fail()
		}
	}
	return t
}

func (r *taggedReader) fixed(n int) []byte {
	return r.bytes(n)
}

// state reads a record into st; with lv, it leaves the values undecoded
// in lv instead of building st.Values.
func (r *taggedReader) state(st *State, lv *lazyValues) {
	st.Created, st.Deadline, st.Saved = r.time(), r.time(), r.time()
	st.Owner, st.UserAgent, st.IP = r.string(), r.string(), r.string()
	if n := r.count(2); n > 0 {
		st.KeyExpiry = make(map[string]time.Time, n)
		for range n {
			k := r.string()
			st.KeyExpiry[k] = r.time()
		}
	}
	n := r.count(2)
	if lv != nil {
		r.lazyEntries(n, lv)
		r.trailer(st)
		return
	}
	st.Values = make(map[string]any, n)
	// Keys that come in ascending order are kept (State.keys), so that
	// State.Keys need not sort them.
	var keys []string
	if n >= minCachedKeys {
		keys = make([]string, 0, n)
	}
	for range n {
		k := r.string()
		if keys != nil {
			if len(keys) > 0 && k <= keys[len(keys)-1] {
				keys = nil
			} else {
				keys = append(keys, k)
			}
		}
		st.Values[k] = r.value(0)
	}
	if len(keys) == len(st.Values) {
		st.keys = keys
	}
	r.trailer(st)
}

// trailer reads the fields that follow the values, when there are any.
func (r *taggedReader) trailer(st *State) {
	if len(r.b) != 0 {
		st.Lifetime = time.Duration(r.varint())
		flags := r.byte()
		st.Persist, st.Renewed = flags&flagPersist != 0, flags&flagRenewed != 0
		if flags&^flagsKnown != 0 || len(r.b) != 0 {
			r.fail()
		}
	}
}

// skip reads past one value, checking it exactly as value does, without
// building it.
func (r *taggedReader) skip(depth int) {
	if depth > maxTaggedDepth {
		r.fail()
		return
	}
	switch tag := r.byte(); tag {
	case tagString, tagBytes:
		r.bytes(r.count(1))
	case tagFalse, tagTrue:
	case tagInt, tagInt8, tagInt16, tagInt32, tagInt64, tagDuration:
		r.varint()
	case tagUint, tagUint8, tagUint16, tagUint32, tagUint64:
		r.uvarint()
	case tagFloat32:
		r.fixed(4)
	case tagFloat64:
		r.fixed(8)
	case tagTime:
		r.time()
	case tagStrings:
		for range r.count(1) {
			r.bytes(r.count(1))
		}
	case tagSlice:
		for range r.count(1) {
			r.skip(depth + 1)
		}
	case tagMap:
		for range r.count(2) {
			r.bytes(r.count(1))
			r.skip(depth + 1)
		}
	case tagStringMap:
		for range r.count(2) {
			r.bytes(r.count(1))
			r.bytes(r.count(1))
		}
	default:
		r.fail()
	}
}

func (r *taggedReader) value(depth int) any {
	if depth > maxTaggedDepth {
		r.fail()
		return nil
	}
	switch tag := r.byte(); tag {
	case tagString:
		return r.string()
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		return int(r.varint())
	case tagInt8:
		return int8(r.varint())
	case tagInt16:
		return int16(r.varint())
	case tagInt32:
		return int32(r.varint())
	case tagInt64:
		return r.varint()
	case tagUint:
		return uint(r.uvarint())
	case tagUint8:
		return uint8(r.uvarint())
	case tagUint16:
		return uint16(r.uvarint())
	case tagUint32:
		return uint32(r.uvarint())
	case tagUint64:
		return r.uvarint()
	case tagFloat32:
		if p := r.fixed(4); p != nil {
			return math.Float32frombits(binary.BigEndian.Uint32(p))
		}
	case tagFloat64:
		if p := r.fixed(8); p != nil {
			return math.Float64frombits(binary.BigEndian.Uint64(p))
		}
	case tagBytes:
		return append([]byte{}, r.bytes(r.count(1))...)
	case tagTime:
		return r.time()
	case tagDuration:
		return time.Duration(r.varint())
	case tagStrings:
		s := make([]string, r.count(1))
		for i := range s {
			s[i] = r.string()
		}
		return s
	case tagSlice:
		s := make([]any, r.count(1))
		for i := range s {
			s[i] = r.value(depth + 1)
		}
		return s
	case tagMap:
		n := r.count(2)
		m := make(map[string]any, n)
		for range n {
			k := r.string()
			m[k] = r.value(depth + 1)
		}
		return m
	case tagStringMap:
		n := r.count(2)
		m := make(map[string]string, n)
		for range n {
			k := r.string()
			m[k] = r.string()
		}
		return m
	default:
		r.fail()
	}
	return nil
}

func decodeTagged(data []byte) (State, error) {
	r := taggedReader{b: data, str: string(data)}
	var st State
	r.state(&st, nil)
	if r.err != nil {
		return State{}, fmt.Errorf("%w", r.err)
	}
	return st, nil
}
