package store

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// forUpdate locks the rows a read-modify-write reads (SELECT ... FOR UPDATE on
// PostgreSQL). The SQLite driver drops the clause: SQLite's immediate
// transactions already serialise writers.
var forUpdate = clause.Locking{Strength: "UPDATE"}

func orderDoses(db *gorm.DB) *gorm.DB { return db.Order("dose_number, id") }
