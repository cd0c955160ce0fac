// Package store owns persistence: the gorm models and the repositories over
// them, with one code path for PostgreSQL and SQLite.
//
// Callers see only the models in this package and its sentinel errors
// (ErrNotFound, ErrAlreadyExists, ErrConflict, ErrLimited), translated from
// driver errors in one place (translate). A repository call made with a
// context returned by InTx joins that transaction. Writes that only need
// to land together, with a condition on a row read before, are gathered
// in Writes and sent by WriteTogether: on PostgreSQL one pipeline, one
// round trip, where a transaction around them would cost one per
// statement and two more; that is how a login approval, its authorization
// code and its disclosure record are written. A read that locks nothing and is made outside a transaction
// goes through reader: on SQLite to a pool of read-only connections, which
// run beside the one writing connection. The schema comes from the SQL
// files in package migrations, never from AutoMigrate.
//
// A raw query is scanned with Find, not Scan: gorm's Scan formats every
// statement with its values for a trace recorder, whether or not anything
// logs it (a twentieth of a verification's allocations).
package store
