package store

import (
	"context"
	"fmt"
	"time"
)

// CreateSigningKey inserts k; ErrAlreadyExists when the kid is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k *SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(k).Error)
}

// ListSigningKeys returns every key, newest first, retired ones included.
func (s *Store) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	var ks []SigningKey
	err := s.conn(ctx).Order("created_at DESC, kid").Find(&ks).Error
	return ks, translate(err)
}

// RetireSigningKey marks the key retired at `at`. It returns ErrNotFound
// when the kid is unknown and ErrConflict when the key is already retired
// (its first retirement time is kept).
func (s *Store) RetireSigningKey(ctx context.Context, kid string, at time.Time) error {
	if !wellFormedKey(kid) {
		return ErrNotFound
	}
	res := s.conn(ctx).Model(&SigningKey{}).Where("kid = ? AND retired_at IS NULL", kid).Update("retired_at", at.UTC())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := s.conn(ctx).Model(&SigningKey{}).Where("kid = ?", kid).Count(&n).Error; err != nil {
			return translate(err)
		}
		if n == 0 {
			return ErrNotFound
		}
		return ErrConflict
	}
	return nil
}

// UpdateSigningKeys reads every key of alg with the rows locked, lets
// update change them, and writes back those it changed, in one
// transaction, so two processes retiring and rotating at once do not lose
// each other's changes. update gets the keys newest first and may add a
// new one by returning it (nil for none); its error is returned unchanged
// and nothing written.
func (s *Store) UpdateSigningKeys(ctx context.Context, alg string, update func(keys []SigningKey) (*SigningKey, error)) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		var ks []SigningKey
		if err := tx.Clauses(forUpdate).Where("alg = ?", alg).Order("created_at DESC, kid").Find(&ks).Error; err != nil {
			return translate(err)
		}
		before := make([]SigningKey, len(ks))
		copy(before, ks)
		added, err := update(ks)
		if err != nil {
			return err
		}
		for i := range ks {
			if ks[i].KID != before[i].KID {
				return fmt.Errorf("store: UpdateSigningKeys: key %s was replaced", before[i].KID)
			}
			if sameTimePtr(ks[i].ActivatesAt, before[i].ActivatesAt) && sameTimePtr(ks[i].RetiredAt, before[i].RetiredAt) &&
				sameTimePtr(ks[i].PublishUntil, before[i].PublishUntil) {
				continue
			}
			err := tx.Model(&SigningKey{}).Where("kid = ?", ks[i].KID).Updates(map[string]any{
				"activates_at": ks[i].ActivatesAt, "retired_at": ks[i].RetiredAt, "publish_until": ks[i].PublishUntil,
			}).Error
			if err != nil {
				return translate(err)
			}
		}
		if added != nil {
			if added.CreatedAt.IsZero() {
				added.CreatedAt = time.Now().UTC()
			}
			return translate(tx.Create(added).Error)
		}
		return nil
	})
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
