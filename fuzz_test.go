package httpsession

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession/transport"
)

// Fuzz targets for everything a client controls on the way to a store: the
// token syntax, the cookie transport with and without signing keys, key
// rotation, and the middleware as a whole. They are internal tests so that
// they reach validToken and the transport; for the same reason (an internal
// test cannot import a store, which imports this package) FuzzMiddleware
// runs on fuzzStore, a map, instead of memstore.

// fuzzLifetime is the session lifetime of FuzzMiddleware: long, so that
// the stored session outlives any fuzzing run.
const fuzzLifetime = 100 * 365 * 24 * time.Hour

// fuzzKey returns a fixed key of n bytes derived from name, so that seeds
// signed in one run verify in the next.
func fuzzKey(name string, n int) []byte {
	sum := sha256.Sum256([]byte(name))
	return sum[:n]
}

// The keys have distinct Hash keys: securecookie's MAC does not say whether
// the value is encrypted, so a cookie signed with Hash alone verifies under
// the same Hash with a Block key, which then "decrypts" it to garbage.
var (
	fuzzKeyA  = Key{Hash: fuzzKey("A hash", 32)}
	fuzzKeyB  = Key{Hash: fuzzKey("B hash", 32)}
	fuzzKeyAE = Key{Hash: fuzzKey("AE hash", 32), Block: fuzzKey("AE block", 16)}
	fuzzKeyBE = Key{Hash: fuzzKey("BE hash", 32), Block: fuzzKey("BE block", 32)}
)

// fuzzTokens are the only tokens the fuzz targets ever sign: two
// well-formed ones and two that a forged signature must not smuggle past
// validToken either.
var fuzzTokens = []string{
	base64.RawURLEncoding.EncodeToString(fuzzKey("token 1", 32)),
	base64.RawURLEncoding.EncodeToString(fuzzKey("token 2", 32)),
	"../../etc/passwd",
	"",
}

func fuzzTransport(tb testing.TB, keys ...Key) *Cookie {
	tb.Helper()
	t, err := (&Cookie{Keys: keys}).prepare(time.Now, false)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// cookieValue returns the value of the cookie t sets for token.
func cookieValue(tb testing.TB, t transport.Transport, token string) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	t.WriteToken(rec, httptest.NewRequest("GET", "/", nil), token, time.Now().Add(time.Hour))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		tb.Fatalf("WriteToken set %d cookies", len(cookies))
	}
	return cookies[0].Value
}

// requestWithCookie returns a request whose Cookie header is exactly
// header.
func requestWithCookie(header string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header["Cookie"] = []string{header}
	return r
}

// FuzzToken checks that validToken never panics and accepts exactly the
// strings of base64url characters of the right length: 43 (32 bytes) for
// the built-in generator, 22 to 128 for a custom one.
func FuzzToken(f *testing.F) {
	for _, s := range []string{
		newToken(), fuzzTokens[0], "", "a", "..", "../x", `..\x`, "/", "\x00",
		strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("A", 42) + "=",
		strings.Repeat("A", 42) + "+", strings.Repeat("A", 42) + "é"[:1],
		strings.Repeat("a", 22), strings.Repeat("a", 128), strings.Repeat("a", 129),
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, custom bool) {
		got := validToken(s, custom)
		want := strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == ""
		if custom {
			want = want && len(s) >= minCustomTokenLen && len(s) <= maxCustomTokenLen
		} else {
			want = want && len(s) == tokenLen
		}
		if got != want {
			t.Fatalf("validToken(%q, %v) = %v, want %v", s, custom, got, want)
		}
		if got && !custom {
			if b, err := base64.RawURLEncoding.DecodeString(s); err != nil || len(b) != tokenBytes {
				t.Fatalf("validToken accepted %q, which is not %d bytes of base64url: %d, %v", s, tokenBytes, len(b), err)
			}
		}
	})
}

// Seeds stay small: the fuzzer spends seconds minimizing each new input
// grown from a large one. TestBadTokensStartFreshSession covers the 10 KB
// cookie of R4.

