package store

import (
	"context"
	"time"
)

// AdminKey is a key for the admin API, sent as "Authorization: Bearer KEY".
// ID is the key's public part, a prefix of the key itself, safe to list and
// log; Hash is the keyed SHA-256 of the whole key, which is shown once and
// never stored. Role is one of the admin roles (see package admin).
type AdminKey struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	Role      string
	Hash      []byte
	CreatedAt time.Time
	// CreatedBy says who made it, e.g. "cli:root@host".
	CreatedBy string
	// LastUsedAt is updated at most once a minute.
	LastUsedAt *time.Time
	// RevokedAt is set once the key stops working; it is never cleared.
	RevokedAt *time.Time
}

// TableName keeps the table name explicit.
func (AdminKey) TableName() string { return "admin_keys" }

// AdminUser is a person who signs in to the admin console with an OTP sent
// to Mobile (E.164, unique).
type AdminUser struct {
	ID        string `gorm:"primaryKey"`
	Mobile    string
	Name      string
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// TOTPSecret is the second factor's shared secret, encrypted by the
	// caller (admin); nil when none is enrolled. Never marshalled.
	TOTPSecret []byte `gorm:"column:totp_secret" json:"-"`
	// TOTPLastStep is the last time step a TOTP code was accepted for: a
	// code of that step or before is a replay.
	TOTPLastStep int64 `gorm:"column:totp_last_step" json:"-"`
}

// TableName keeps the table name explicit.
func (AdminUser) TableName() string { return "admin_users" }

// Admin sign-in states, one way:
//
//	otp_sent --(right OTP)--> done
//	    |   \--(OTPMaxTries wrong OTPs)--> dead
//	    \--(right OTP, TOTP enrolled)--> totp --(right TOTP)--> done
//	                                        \--(wrong TOTPs)--> dead
//
// A sign-in past ExpiresAt is dead whatever its state.
const (
	AdminLoginOTPSent = "otp_sent"
	AdminLoginTOTP    = "totp"
	AdminLoginDone    = "done"
	AdminLoginDead    = "dead"
)

// AdminLogin is one console sign-in while its OTP is outstanding. UserID is
// "" when the mobile belongs to no admin: such a sign-in has no code, so
// every code is wrong, and the page looks the same (no enumeration).
type AdminLogin struct {
	ID           string `gorm:"primaryKey"`
	UserID       string
	Mobile       string
	State        string
	OTPHash      []byte `gorm:"column:otp_hash"`
	OTPSentAt    *time.Time
	OTPExpiresAt *time.Time
	OTPTries     int `gorm:"column:otp_tries"`
	TOTPTries    int `gorm:"column:totp_tries"`
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// TableName keeps the table name explicit.
func (AdminLogin) TableName() string { return "admin_logins" }

// AdminSession is a signed-in console browser. ID is the SHA-256 of the
// cookie value. A session ends at ExpiresAt, or earlier when it has been
// idle longer than the console's idle timeout (LastSeenAt).
type AdminSession struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	// RevealID and Reveal are a secret made on this session waiting to be
	// shown once (sealed by the console), under a random ID; "" and nil
	// when none waits (migration 00020).
	RevealID string
	Reveal   []byte
}

// TableName keeps the table name explicit.
func (AdminSession) TableName() string { return "admin_sessions" }

// CreateAdminKey inserts k; ErrAlreadyExists when the ID is taken.
func (s *Store) CreateAdminKey(ctx context.Context, k *AdminKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(k).Error)
}

// GetAdminKey returns the key with id, revoked or not, or ErrNotFound.
func (s *Store) GetAdminKey(ctx context.Context, id string) (*AdminKey, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var k AdminKey
	if err := s.conn(ctx).Where("id = ?", id).Take(&k).Error; err != nil {
		return nil, translate(err)
	}
	return &k, nil
}

