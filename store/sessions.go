package store

import (
	"context"
	"time"
)

// CreateSession inserts a browser session.
func (s *Store) CreateSession(ctx context.Context, sess *Session) error {
	sess.setCreated()
	return translate(s.conn(ctx).Create(sess).Error)
}

// setCreated stamps a new session's CreatedAt, unless the caller did.
func (sess *Session) setCreated() {
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = time.Now().UTC()
	}
}

// GetSession returns the session with id that has not expired at now, or
// ErrNotFound.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (*Session, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var sess Session
	err := s.reader(ctx).Where("id = ? AND expires_at > ?", id, now.UTC()).Take(&sess).Error
	if err != nil {
		return nil, translate(err)
	}
	return &sess, nil
}

// UpdateSession is the read-modify-write for a session, as UpdateClient.
func (s *Store) UpdateSession(ctx context.Context, id string, update func(*Session) error) (*Session, error) {
	return lockedUpdate(ctx, s, id, update, nil)
}

// DeleteSession ends a session; deleting an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Where("id = ?", id).Delete(&Session{}).Error)
}
