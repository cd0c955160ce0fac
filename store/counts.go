package store

import (
	"sync/atomic"

	"gorm.io/gorm"
)

// counts are the statements and transactions a Store has sent, for the
// kycvs_db_statements_total and kycvs_db_transactions_total metrics: the
// round trips a verification costs, which `kycvs bench` reports per
// verification.
type counts struct {
	statements, transactions atomic.Uint64
}

// registerCounting counts every statement gorm sends, whatever the kind:
// reads, writes, Raw/Exec and Scan. BEGIN and COMMIT are not statements
// here; InTx and BeginTx count the transactions.
func registerCounting(db *gorm.DB, c *counts) error {
	count := func(tx *gorm.DB) {
		if tx.Statement.SQL.Len() > 0 && !tx.DryRun {
			c.statements.Add(1)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("kycvs:count", count),
		cb.Query().After("gorm:query").Register("kycvs:count", count),
		cb.Update().After("gorm:update").Register("kycvs:count", count),
		cb.Delete().After("gorm:delete").Register("kycvs:count", count),
		cb.Row().After("gorm:row").Register("kycvs:count", count),
		cb.Raw().After("gorm:raw").Register("kycvs:count", count),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// Counts returns how many SQL statements and transactions the store has
// sent since it was opened (the registry import's COPY and the
// migrations are not counted). Safe for concurrent use.
func (s *Store) Counts() (statements, transactions uint64) {
	return s.counts.statements.Load(), s.counts.transactions.Load()
}
