package httpsession_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
)

// The Manager's janitor deletes expired records from a store without native
// expiry, and Close stops it.
func TestJanitor(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	clk := newClock()
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), boltstore.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{Store: store, Now: clk.Now, Lifetime: time.Hour, CleanupInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(api())
	old := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	clk.Add(50 * time.Minute)
	young := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	clk.Add(20 * time.Minute) // the first is past its hour, the second is not

	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if storedRecords(t, store) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not delete the expired record within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := store.Get(ctx, httpsession.StoreKey(old)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("the expired session: %v", err)
	}
	if _, err := store.Get(ctx, httpsession.StoreKey(young)); err != nil {
		t.Fatalf("the janitor deleted a live session: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m.Close() // idempotent
}

// storedRecords counts the records in the bbolt file, expired ones too.
func storedRecords(t *testing.T, s *boltstore.Store) int {
	n := 0
	err := s.DB().View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte(boltstore.DefaultBucket)).Bucket([]byte("records")).Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
