package store

import (
	"context"
	"errors"
)

// row is a model whose primary key is a string ID.
type row[T any] interface {
	*T
	key() *string
}

func (r *Client) key() *string             { return &r.ID }
func (r *LoginRequest) key() *string       { return &r.ID }
func (r *Session) key() *string            { return &r.ID }
func (r *AdminUser) key() *string          { return &r.ID }
func (r *AdminLogin) key() *string         { return &r.ID }
func (r *APITransaction) key() *string     { return &r.ID }
func (r *InitialAccessToken) key() *string { return &r.ID }

// lockedUpdate is the read-modify-write behind every Update method: in one
// transaction it reads the row with id locked (SELECT ... FOR UPDATE on
// PostgreSQL; SQLite serialises writers), applies update, writes the row
// back and runs after (when not nil) with the row as it was and as it is
// now. Concurrent updates of one row are therefore serialised, and each
// sees the other's result.
//
// It returns ErrNotFound for an unknown id. update's error is returned
// unchanged and nothing is written, unless it is (or wraps) a *KeepChanges:
// then the changes are written and its Err is returned beside the row (a
// wrong OTP counts the try and still fails). update cannot change the ID.
func lockedUpdate[T any, P row[T]](ctx context.Context, s *Store, id string, update func(P) error, after func(ctx context.Context, before, now P) error) (P, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	out := P(new(T))
	var kept error
	err := s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		if err := tx.Clauses(forUpdate).Where("id = ?", id).Take(out).Error; err != nil {
			return translate(err)
		}
		before := P(new(T))
		*before = *out
		if err := update(out); err != nil {
			var k *KeepChanges
			if !errors.As(err, &k) {
				return err
			}
			kept = k.Err
		}
		*out.key() = id
		if err := translate(tx.Save(out).Error); err != nil {
			return err
		}
		if after != nil {
			return after(ctx, before, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, kept
}
