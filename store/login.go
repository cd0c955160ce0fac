package store

import (
	"context"
	"time"
)

// CreateLoginRequest inserts r; ErrAlreadyExists when the ID is taken.
func (s *Store) CreateLoginRequest(ctx context.Context, r *LoginRequest) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(r).Error)
}

// GetLoginRequest returns the request with id, or ErrNotFound. Expiry is
// the caller's policy: the row is returned until cleanup removes it.
func (s *Store) GetLoginRequest(ctx context.Context, id string) (*LoginRequest, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var r LoginRequest
	if err := s.reader(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, translate(err)
	}
	return &r, nil
}

// GetLoginRequestForResume returns the login request id and, in the same
// statement, its client and the browser session sessionID when it is that
// request's session (LoginRequest.SessionID) and has not expired at now.
// The session is nil otherwise (another session, an unknown or expired
// one, or sessionID ""); the client is nil when it no longer exists (a
// second statement finds the request then). The resume needs all three:
// one round trip instead of three. ErrNotFound when there is no such
// request.
func (s *Store) GetLoginRequestForResume(ctx context.Context, id, sessionID string, now time.Time) (*LoginRequest, *Session, *Client, error) {
	if !wellFormedKey(id) {
		return nil, nil, nil, ErrNotFound
	}
	if !wellFormedKey(sessionID) {
		sessionID = "" // matches no session
	}
	cols, err := s.clientColumns()
	if err != nil {
		return nil, nil, nil, err
	}
	var row struct {
		LoginRequest `gorm:"embedded"`
		Sess         sessionColumns `gorm:"embedded;embeddedPrefix:sess_"`
		Client       Client         `gorm:"embedded;embeddedPrefix:client_row_"`
	}
	res := s.reader(ctx).Raw(`SELECT l.*, s.id AS sess_id, s.beneficiary_id AS sess_beneficiary_id, s.mobile AS sess_mobile,
			s.name AS sess_name, s.auth_time AS sess_auth_time, s.grants AS sess_grants,
			s.created_at AS sess_created_at, s.expires_at AS sess_expires_at, `+cols+`
		FROM login_requests l JOIN clients c ON c.id = l.client_id
		LEFT JOIN sessions s ON s.id = l.session_id AND s.id = ? AND s.expires_at > ?
		WHERE l.id = ?`, sessionID, now.UTC(), id).Scan(&row)
	if res.Error != nil {
		return nil, nil, nil, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		// No such request, or its client is gone: the request alone.
		lr, err := s.GetLoginRequest(ctx, id)
		return lr, nil, nil, err
	}
	lr, client := row.LoginRequest, row.Client
	if row.Sess.ID == nil {
		return &lr, nil, &client, nil
	}
	return &lr, row.Sess.session(), &client, nil
}

// sessionColumns is a Session read through a LEFT JOIN: every column may
// be NULL.
type sessionColumns struct {
	ID            *string
	BeneficiaryID *string
	Mobile        *string
	Name          *string
	AuthTime      *time.Time
	Grants        Grants
	CreatedAt     *time.Time
	ExpiresAt     *time.Time
}

func (c sessionColumns) session() *Session {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	derefTime := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	return &Session{ID: deref(c.ID), BeneficiaryID: deref(c.BeneficiaryID), Mobile: deref(c.Mobile), Name: deref(c.Name),
		AuthTime: derefTime(c.AuthTime), Grants: c.Grants, CreatedAt: derefTime(c.CreatedAt), ExpiresAt: derefTime(c.ExpiresAt)}
}

// UpdateLoginRequest reads the request with its row locked, applies update
// and writes it back in one transaction, so concurrent updates of one
// challenge are serialised and each sees the other's result. update's error
// is returned unchanged and nothing is written, except when update returns
// a *KeepChanges (or an error wrapping one): then the changes are written
// and its Err returned, with the updated request (a wrong OTP must count the
// try and still fail). What the change did to the OTP is tallied when the
// transaction commits (OTPTally).
func (s *Store) UpdateLoginRequest(ctx context.Context, id string, update func(*LoginRequest) error) (*LoginRequest, error) {
	return lockedUpdate(ctx, s, id, update, s.tallyLoginRequest)
}

// UpdateLoginRequestFrom is UpdateLoginRequest for a caller that has just
// read the request (read, as a Get method returned it, left unchanged).
// update runs on a copy of read, and its changes are written by one UPDATE
// that holds only while the row is still at read's Version: no
// transaction, and no second read. When someone wrote the row in between,
// or update refuses the copy or changes nothing, it is UpdateLoginRequest:
// the row is read again, locked, and update runs on that. update may so
// run twice, and must only change the row and its own variables.
func (s *Store) UpdateLoginRequestFrom(ctx context.Context, read *LoginRequest, update func(*LoginRequest) error) (*LoginRequest, error) {
	return versionedUpdate(ctx, s, read, update, nil, s.tallyLoginRequest)
}

// UpdateLoginRequestWith is UpdateLoginRequestFrom that, when update
// accepts the request (returns nil, not a *KeepChanges), writes the
// statements also gathers with it, all or none: the sign-in's session
// beside the approval. Nobody racing, that is one round trip for the
// statements and one for the COMMIT on PostgreSQL (WriteTogether), not a
// transaction around a locked read.
func (s *Store) UpdateLoginRequestWith(ctx context.Context, read *LoginRequest, update func(*LoginRequest) error, also func(w *Writes, now *LoginRequest)) (*LoginRequest, error) {
	return versionedUpdate(ctx, s, read, update, also, s.tallyLoginRequest)
}

// tallyLoginRequest tallies what a write did to the request's OTP
// (OTPTally), when its transaction commits.
func (s *Store) tallyLoginRequest(ctx context.Context, before, now *LoginRequest) error {
	s.tallyOTP(ctx, ChannelSignIn, now.ClientID, loginRequestStep(before), loginRequestStep(now))
	return nil
}

// KeepChanges, returned by an updater or by a function given to InTx,
// writes the changes and still reports Err to the caller (see InTx).
type KeepChanges struct{ Err error }

func (k *KeepChanges) Error() string {
	if k.Err == nil {
		return "store: keep changes"
	}
	return k.Err.Error()
}
func (k *KeepChanges) Unwrap() error { return k.Err }

// UseApprovedLoginRequest moves the request with id from approved to used
// in one conditional UPDATE, so the code is issued once per approval: when
// the request is not (or no longer) approved, or does not exist, it
// returns ErrConflict and changes nothing. oauth calls it in the
// transaction that issues the code, having read the request already;
// approved to used changes no OTP tally.
func (s *Store) UseApprovedLoginRequest(ctx context.Context, id string) error {
	res := s.conn(ctx).Model(&LoginRequest{}).
		Where("id = ? AND state = ?", id, LoginApproved).
		Updates(map[string]any{"state": LoginUsed, "version": nextVersion})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrConflict
	}
	return nil
}
