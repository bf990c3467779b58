package codec

import (
	"math"
	"slices"
	"strings"
	"unsafe"
)

// LazyDecoder is implemented by codecs that can leave a record's values
// undecoded until they are used. The Manager loads every session with it
// when its codec has it, so a request pays for the values it reads, and a
// save copies the values it did not change as they were stored.
//
// DecodeLazy is Decode, with two differences:
//
//   - data is handed over: the State keeps it and shares its memory (its
//     strings in particular), so nothing may change data afterwards, for
//     as long as anything of the State is in use;
//   - Values stays nil while the values are held undecoded. The State's
//     methods (Value, SetValue, DeleteValue, ClearValues, Len, Keys) work
//     either way, the codecs of this package encode either way, and
//     LoadValues decodes whatever is left into Values for code that wants
//     the map.
//
// DecodeLazy checks the whole record as Decode does, so a malformed value
// is an error here, never later. Reading a value of such a State (with
// Value, or by encoding it) decodes the value into it, so even reads need
// the State to be used by one goroutine at a time; the Session's mutex
// sees to that.
//
// A codec that embeds Gob to wrap it (to encrypt or compress records, say)
// gets Gob's DecodeLazy and AppendEncode too, which know nothing of the
// wrapping: it must define both itself, or not embed Gob.
type LazyDecoder interface {
	DecodeLazy(data []byte, st *State) error
}

// lazyValues holds the values of a lazily decoded record: every value the
// State has, in ascending order of keys, each one decoded the first time
// it is read.
type lazyValues struct {
	b    []byte // the record
	str  string // the same bytes as a string; keys and values share them
	ents []lazyEntry
	next int // the index after the entry last found
}

type lazyEntry struct {
	key      string
	val      any    // the value, once decoded or set
	off, end uint32 // the value's encoding in the record, when raw
	decoded  bool   // val holds the value
	// raw: the record's bytes at off:end encode the value as it is now.
	// It stays true after a decode only for values nothing can change in
	// place (strings, numbers, booleans, times and durations).
	raw bool
}

// maxLazyInsert is the most values a lazily decoded State inserts a new
// key among, each insertion moving those after it; a State with more
// decodes into Values first.
const maxLazyInsert = 64

// find returns the index of key in the entries, or where it would go.
// Reading the values in order of keys, as code that ranges over Keys
// does, finds each one next to the last without a search.
func (lv *lazyValues) find(key string) (int, bool) {
	if i := lv.next; i < len(lv.ents) && lv.ents[i].key == key {
		lv.next++
		return i, true
	}
	lo, hi := 0, len(lv.ents)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lv.ents[m].key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	found := lo < len(lv.ents) && lv.ents[lo].key == key
	if found {
		lv.next = lo + 1
	}
	return lo, found
}

// value returns the value of entry i, decoding it the first time.
func (lv *lazyValues) value(i int) any {
	e := &lv.ents[i]
	if !e.decoded {
		r := taggedReader{b: lv.b[e.off:e.end], str: lv.str[e.off:e.end]}
		e.val, e.decoded = r.value(0), true
		// The record was checked when it was decoded, so r.err is nil.
		e.raw = e.raw && immutable(e.val)
	}
	return e.val
}

// immutable reports whether v is of a kind a program cannot change in
// place once it has it.
func immutable(v any) bool {
	switch v.(type) {
	case []byte, []string, []any, map[string]any, map[string]string:
		return false
	}
	return true
}

// Value returns the value under key and whether there is one.
func (st *State) Value(key string) (any, bool) {
	if lv := st.lazy; lv != nil {
		i, ok := lv.find(key)
		if !ok {
			return nil, false
		}
		return lv.value(i), true
	}
	v, ok := st.Values[key]
	return v, ok
}

// SetValue stores v under key.
func (st *State) SetValue(key string, v any) {
	if lv := st.lazy; lv != nil {
		i, ok := lv.find(key)
		switch {
		case ok:
			lv.ents[i] = lazyEntry{key: key, val: v, decoded: true}
			return
		case len(lv.ents) < maxLazyInsert:
			lv.ents = slices.Insert(lv.ents, i, lazyEntry{key: key, val: v, decoded: true})
			return
		}
		st.LoadValues()
	}
	if st.Values == nil {
		st.Values = make(map[string]any)
	}
	st.Values[key] = v
}