// ListAdminKeys returns every admin key, revoked ones included, oldest first.
func (s *Store) ListAdminKeys(ctx context.Context) ([]AdminKey, error) {
	var ks []AdminKey
	err := s.conn(ctx).Order("created_at, id").Find(&ks).Error
	return ks, translate(err)
}

// RevokeAdminKey marks the key revoked at `at`: ErrNotFound for an unknown
// id, ErrConflict when it is already revoked (the first time is kept).
func (s *Store) RevokeAdminKey(ctx context.Context, id string, at time.Time) error {
	if !wellFormedKey(id) {
		return ErrNotFound
	}
	res := s.conn(ctx).Model(&AdminKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at.UTC())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetAdminKey(ctx, id); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}

// TouchAdminKey records that the key was used at `at`, unless it was
// already recorded as used after `after` (so a busy key costs one write a
// minute, not one a request). An unknown key is not an error.
func (s *Store) TouchAdminKey(ctx context.Context, id string, at, after time.Time) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Model(&AdminKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, after.UTC()).
		Update("last_used_at", at.UTC()).Error)
}

// CreateAdminUser inserts u: ErrAlreadyExists when the ID or the mobile is
// taken.
func (s *Store) CreateAdminUser(ctx context.Context, u *AdminUser) error {
	now := time.Now().UTC()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	u.UpdatedAt = u.CreatedAt
	return translate(s.conn(ctx).Create(u).Error)
}

