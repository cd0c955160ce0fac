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
// wrong OTP counts the try and still fails). Inside an enclosing InTx the
// *KeepChanges itself is returned, so that handing it back to InTx keeps
// the changes there too. update cannot change the ID.
func lockedUpdate[T any, P row[T]](ctx context.Context, s *Store, id string, update func(P) error, after func(ctx context.Context, before, now P) error) (P, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	nested := inTx(ctx)
	out := P(new(T))
	err := s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		if err := tx.Clauses(forUpdate).Where("id = ?", id).Take(out).Error; err != nil {
			return translate(err)
		}
		before := P(new(T))
		*before = *out
		var kept *KeepChanges
		if err := update(out); err != nil && !errors.As(err, &kept) {
			return err
		}
		*out.key() = id
		if err := translate(tx.Save(out).Error); err != nil {
			return err
		}
		if after != nil {
			if err := after(ctx, before, out); err != nil {
				return err
			}
		}
		if kept != nil {
			return kept
		}
		return nil
	})
	var kept *KeepChanges
	switch {
	case err == nil:
		return out, nil
	case !errors.As(err, &kept):
		return nil, err
	case nested:
		return out, kept
	}
	return out, kept.Err
}
