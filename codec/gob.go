package codec

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Gob is the default Codec. It uses encoding/gob, so every value comes back
// with the Go type it was stored with: an int stays an int, a uint8 a uint8,
// a time.Time a time.Time (without its monotonic clock reading).
//
// Gob must know a concrete type before it can carry it inside an interface
// value. This package registers, besides the basic types and slices of them
// that gob registers itself, map[string]any, []any, []map[string]any, maps
// from string to string, int, int64, float64, bool and []string, time.Time
// and time.Duration. Any other type stored as a
// session value, such as an application's own struct, must be registered
// with gob.Register by the application before the first Encode or Decode;
// encoding an unregistered type returns an error.
type Gob struct{}

var _ Codec = Gob{}

func init() {
	gob.Register(map[string]any(nil))
	gob.Register([]any(nil))
	gob.Register([]map[string]any(nil))
	gob.Register(map[string]string(nil))
	gob.Register(map[string]int(nil))
	gob.Register(map[string]int64(nil))
	gob.Register(map[string]float64(nil))
	gob.Register(map[string]bool(nil))
	gob.Register(map[string][]string(nil))
	gob.Register(time.Time{})
	gob.Register(time.Duration(0))
}

// gobBufs holds encode buffers. A buffer that grew past maxPooledBuf is
// dropped rather than pooled, so one huge session does not pin its memory.
var gobBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuf = 64 << 10

// Encode encodes st: in the tagged format when every value has a tagged
// form, else with encoding/gob.
func (g Gob) Encode(st *State) ([]byte, error) {
	if st == nil {
		return nil, errNilState
	}
	buf := gobBufs.Get().(*bytes.Buffer)
	buf.Reset()
	b, err := g.AppendEncode(buf.AvailableBuffer(), st)
	var data []byte
	if err == nil {
		// The buffer goes back to the pool, so the caller gets a copy.
		data = bytes.Clone(b)
		if cap(b) > buf.Cap() && cap(b) <= maxPooledBuf {
			buf.Grow(cap(b)) // the next record of this size appends in place
		}
	}
	if buf.Cap() <= maxPooledBuf {
		gobBufs.Put(buf)
	}
	return data, err
}

var _ AppendEncoder = Gob{}

// AppendEncode appends the encoding Encode returns to dst.
func (Gob) AppendEncode(dst []byte, st *State) ([]byte, error) {
	if st == nil {
		return nil, errNilState
	}
	if b, err := appendTaggedState(dst, st); err == nil {
		return b, nil
	}
	buf := bytes.NewBuffer(dst)
	buf.WriteByte(formatGob)
	if err := gob.NewEncoder(buf).Encode(st.eager()); err != nil {
		return nil, fmt.Errorf("codec: gob encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode decodes data written by Gob.Encode into st.
func (Gob) Decode(data []byte, st *State) error {
	if st == nil {
		return errNilState
	}
	if len(data) > 0 && data[0] == formatTagged {
		fresh, err := decodeTagged(data[1:])
		if err != nil {
			return err
		}
		*st = finish(fresh)
		return nil
	}
	if len(data) == 0 || data[0] != formatGob {
		return errors.New("codec: gob decode: not a record of this codec")
	}
	r := bytes.NewReader(data[1:])
	var fresh State
	if err := gob.NewDecoder(r).Decode(&fresh); err != nil {
		return fmt.Errorf("codec: gob decode: %w", err)
	}
	// bytes.Reader is an io.ByteReader, so gob read no further than its
	// message: anything left over means the record is not what we wrote.
	if r.Len() != 0 {
		return fmt.Errorf("codec: gob decode: %d bytes of trailing data", r.Len())
	}
	*st = finish(fresh)
	return nil
}