// FuzzCookie feeds arbitrary Cookie headers to the cookie transport: bare,
// signed, and signed and encrypted. It must never panic; a bare transport
// returns only what the header holds, and a keyed one only a token that
// this test signed with its key.
func FuzzCookie(f *testing.F) {
	bare := fuzzTransport(f)
	signed := fuzzTransport(f, fuzzKeyA)
	sealed := fuzzTransport(f, fuzzKeyAE)
	other := fuzzTransport(f, fuzzKeyB)
	for _, s := range []string{
		"", "session=", "session=x", "session=..", "session=../x", "session=" + fuzzTokens[0],
		`session="` + fuzzTokens[0] + `"`, "session=\x00", "session=a b", "session=a\r\nX: y",
		"a=b; session=c; session=d", "session=" + strings.Repeat("A", 300), "session=\xff\xfe",
	} {
		f.Add(s)
	}
	for _, tok := range fuzzTokens {
		for _, t := range []*Cookie{signed, sealed, other} {
			v := cookieValue(f, t, tok)
			f.Add("session=" + v)
			f.Add("session=" + v[:len(v)/2])
			f.Add("session=junk; session=" + v)
			f.Add("Session=" + v)
		}
	}
	issued := map[string]bool{}
	for _, tok := range fuzzTokens {
		issued[tok] = true
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := requestWithCookie(header)
		if tok := bare.ReadToken(r); tok != "" && !strings.Contains(header, tok) {
			t.Fatalf("bare transport read %q, which is not in the header", tok)
		}
		for _, tr := range []*Cookie{signed, sealed} {
			if tok := tr.ReadToken(r); !issued[tok] {
				t.Fatalf("keyed transport read %q, a token this test never signed", tok)
			}
		}
	})
}

// FuzzSecureCookieRotation signs a token with key A and reads it back with
// the key lists [B, A] (A rotated out of signing, still verifying) and [B]
// (A retired): the first must return the token (if it has a token's
// shape; other signed values read as nothing), the second nothing. An
// arbitrary cookie value must come back as nothing from either.
func FuzzSecureCookieRotation(f *testing.F) {
	f.Add(fuzzTokens[0], false, "")
	f.Add(fuzzTokens[1], true, "MTcwMDAwMDAwMHxhYmN8ZGVm")
	f.Add("x", false, "||")
	f.Add("\x00\xff", true, strings.Repeat("A", 300))
	plain := []*Cookie{fuzzTransport(f, fuzzKeyA), fuzzTransport(f, fuzzKeyB, fuzzKeyA), fuzzTransport(f, fuzzKeyB)}
	sealed := []*Cookie{fuzzTransport(f, fuzzKeyAE), fuzzTransport(f, fuzzKeyBE, fuzzKeyAE), fuzzTransport(f, fuzzKeyBE)}
	f.Fuzz(func(t *testing.T, token string, encrypt bool, garbage string) {
		ts := plain
		if encrypt {
			ts = sealed
		}
		a, ba, b := ts[0], ts[1], ts[2]
		// securecookie refuses to encode a value over 4,096 bytes, and
		// WriteToken then sends no cookie; tokens are far shorter.
		token = token[:min(len(token), 1024)]
		r := requestWithCookie("session=" + cookieValue(t, a, token))
		// Only a value with the shape of a token comes back: a signed
		// value that is not one is treated as absent. These transports
		// take the built-in generator's tokens, so a custom generator's
		// shorter ones are not tokens to them.
		want := ""
		if validToken(token, false) {
			want = token
		}
		if got := ba.ReadToken(r); got != want {
			t.Fatalf("[B, A] read %q, want %q", got, want)
		}
		if got := b.ReadToken(r); got != "" {
			t.Fatalf("[B] read %q from a cookie signed with A alone", got)
		}
		r = requestWithCookie("session=" + garbage)
		for _, tr := range ts {
			if got := tr.ReadToken(r); got != "" {
				t.Fatalf("read %q from the arbitrary value %q", got, garbage)
			}
		}
	})
}

