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
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return nil, translate(err)
	}
	return &r, nil
}

// UpdateLoginRequest reads the request with its row locked, applies update
// and writes it back in one transaction, so concurrent updates of one
// challenge are serialised and each sees the other's result. update's error
// is returned unchanged and nothing is written, except when update returns
// a *KeepChanges (or an error wrapping one): then the changes are written
// and its Err returned, with the updated request (a wrong OTP must count the
// try and still fail). What the change did to the OTP is tallied in the
// same transaction (OTPTally).
func (s *Store) UpdateLoginRequest(ctx context.Context, id string, update func(*LoginRequest) error) (*LoginRequest, error) {
	return lockedUpdate(ctx, s, id, update, func(ctx context.Context, before, now *LoginRequest) error {
		return s.tallyOTP(ctx, ChannelSignIn, now.ClientID, loginRequestStep(before), loginRequestStep(now))
	})
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
		Update("state", LoginUsed)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrConflict
	}
	return nil
}
