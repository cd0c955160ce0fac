package store

import (
	"context"
	"strings"
	"time"
)

// CreateClient inserts c. It returns ErrAlreadyExists when the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c *Client) error {
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	return translate(s.conn(ctx).Create(c).Error)
}

// GetClient returns the client with id, or ErrNotFound.
func (s *Store) GetClient(ctx context.Context, id string) (*Client, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var c Client
	if err := s.reader(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// ListClients returns every client ordered by name.
func (s *Store) ListClients(ctx context.Context) ([]Client, error) {
	var cs []Client
	err := s.conn(ctx).Order("name, id").Find(&cs).Error
	return cs, translate(err)
}

// PublicRedirectURIs returns the redirect URIs of every enabled public
// client, for the cross-origin rules of browser-facing endpoints (a
// preflight names no client).
func (s *Store) PublicRedirectURIs(ctx context.Context) ([]string, error) {
	var lists []StringList
	err := s.conn(ctx).Model(&Client{}).Where("public = ? AND disabled = ?", true, false).Pluck("redirect_uris", &lists).Error
	if err != nil {
		return nil, translate(err)
	}
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out, nil
}

// UpdateClient reads the client, applies update and writes it back in one
// transaction (read-modify-write). It returns ErrNotFound for an unknown id
// and update's own error unchanged, writing nothing.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(*Client) error) (*Client, error) {
	return lockedUpdate(ctx, s, id, update, nil)
}

// DeleteClient removes the client and every token issued to it. It returns
// ErrNotFound for an unknown id.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return ErrNotFound
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		res := tx.Where("id = ?", id).Delete(&Client{})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return translate(tx.Where("client_id = ?", id).Delete(&OAuthToken{}).Error)
	})
}

// ClientFilter selects a page of clients.
type ClientFilter struct {
	// Query matches a substring of the name or the ID, case-insensitively
	// (ASCII case only on SQLite).
	Query string
	// AfterName and AfterID continue a listing after that client (keyset
	// paging in ListClients' order).
	AfterName, AfterID string
	Limit              int // default 100, at most 1000
}

// SearchClients returns a page of matching clients ordered by name and ID,
// and whether more follow.
func (s *Store) SearchClients(ctx context.Context, f ClientFilter) ([]Client, bool, error) {
	if !wellFormedKey(f.Query, f.AfterName, f.AfterID) {
		return nil, false, nil // no stored client has an ill-formed name or ID
	}
	q := s.conn(ctx).Model(&Client{})
	if f.Query != "" {
		pat := "%" + escapeLike(strings.ToLower(f.Query)) + "%"
		q = q.Where("(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(id) LIKE ? ESCAPE '\\')", pat, pat)
	}
	if f.AfterID != "" {
		q = q.Where("(name > ? OR (name = ? AND id > ?))", f.AfterName, f.AfterName, f.AfterID)
	}
	limit := pageLimit(f.Limit)
	var cs []Client
	if err := q.Order("name, id").Limit(limit + 1).Find(&cs).Error; err != nil {
		return nil, false, translate(err)
	}
	more := len(cs) > limit
	if more {
		cs = cs[:limit]
	}
	return cs, more, nil
}