// fuzzStore is a minimal Store: a map with compare-and-set. It records the
// key of every call.
type fuzzStore struct {
	mu      sync.Mutex
	recs    map[string]Record
	version uint64
	calls   []string
}

func (s *fuzzStore) call(key string) {
	s.calls = append(s.calls, key)
}

func (s *fuzzStore) Get(_ context.Context, key string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(key)
	rec, ok := s.recs[key]
	if !ok {
		return Record{}, ErrNotFound
	}
	rec.Data = append([]byte(nil), rec.Data...)
	return rec, nil
}

func (s *fuzzStore) Put(_ context.Context, key string, rec Record) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(key)
	if s.recs[key].Version != rec.Version {
		return 0, ErrConflict
	}
	s.version++
	rec.Version, rec.Data = s.version, append([]byte(nil), rec.Data...)
	s.recs[key] = rec
	return rec.Version, nil
}

func (s *fuzzStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call(key)
	delete(s.recs, key)
	return nil
}

// takeCalls returns the keys called since the last takeCalls.
func (s *fuzzStore) takeCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls := s.calls
	s.calls = nil
	return calls
}

// FuzzMiddleware sends arbitrary Cookie headers through Manager.Handler,
// with a bare and with a signed cookie. The response is never a 5xx, the
// handler always runs with a session, and the store sees a call only for a
// well-formed token the transport read (R4), under that token's key. Only
// the one stored session's token loads its data; any other gives a new
// session, and since the handler changes nothing no cookie is set.
func FuzzMiddleware(f *testing.F) {
	for _, s := range []string{
		"", "session=", "session=a", "session=..", "session=../x", `session=..\x`, "session=/",
		"session=\x00", "session= ", "session=\r\n", "session=" + strings.Repeat("A", 300),
		"session=\xff\xfe\xfd", "session=" + fuzzTokens[0],
		"session=" + fuzzTokens[0][:42] + ".", "other=" + fuzzTokens[0],
	} {
		f.Add(s)
	}
	type setup struct {
		m     *Manager
		store *fuzzStore
		token string // of the one stored session
	}
	var setups []setup
	for _, keys := range [][]Key{nil, {fuzzKeyA}} {
		store := &fuzzStore{recs: map[string]Record{}}
		m, err := New(Config{Store: store, Transport: &Cookie{Keys: keys}, Lifetime: fuzzLifetime, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			f.Fatal(err)
		}
		f.Cleanup(func() { m.Close() })
		s, err := m.Load(context.Background(), "")
		if err != nil {
			f.Fatal(err)
		}
		s.Set("n", 1)
		if err := m.Save(context.Background(), s); err != nil {
			f.Fatal(err)
		}
		value := s.Token()
		if keys != nil {
			value = cookieValue(f, m.transport, value)
		}
		f.Add("session=" + value)
		f.Add("a=b; session=" + value + "; c=d")
		store.takeCalls()
		setups = append(setups, setup{m, store, s.Token()})
	}
	f.Fuzz(func(t *testing.T, header string) {
		for _, st := range setups {
			var loaded any
			var ran bool
			h := st.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := SessionFrom(r.Context())
				ran = s != nil
				if ran {
					loaded = s.Get("n")
				}
			}))
			r := requestWithCookie(header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("status %d", rec.Code)
			}
			if !ran {
				t.Fatal("the handler did not run with a session")
			}
			tok := st.m.transport.ReadToken(r)
			calls := st.store.takeCalls()
			if len(calls) > 0 && !validToken(tok, false) {
				t.Fatalf("%d store calls for the malformed token %q", len(calls), tok)
			}
			for _, k := range calls {
				if k != StoreKey(tok) {
					t.Fatalf("store call under key %s, not the token's", k)
				}
			}
			if want := tok == st.token; (loaded == 1) != want {
				t.Fatalf("token %q loaded %v", tok, loaded)
			}
			// The handler changes nothing: no token goes out, least of
			// all a presented one.
			if c := rec.Header().Get("Set-Cookie"); c != "" {
				t.Fatalf("the response sets a cookie: %s", c)
			}
		}
	})
}
