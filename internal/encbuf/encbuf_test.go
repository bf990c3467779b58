package encbuf_test

import (
	"testing"

	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/internal/encbuf"
)

// Encode gives what the codec's Encode gives, in a pooled buffer only
// for an AppendEncoder.
func TestEncode(t *testing.T) {
	st := &codec.State{Values: map[string]any{"user": "ann", "n": int64(3)}}
	for _, c := range []codec.Codec{codec.Gob{}, codec.JSON{}} {
		want, err := c.Encode(st)
		if err != nil {
			t.Fatal(err)
		}
		data, buf, err := encbuf.Encode(c, st)
		if err != nil {
			t.Fatal(err)
		}
		var got codec.State
		if err := c.Decode(data, &got); err != nil || got.Values["user"] != "ann" {
			t.Fatalf("%T: decoded %v, %v", c, got.Values, err)
		}
		if _, pooled := c.(codec.AppendEncoder); pooled != (buf != nil) {
			t.Fatalf("%T: pooled buffer %v", c, buf != nil)
		}
		if len(data) != len(want) {
			t.Fatalf("%T: %d bytes, Encode gives %d", c, len(data), len(want))
		}
		encbuf.Release(buf, data)
	}
}
