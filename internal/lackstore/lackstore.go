// Package lackstore hides optional interfaces of a store, for the tests of
// stores that wrap others (store/tiered, store/replicated): each of their
// capability methods must answer httpsession.ErrNotSupported exactly when
// the store behind lacks the interface.
package lackstore

import (
	"context"
	"fmt"
	"time"

	"github.com/httpsession/httpsession"
)

// Full is a store with the four optional interfaces that wrappers pass
// through, such as memstore.
type Full interface {
	httpsession.Store
	httpsession.Toucher
	httpsession.Lister
	httpsession.Cleaner
	httpsession.OwnerIndex
}

// Names are the optional interfaces Without can hide.
var Names = []string{"Toucher", "Lister", "Cleaner", "OwnerIndex"}

// Bare returns s behind a type with only the three methods of
// httpsession.Store.
func Bare(s httpsession.Store) httpsession.Store {
	return struct{ httpsession.Store }{s}
}

// Without returns s behind a type that has every optional interface in
// Names except the one named.
func Without(s Full, name string) httpsession.Store {
	type (
		S = httpsession.Store
		T = httpsession.Toucher
		L = httpsession.Lister
		C = httpsession.Cleaner
		O = httpsession.OwnerIndex
	)
	switch name {
	case "Toucher":
		return struct {
			S
			L
			C
			O
		}{s, s, s, s}
	case "Lister":
		return struct {
			S
			T
			C
			O
		}{s, s, s, s}
	case "Cleaner":
		return struct {
			S
			T
			L
			O
		}{s, s, s, s}
	case "OwnerIndex":
		return struct {
			S
			T
			L
			C
		}{s, s, s, s}
	}
	panic(fmt.Sprintf("lackstore: no optional interface %q", name))
}

// Has reports whether s implements the optional interface named (one of
// Names, or "Pinger").
func Has(s any, name string) bool {
	var ok bool
	switch name {
	case "Toucher":
		_, ok = s.(httpsession.Toucher)
	case "Lister":
		_, ok = s.(httpsession.Lister)
	case "Cleaner":
		_, ok = s.(httpsession.Cleaner)
	case "OwnerIndex":
		_, ok = s.(httpsession.OwnerIndex)
	case "Pinger":
		_, ok = s.(httpsession.Pinger)
	default:
		panic(fmt.Sprintf("lackstore: no optional interface %q", name))
	}
	return ok
}

// Call calls the method of the optional interface named on s with
// harmless arguments (a key and an owner that were never written) and
// returns its error. s must implement the interface.
func Call(s any, name string) error {
	ctx := context.Background()
	switch name {
	case "Toucher":
		return s.(httpsession.Toucher).Touch(ctx, unusedKey, time.Now().Add(time.Hour))
	case "Lister":
		return s.(httpsession.Lister).List(ctx, func(string, httpsession.Record) bool { return false })
	case "Cleaner":
		_, err := s.(httpsession.Cleaner).DeleteExpired(ctx, 1)
		return err
	case "OwnerIndex":
		_, err := s.(httpsession.OwnerIndex).OwnerKeys(ctx, "lackstore-unused-owner")
		return err
	}
	panic(fmt.Sprintf("lackstore: no optional interface %q", name))
}

// unusedKey is a store key nobody writes.
const unusedKey = "0000000000000000000000000000000000000000000000000000000000000000"