// DeleteValue removes the value under key, if there is one.
func (st *State) DeleteValue(key string) {
	if lv := st.lazy; lv != nil {
		if i, ok := lv.find(key); ok {
			lv.ents = slices.Delete(lv.ents, i, i+1)
		}
		return
	}
	delete(st.Values, key)
}

// ClearValues removes every value.
func (st *State) ClearValues() {
	st.lazy, st.Values = nil, nil
}

// Len returns the number of values.
func (st *State) Len() int {
	if st.lazy != nil {
		return len(st.lazy.ents)
	}
	return len(st.Values)
}

// LoadValues decodes the values a lazy decode left undecoded into Values
// and returns Values, which is never nil afterwards.
func (st *State) LoadValues() map[string]any {
	if lv := st.lazy; lv != nil {
		st.lazy, st.Values, st.keys = nil, lv.valuesMap(), nil
		if len(lv.ents) >= minCachedKeys {
			st.keys = lv.keys()
		}
	}
	if st.Values == nil {
		st.Values = map[string]any{}
	}
	return st.Values
}

// eager returns st itself, or, when its values are held undecoded, a copy
// whose Values holds them all, for the encoders that need the map. st is
// not changed.
func (st *State) eager() *State {
	if st.lazy == nil {
		return st
	}
	full := *st
	full.lazy, full.Values = nil, st.lazy.valuesMap()
	return &full
}

// valuesMap returns every value, decoded, in a new map.
func (lv *lazyValues) valuesMap() map[string]any {
	m := make(map[string]any, len(lv.ents))
	for i := range lv.ents {
		m[lv.ents[i].key] = lv.value(i)
	}
	return m
}

var _ LazyDecoder = Gob{}

// DecodeLazy decodes data as Decode does, but leaves the values of the
// tagged format undecoded until they are read (see LazyDecoder); records
// of the gob format are decoded whole.
func (g Gob) DecodeLazy(data []byte, st *State) error {
	if st == nil {
		return errNilState
	}
	if len(data) == 0 || data[0] != formatTagged || uint64(len(data)) > math.MaxUint32 {
		return g.Decode(data, st)
	}
	data = data[1:]
	r := taggedReader{b: data, str: unsafe.String(unsafe.SliceData(data), len(data))}
	var fresh State
	lv := &lazyValues{b: data, str: r.str}
	r.state(&fresh, lv)
	if r.err != nil {
		return r.err
	}
	fresh.lazy = lv
	*st = fresh
	return nil
}

// lazyEntries reads the n values of the record into lv's entries, checking
// each value without building it, and sorts them when they are not in
// ascending order; of two equal keys the later wins, as it would in a map.
func (r *taggedReader) lazyEntries(n int, lv *lazyValues) {
	lv.ents = make([]lazyEntry, n)
	sorted := true
	for i := range lv.ents {
		k := r.string()
		off := len(lv.b) - len(r.b)
		r.skip(0)
		if r.err != nil {
			return
		}
		lv.ents[i] = lazyEntry{key: k, off: uint32(off), end: uint32(len(lv.b) - len(r.b)), raw: true}
		if i > 0 && k <= lv.ents[i-1].key {
			sorted = false
		}
	}
	if sorted {
		return
	}
	slices.SortStableFunc(lv.ents, func(a, b lazyEntry) int { return strings.Compare(a.key, b.key) })
	last := lv.ents[:0]
	for i, e := range lv.ents {
		if i+1 < len(lv.ents) && lv.ents[i+1].key == e.key {
			continue
		}
		last = append(last, e)
	}
	lv.ents = last
}

// keys returns the keys of the entries, in their (ascending) order.
func (lv *lazyValues) keys() []string {
	keys := make([]string, len(lv.ents))
	for i := range lv.ents {
		keys[i] = lv.ents[i].key
	}
	return keys
}

// appendLazyValues appends the key-value pairs of lv, copying the
// encoding of every value that is still as it was stored.
func appendLazyValues(b []byte, lv *lazyValues) ([]byte, error) {
	var err error
	for i := range lv.ents {
		e := &lv.ents[i]
		b = appendString(b, e.key)
		if e.raw {
			b = append(b, lv.b[e.off:e.end]...)
			continue
		}
		if b, err = appendValue(b, e.val, 0); err != nil {
			return nil, err
		}
	}
	return b, nil
}
