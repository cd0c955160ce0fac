package store

import (
	"unicode"
	"unicode/utf8"
)

// wellFormedKey reports whether id could be the key of a stored row: valid
// UTF-8 without control characters. Every ID kycvs stores is such text, and
// PostgreSQL refuses a NUL or a byte that is not UTF-8 in a text parameter
// (SQLSTATE 22021), which would surface as a server error. Lookups answer
// ErrNotFound for anything else before the database sees it, whichever
// request (path, query, form, header, JSON) the ID came from.
func wellFormedKey(ids ...string) bool {
	for _, id := range ids {
		if !utf8.ValidString(id) {
			return false
		}
		for _, r := range id {
			if unicode.IsControl(r) {
				return false
			}
		}
	}
	return true
}
