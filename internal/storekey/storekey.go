// Package storekey holds the checks that several stores make on what they
// are given before it reaches their backend: the shape of a store key and
// the size limits of a record.
package storekey

import (
	"fmt"

	"github.com/httpsession/httpsession"
)

// Valid reports whether key is 64 lowercase hex characters, the form of
// httpsession.StoreKey. Stores that build file names or server keys from
// a key accept no other, so no key can carry a path separator, a space,
// a control character or a second command.
func Valid(key string) bool {
	if len(key) != 64 {
		return false
	}
	for i := range len(key) {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckSize returns an error wrapping httpsession.ErrTooLarge when rec's
// Data is over maxData bytes or its Owner over maxOwner bytes, and nil
// otherwise. The message starts with where, such as "filestore" or
// "redisstore: put".
func CheckSize(where string, rec httpsession.Record, maxData, maxOwner int) error {
	if len(rec.Data) > maxData {
		return fmt.Errorf("%s: data of %d bytes over the limit of %d: %w", where, len(rec.Data), maxData, httpsession.ErrTooLarge)
	}
	if len(rec.Owner) > maxOwner {
		return fmt.Errorf("%s: owner of %d bytes over the limit of %d: %w", where, len(rec.Owner), maxOwner, httpsession.ErrTooLarge)
	}
	return nil
}
