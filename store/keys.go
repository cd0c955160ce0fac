package store

import (
	"context"
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
