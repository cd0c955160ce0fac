package store

import (
	"context"
	"time"
)

// InitialAccessToken lets a verifying entity register itself as a client
// (RFC 7591 3). ID is the token's public part, a prefix of the token
// itself, safe to list and log; Hash is the keyed SHA-256 of the whole
// token, which is shown once and never stored. It registers at most
// MaxUses clients until ExpiresAt.
type InitialAccessToken struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Hash      []byte
	MaxUses   int
	Uses      int
	ExpiresAt time.Time
	CreatedAt time.Time
	// CreatedBy says who issued it, e.g. "cli:root@host".
	CreatedBy  string
	LastUsedAt *time.Time
	// RevokedAt is set once the token stops working; it is never cleared.
	RevokedAt *time.Time
}

// TableName keeps the table name explicit.
func (InitialAccessToken) TableName() string { return "initial_access_tokens" }

// Usable reports whether the token may register one more client at now:
// not revoked, not expired, not used up.
func (t *InitialAccessToken) Usable(now time.Time) bool {
	return t.RevokedAt == nil && now.Before(t.ExpiresAt) && t.Uses < t.MaxUses
}

// CreateInitialAccessToken inserts t; ErrAlreadyExists when the ID is
// taken.
func (s *Store) CreateInitialAccessToken(ctx context.Context, t *InitialAccessToken) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(t).Error)
}

// GetInitialAccessToken returns the token with id, whatever its state, or
// ErrNotFound.
func (s *Store) GetInitialAccessToken(ctx context.Context, id string) (*InitialAccessToken, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var t InitialAccessToken
	if err := s.conn(ctx).Where("id = ?", id).Take(&t).Error; err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// ListInitialAccessTokens returns every initial access token, used up,
// expired and revoked ones included, newest first.
func (s *Store) ListInitialAccessTokens(ctx context.Context) ([]InitialAccessToken, error) {
	var ts []InitialAccessToken
	err := s.conn(ctx).Order("created_at DESC, id").Find(&ts).Error
	return ts, translate(err)
}

// UpdateInitialAccessToken reads the token, applies update and writes it
// back in one transaction, the row locked, so two registrations racing on
// a single-use token cannot both use it. ErrNotFound for an unknown id;
// update's own error unchanged, writing nothing.
func (s *Store) UpdateInitialAccessToken(ctx context.Context, id string, update func(*InitialAccessToken) error) (*InitialAccessToken, error) {
	return lockedUpdate(ctx, s, id, update, nil)
}

// RevokeInitialAccessToken marks the token revoked at `at`: ErrNotFound
// for an unknown id, ErrConflict when it is already revoked (the first
// time is kept).
func (s *Store) RevokeInitialAccessToken(ctx context.Context, id string, at time.Time) error {
	if !wellFormedKey(id) {
		return ErrNotFound
	}
	res := s.conn(ctx).Model(&InitialAccessToken{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at.UTC())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetInitialAccessToken(ctx, id); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}
