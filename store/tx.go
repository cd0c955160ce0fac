package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// errNoTx reports a Commit or Rollback without BeginTx.
var errNoTx = errors.New("store: no transaction in context")

// BeginTx starts a transaction and returns a context that carries it, for
// callers whose framework splits begin and commit (fosite's
// storage.Transactional). Prefer InTx everywhere else.
func (s *Store) BeginTx(ctx context.Context) (context.Context, error) {
	tx := s.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return ctx, translate(tx.Error)
	}
	s.counts.transactions.Add(1)
	ctx, _ = withTxTallies(ctx)
	return context.WithValue(ctx, txKey{}, tx), nil
}

// CommitTx commits the transaction BeginTx put in ctx, and then counts its
// OTP tallies.
func (s *Store) CommitTx(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	if !ok {
		return errNoTx
	}
	if err := tx.Commit().Error; err != nil {
		return translate(err)
	}
	if tallies, ok := ctx.Value(txTalliesKey{}).(*txTallies); ok {
		s.tallies.add(tallies.rows...)
	}
	return nil
}

// RollbackTx rolls back the transaction BeginTx put in ctx.
func (s *Store) RollbackTx(ctx context.Context) error {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	if !ok {
		return errNoTx
	}
	return translate(tx.Rollback().Error)
}
