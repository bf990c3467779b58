package replicated

import (
	"context"
	"time"

	"github.com/httpsession/httpsession"
)

// The methods of the optional interfaces live on one small type each, so
// that withCapabilities can embed exactly the ones every member has.

type toucher struct{ s *store }

// Touch moves the record's expiry on the writer, then on the other
// members.
func (t toucher) Touch(ctx context.Context, key string, expires time.Time) error {
	return t.s.touch(ctx, key, expires)
}

type lister struct{ s *store }

// List lists the writer's records, moving on to the next member if the
// writer fails before the first record.
func (l lister) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	return l.s.list(ctx, fn)
}

type cleaner struct{ s *store }

// DeleteExpired deletes expired records on every member that is up and
// reports how many the writer removed.
func (c cleaner) DeleteExpired(ctx context.Context, limit int) (int, error) {
	return c.s.deleteExpired(ctx, limit)
}

type ownerIndex struct{ s *store }

// OwnerKeys asks the writer's owner index.
func (o ownerIndex) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	return o.s.ownerKeys(ctx, owner)
}

// all reports whether every member implements I.
func all[I any](members []httpsession.Store) bool {
	for _, m := range members {
		if _, ok := m.(I); !ok {
			return false
		}
	}
	return true
}

// withCapabilities returns s in a wrapper that implements Toucher, Lister,
// Cleaner and OwnerIndex exactly when every member does.
func withCapabilities(s *store, members []httpsession.Store) Store {
	t := all[httpsession.Toucher](members)
	l := all[httpsession.Lister](members)
	c := all[httpsession.Cleaner](members)
	o := all[httpsession.OwnerIndex](members)
	T, L, C, O := toucher{s}, lister{s}, cleaner{s}, ownerIndex{s}
	switch bits(t, l, c, o) {
	case 0b0000:
		return s
	case 0b1000:
		return struct {
			*store
			toucher
		}{s, T}
	case 0b0100:
		return struct {
			*store
			lister
		}{s, L}
	case 0b0010:
		return struct {
			*store
			cleaner
		}{s, C}
	case 0b0001:
		return struct {
			*store
			ownerIndex
		}{s, O}
	case 0b1100:
		return struct {
			*store
			toucher
			lister
		}{s, T, L}
	case 0b1010:
		return struct {
			*store
			toucher
			cleaner
		}{s, T, C}
	case 0b1001:
		return struct {
			*store
			toucher
			ownerIndex
		}{s, T, O}
	case 0b0110:
		return struct {
			*store
			lister
			cleaner
		}{s, L, C}
	case 0b0101:
		return struct {
			*store
			lister
			ownerIndex
		}{s, L, O}
	case 0b0011:
		return struct {
			*store
			cleaner
			ownerIndex
		}{s, C, O}
	case 0b1110:
		return struct {
			*store
			toucher
			lister
			cleaner
		}{s, T, L, C}
	case 0b1101:
		return struct {
			*store
			toucher
			lister
			ownerIndex
		}{s, T, L, O}
	case 0b1011:
		return struct {
			*store
			toucher
			cleaner
			ownerIndex
		}{s, T, C, O}
	case 0b0111:
		return struct {
			*store
			lister
			cleaner
			ownerIndex
		}{s, L, C, O}
	default:
		return struct {
			*store
			toucher
			lister
			cleaner
			ownerIndex
		}{s, T, L, C, O}
	}
}

// bits packs the four capabilities, Toucher first, into a number.
func bits(flags ...bool) int {
	n := 0
	for _, f := range flags {
		n <<= 1
		if f {
			n |= 1
		}
	}
	return n
}
