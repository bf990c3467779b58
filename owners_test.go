package httpsession_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

func TestOwnersAndSignOutEverywhere(t *testing.T) {
	for name, newStore := range embeddedStores() {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			events := map[string]int{}
			count := func(kind string) func(context.Context, httpsession.SessionInfo) {
				return func(_ context.Context, info httpsession.SessionInfo) {
					mu.Lock()
					events[kind]++
					mu.Unlock()
					if info.Values != nil {
						t.Error("hook got session values")
					}
				}
			}
			m, _, _ := newManager(t, httpsession.Config{
				Store:  newStore(t),
				Client: httpsession.Client{Record: true},
				Hooks: httpsession.Hooks{
					OnCreate: count("create"), OnRenew: count("renew"),
					OnDestroy: count("destroy"), OnExpire: count("expire"),
				},
			})
			h := m.Handler(api())
			login := func(user, ua string) string {
				r := httptest.NewRequest("POST", "/login?user="+user, nil)
				r.Header.Set("User-Agent", ua)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return sessionCookie(w).Value
			}
			ann := []string{login("ann", "phone"), login("ann", "laptop"), login("ann", "tablet")}
			login("bob", "desktop")
			anon := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
			// A renewed anonymous session becomes ann's fourth, then is logged out.
			renewed := sessionCookie(do(t, h, "POST", "/login?user=ann", "session="+anon)).Value
			do(t, h, "POST", "/logout", "session="+renewed)

			ctx := context.Background()
			got, err := m.SessionsOf(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			agents := map[string]bool{}
			for _, info := range got {
				agents[info.UserAgent] = true
				if info.IP != "192.0.2.1" || info.Created.IsZero() || info.LastSeen.IsZero() || info.Key == "" || info.Values["user"] != "ann" {
					t.Errorf("session info: %+v", info)
				}
			}
			if len(got) != 3 || !agents["phone"] || !agents["laptop"] || !agents["tablet"] {
				t.Fatalf("SessionsOf(ann) = %d sessions %v, want phone, laptop, tablet", len(got), agents)
			}

			keep, err := m.Load(ctx, ann[0])
			if err != nil {
				t.Fatal(err)
			}
			n, err := m.DestroyOwner(ctx, "ann", keep)
			if err != nil || n != 2 {
				t.Fatalf("DestroyOwner = %d, %v; want 2", n, err)
			}
			for i, token := range ann {
				w := do(t, h, "GET", "/get?key=user", "session="+token)
				if alive := w.Code == http.StatusOK; alive != (i == 0) {
					t.Errorf("ann's session %d alive = %v after sign-out-everywhere keeping the first", i, alive)
				}
			}
			if bob, _ := m.SessionsOf(ctx, "bob"); len(bob) != 1 {
				t.Fatalf("bob lost his session: %d", len(bob))
			}

			var owners []string
			err = m.Iterate(ctx, func(info httpsession.SessionInfo) bool {
				owners = append(owners, info.Owner)
				return true
			})
			if errors.Is(err, httpsession.ErrNotSupported) {
				t.Skip("store cannot list")
			}
			if err != nil || len(owners) != 2 { // ann's kept session and bob's
				t.Fatalf("Iterate: %v, %v", owners, err)
			}

			st := m.Stats()
			mu.Lock()
			defer mu.Unlock()
			// 5 logins and 1 put created 5 sessions (the put's one was renewed into a login).
			if st.Created != 5 || events["create"] != 5 || st.Renewed != 1 || events["renew"] != 1 {
				t.Errorf("created %d (%d hooks), renewed %d (%d hooks)", st.Created, events["create"], st.Renewed, events["renew"])
			}
			if st.Destroyed != 3 || events["destroy"] != 3 {
				t.Errorf("destroyed %d (%d hooks), want 3", st.Destroyed, events["destroy"])
			}
		})
	}
}

func TestDestroyKey(t *testing.T) {
	var destroyed []string
	m, _, _ := newManager(t, httpsession.Config{Hooks: httpsession.Hooks{
		OnDestroy: func(_ context.Context, info httpsession.SessionInfo) { destroyed = append(destroyed, info.Owner) },
	}})
	token := sessionCookie(do(t, m.Handler(api()), "POST", "/login?user=ann", "")).Value
	ctx := context.Background()
	if err := m.DestroyKey(ctx, httpsession.StoreKey(token)); err != nil {
		t.Fatal(err)
	}
	if err := m.DestroyKey(ctx, httpsession.StoreKey(token)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("second DestroyKey: %v, want ErrNotFound", err)
	}
	if m.Stats().Destroyed != 1 || len(destroyed) != 1 || destroyed[0] != "ann" {
		t.Fatalf("destroyed %d, hooks %v", m.Stats().Destroyed, destroyed)
	}
}

// Records the codec cannot decode still belong to their owner: signing out
// everywhere ends them, and an operator can delete one.
func TestUndecodableRecordsCanBeEnded(t *testing.T) {
	store := newMemStore(t)
	m, _, clk := newManager(t, httpsession.Config{Store: store})
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		key := httpsession.StoreKey(strings.Repeat(k, 43))
		if _, err := store.Put(ctx, key, httpsession.Record{Data: []byte("not a record"), Expires: clk.Now().Add(time.Hour), Owner: "ann"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := m.DestroyOwner(ctx, "ann", nil); err != nil || n != 2 {
		t.Fatalf("DestroyOwner = %d, %v; want 2", n, err)
	}
	key := httpsession.StoreKey(strings.Repeat("c", 43))
	store.Put(ctx, key, httpsession.Record{Data: []byte{0xff}, Expires: clk.Now().Add(time.Hour)})
	if err := m.DestroyKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, key); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("the undecodable record survived DestroyKey")
	}
}