// GetAdminUser returns the user with id, or ErrNotFound.
func (s *Store) GetAdminUser(ctx context.Context, id string) (*AdminUser, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var u AdminUser
	if err := s.conn(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// AdminUserByMobile returns the user registered under the E.164 mobile, or
// ErrNotFound.
func (s *Store) AdminUserByMobile(ctx context.Context, mobile string) (*AdminUser, error) {
	if !wellFormedKey(mobile) {
		return nil, ErrNotFound
	}
	var u AdminUser
	if err := s.conn(ctx).Where("mobile = ?", mobile).Take(&u).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// ListAdminUsers returns every admin user ordered by name.
func (s *Store) ListAdminUsers(ctx context.Context) ([]AdminUser, error) {
	var us []AdminUser
	err := s.conn(ctx).Order("name, id").Find(&us).Error
	return us, translate(err)
}

// UpdateAdminUser is the read-modify-write of one user, as UpdateClient.
func (s *Store) UpdateAdminUser(ctx context.Context, id string, update func(*AdminUser) error) (*AdminUser, error) {
	return lockedUpdate(ctx, s, id, update, nil)
}

// DeleteAdminUser removes the user and every console session of theirs:
// ErrNotFound for an unknown id.
func (s *Store) DeleteAdminUser(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return ErrNotFound
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		tx := s.conn(ctx)
		if err := tx.Where("user_id = ?", id).Delete(&AdminSession{}).Error; err != nil {
			return translate(err)
		}
		res := tx.Where("id = ?", id).Delete(&AdminUser{})
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// CreateAdminLogin inserts l; ErrAlreadyExists when the ID is taken. A
// sign-in created with a code counts as a code sent (see OTPTally).
func (s *Store) CreateAdminLogin(ctx context.Context, l *AdminLogin) error {
	if l.CreatedAt.IsZero() {
		l.CreatedAt = time.Now().UTC()
	}
	if err := translate(s.conn(ctx).Create(l).Error); err != nil {
		return err
	}
	s.tallyOTP(ctx, ChannelAdmin, "", otpStep{}, adminLoginStep(l))
	return nil
}

// GetAdminLogin returns the sign-in with id, or ErrNotFound. Expiry is the
// caller's policy.
func (s *Store) GetAdminLogin(ctx context.Context, id string) (*AdminLogin, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var l AdminLogin
	if err := s.conn(ctx).Where("id = ?", id).Take(&l).Error; err != nil {
		return nil, translate(err)
	}
	return &l, nil
}

// UpdateAdminLogin is the locked read-modify-write of one sign-in, with the
// KeepChanges semantics of UpdateLoginRequest (a wrong OTP counts the try
// and still fails).
func (s *Store) UpdateAdminLogin(ctx context.Context, id string, update func(*AdminLogin) error) (*AdminLogin, error) {
	return lockedUpdate(ctx, s, id, update, func(ctx context.Context, before, now *AdminLogin) error {
		s.tallyOTP(ctx, ChannelAdmin, "", adminLoginStep(before), adminLoginStep(now))
		return nil
	})
}

func adminLoginStep(l *AdminLogin) otpStep {
	return otpStep{
		sentAt: l.OTPSentAt, tries: l.OTPTries, hash: len(l.OTPHash) > 0,
		done: l.State == AdminLoginDone, dead: l.State == AdminLoginDead,
	}
}

// CreateAdminSession inserts a console session.
func (s *Store) CreateAdminSession(ctx context.Context, sess *AdminSession) error {
	if sess.CreatedAt.IsZero() {
		sess.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(sess).Error)
}

// GetAdminSession returns the session with id that has neither expired at
// now nor been idle since before idleSince, or ErrNotFound.
func (s *Store) GetAdminSession(ctx context.Context, id string, now, idleSince time.Time) (*AdminSession, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var sess AdminSession
	err := s.conn(ctx).Where("id = ? AND expires_at > ? AND last_seen_at > ?", id, now.UTC(), idleSince.UTC()).Take(&sess).Error
	if err != nil {
		return nil, translate(err)
	}
	return &sess, nil
}

// TouchAdminSession moves the session's LastSeenAt to `at` when it is
// before `after` (one write a minute for a busy session, not one a
// request). An unknown session is not an error.
func (s *Store) TouchAdminSession(ctx context.Context, id string, at, after time.Time) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Model(&AdminSession{}).
		Where("id = ? AND last_seen_at < ?", id, after.UTC()).
		Update("last_seen_at", at.UTC()).Error)
}

// SetAdminSessionReveal puts sealed on session id under revealID, in
// place of any reveal waiting there. ErrNotFound when there is no such
// session.
func (s *Store) SetAdminSessionReveal(ctx context.Context, id, revealID string, sealed []byte) error {
	if revealID == "" || !wellFormedKey(id, revealID) {
		return ErrNotFound
	}
	r := s.conn(ctx).Model(&AdminSession{}).Where("id = ?", id).
		Updates(map[string]any{"reveal_id": revealID, "reveal": sealed})
	if r.Error != nil {
		return translate(r.Error)
	}
	if r.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// TakeAdminSessionReveal returns the reveal waiting on session id under
// revealID and clears it, so it is returned once: of two racing callers
// one gets it and the other ErrNotFound, as does a revealID that is not
// the one waiting.
func (s *Store) TakeAdminSessionReveal(ctx context.Context, id, revealID string) ([]byte, error) {
	if revealID == "" || !wellFormedKey(id, revealID) {
		return nil, ErrNotFound
	}
	var sealed []byte
	err := s.InTx(ctx, func(ctx context.Context) error {
		var sess AdminSession
		db := s.conn(ctx)
		if err := db.Where("id = ? AND reveal_id = ?", id, revealID).Take(&sess).Error; err != nil {
			return translate(err)
		}
		r := db.Model(&AdminSession{}).Where("id = ? AND reveal_id = ?", id, revealID).
			Updates(map[string]any{"reveal_id": "", "reveal": nil})
		if r.Error != nil {
			return translate(r.Error)
		}
		if r.RowsAffected == 0 || len(sess.Reveal) == 0 {
			return ErrNotFound // taken meanwhile
		}
		sealed = sess.Reveal
		return nil
	})
	return sealed, err
}

// DeleteAdminSession ends a console session; an unknown one is not an error.
func (s *Store) DeleteAdminSession(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Where("id = ?", id).Delete(&AdminSession{}).Error)
}
