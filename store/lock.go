package store

import "gorm.io/gorm/clause"

// forUpdate locks the rows a read-modify-write reads (SELECT ... FOR UPDATE on
// PostgreSQL). The SQLite driver drops the clause: SQLite's immediate
// transactions already serialise writers.
var forUpdate = clause.Locking{Strength: "UPDATE"}
