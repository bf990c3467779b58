package httpsession_test

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// A request that reads and changes a few values of a session leaves every
// other value as it was, whatever its type, however many there are, and
// whatever the request did besides: the Manager decodes a value only when
// a request reads it and writes the others back as they were stored.
func TestValuesKeptAcrossPartialReads(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, n := range []int{6, 70} { // below and above the point where new keys are inserted among the undecoded ones
		t.Run(fmt.Sprint(n, " keys"), func(t *testing.T) {
			m, _, clk := newManager(t, httpsession.Config{})
			want := map[string]any{}
			for i := range n {
				k := fmt.Sprintf("k%02d", i)
				switch i % 5 {
				case 0:
					want[k] = fmt.Sprint("value ", i)
				case 1:
					want[k] = i
				case 2:
					want[k] = []byte{byte(i), 0xff}
				case 3:
					want[k] = map[string]any{"n": int64(i), "tags": []any{"x", 2.5}}
				case 4:
					want[k] = at.Add(time.Duration(i) * time.Minute)
				}
			}
			var step func(s *httpsession.Session)
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				step(httpsession.SessionFrom(r.Context()))
			}))
			cookie := ""
			run := func(fn func(s *httpsession.Session)) {
				t.Helper()
				step = fn
				w := do(t, h, "GET", "/", cookie)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				if c := sessionCookie(w); c != nil {
					cookie = c.Name + "=" + c.Value
				}
			}

			run(func(s *httpsession.Session) {
				for k, v := range want {
					s.Set(k, v)
				}
				s.Set("short", "lived")
				s.SetKeyExpiry("short", time.Minute)
			})
			// Read one value, change another, delete a third, add a key,
			// and change a map in place without storing it again: nothing
			// promises that this last change is saved, but the request
			// saves, and it always was; a value read is never written
			// back as it was stored, since it may have changed.
			run(func(s *httpsession.Session) {
				if got := s.Get("k00"); got != "value 0" {
					t.Errorf("k00 = %#v", got)
				}
				s.Set("k01", "changed")
				s.Delete("k02")
				s.Set("added", 1.5)
				if m, ok := s.Get("k03").(map[string]any); ok {
					m["changed in place"] = true
				}
			})
			want["k01"], want["added"] = "changed", 1.5
			delete(want, "k02")
			want["k03"].(map[string]any)["changed in place"] = true
			// A request that only reads changes nothing.
			run(func(s *httpsession.Session) { s.Get("k04") })
			clk.Add(2 * time.Minute) // "short" is gone

			got := map[string]any{}
			run(func(s *httpsession.Session) {
				for _, k := range s.Keys() {
					got[k] = s.Get(k)
				}
				if s.Has("short") || s.Get("short") != nil {
					t.Error("a key past its own expiry is still there")
				}
			})
			if !reflect.DeepEqual(got, want) {
				for _, k := range slices.Sorted(maps.Keys(want)) {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("%s = %#v, want %#v", k, got[k], want[k])
					}
				}
				t.Fatalf("%d values, want %d", len(got), len(want))
			}
		})
	}
}
