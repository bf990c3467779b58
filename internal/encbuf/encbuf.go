// Package encbuf lends the buffers a Manager encodes sessions into for a
// store write, so that with a codec.AppendEncoder (Gob) the only copy of
// the record made is the store's own.
package encbuf

import (
	"sync"

	"github.com/httpsession/httpsession/codec"
)

// bufs holds the buffers Encode encodes into, each a *[]byte.
var bufs sync.Pool

// maxPooled bounds the buffers kept for reuse, so that one huge session
// does not pin its memory.
const maxPooled = 64 << 10

// Encode encodes st with c for a store write. With a codec.AppendEncoder
// it encodes into a pooled buffer, which Release gives back once the
// store call is over (stores never keep Data); buf is nil for other
// codecs.
func Encode(c codec.Codec, st *codec.State) (data []byte, buf *[]byte, err error) {
	ae, ok := c.(codec.AppendEncoder)
	if !ok {
		data, err = c.Encode(st)
		return data, nil, err
	}
	buf, _ = bufs.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	if data, err = ae.AppendEncode((*buf)[:0], st); err != nil {
		bufs.Put(buf)
		return nil, nil, err
	}
	return data, buf, nil
}

// Release gives back the buffer of data, which Encode returned. data must
// not be used afterwards.
func Release(buf *[]byte, data []byte) {
	if buf == nil || cap(data) > maxPooled {
		return
	}
	*buf = data[:0]
	bufs.Put(buf)
}
