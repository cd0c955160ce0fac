package store

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// States of a MeSession, one way:
//
//	otp_sent --(right OTP)--> (row deleted; a signed_in row is created under a new cookie)
//	    \--(OTPMaxTries wrong OTPs)--> dead
//	refused (a sign-in form refused, kept for its page; never changes)
//
// A row past ExpiresAt is over whatever its state.
const (
	MeOTPSent  = "otp_sent"
	MeDead     = "dead"
	MeSignedIn = "signed_in"
	MeRefused  = "refused"
)

// MeSession is a person's sign-in to their own page (/me): first waiting
// for the code sent to Mobile (MeOTPSent), then, under a new cookie, the
// short session the code started (MeSignedIn); or a sign-in form that
// was refused (MeRefused), kept for the page its answer redirects to.
// ID is the SHA-256 of the cookie value. The session knows the mobile
// only: the page shows every person registered under it.
type MeSession struct {
	ID    string `gorm:"primaryKey"`
	State string
	// Mobile is the E.164 number the code went to; in a refused row, what
	// was typed, to fill the form in again (it may be no mobile number).
	Mobile       string
	OTPHash      []byte `gorm:"column:otp_hash"`
	OTPSentAt    *time.Time
	OTPExpiresAt *time.Time
	OTPTries     int `gorm:"column:otp_tries"`
	// LimitedUntil is when the OTP send limit that refused a form ends;
	// nil when none did (migration 00021).
	LimitedUntil *time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// TableName keeps the table name explicit.
func (MeSession) TableName() string { return "me_sessions" }

func (r *MeSession) key() *string { return &r.ID }

// CreateMeSession inserts m; ErrAlreadyExists when the ID is taken.
func (s *Store) CreateMeSession(ctx context.Context, m *MeSession) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	return translate(s.conn(ctx).Create(m).Error)
}

// GetMeSession returns the row with id in state that has not expired at
// now, or ErrNotFound.
func (s *Store) GetMeSession(ctx context.Context, id, state string, now time.Time) (*MeSession, error) {
	if !wellFormedKey(id, state) {
		return nil, ErrNotFound
	}
	var m MeSession
	err := s.conn(ctx).Where("id = ? AND state = ? AND expires_at > ?", id, state, now.UTC()).Take(&m).Error
	if err != nil {
		return nil, translate(err)
	}
	return &m, nil
}

// UpdateMeSession is the locked read-modify-write of one row, with the
// KeepChanges semantics of UpdateLoginRequest (a wrong OTP counts the try
// and still fails).
func (s *Store) UpdateMeSession(ctx context.Context, id string, update func(*MeSession) error) (*MeSession, error) {
	return lockedUpdate(ctx, s, id, update, nil)
}

// DeleteMeSession removes a row; an unknown one is not an error.
func (s *Store) DeleteMeSession(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Where("id = ?", id).Delete(&MeSession{}).Error)
}

// RefreshGrant is a grant standing through a refresh token: the token
// and the person its authorization disclosed about.
type RefreshGrant struct {
	Token         OAuthToken
	BeneficiaryID string
	// GrantedAt is when the person approved the authorization.
	GrantedAt time.Time
}

// StandingRefreshTokens returns the refresh tokens still usable at now
// (active, not expired) of the grants whose authorization disclosed
// something about one of beneficiaryIDs, oldest first. A grant is tied to
// its person by its authorization's disclosure record: same request ID,
// client and subject (subjects are pairwise, so no other person's token
// matches). Rotation leaves one active token per grant. Oldest grant
// first. Both reads go
// through indexes: disclosures by beneficiary, tokens by request.
func (s *Store) StandingRefreshTokens(ctx context.Context, beneficiaryIDs []string, now time.Time) ([]RefreshGrant, error) {
	if len(beneficiaryIDs) == 0 || !wellFormedKey(beneficiaryIDs...) {
		return nil, nil
	}
	var ds []Disclosure
	err := s.conn(ctx).Select("request_id, client_id, subject, beneficiary_id, created_at").
		Where("beneficiary_id IN ? AND channel = ? AND request_id <> ''", beneficiaryIDs, DisclosedAtAuthorize).Find(&ds).Error
	if err != nil || len(ds) == 0 {
		return nil, translate(err)
	}
	byRequest := make(map[string]Disclosure, len(ds))
	requests := make([]string, 0, len(ds))
	for _, d := range ds {
		if _, ok := byRequest[d.RequestID]; !ok {
			requests = append(requests, d.RequestID)
		}
		byRequest[d.RequestID] = d
	}
	var out []RefreshGrant
	for len(requests) > 0 {
		// Bounded IN lists: SQLite allows 32766 parameters, PostgreSQL 65535.
		chunk := requests[:min(len(requests), 1000)]
		requests = requests[len(chunk):]
		var ts []OAuthToken
		err := s.conn(ctx).Where("kind = ? AND request_id IN ? AND active = ? AND expires_at > ?", KindRefreshToken, chunk, true, now.UTC()).
			Find(&ts).Error
		if err != nil {
			return nil, translate(err)
		}
		for _, t := range ts {
			if d := byRequest[t.RequestID]; d.ClientID == t.ClientID && d.Subject == t.Subject {
				out = append(out, RefreshGrant{Token: t, BeneficiaryID: d.BeneficiaryID, GrantedAt: d.CreatedAt})
			}
		}
	}
	slices.SortFunc(out, func(a, b RefreshGrant) int {
		return cmp.Or(a.GrantedAt.Compare(b.GrantedAt), cmp.Compare(a.Token.Signature, b.Token.Signature))
	})
	return out, nil
}

// LiveAPITransactions returns the KYC-VS API transactions verified for one
// of beneficiaryIDs whose status token is still valid at now, oldest
// first.
func (s *Store) LiveAPITransactions(ctx context.Context, beneficiaryIDs []string, now time.Time) ([]APITransaction, error) {
	if len(beneficiaryIDs) == 0 || !wellFormedKey(beneficiaryIDs...) {
		return nil, nil
	}
	var ts []APITransaction
	err := s.conn(ctx).Where("beneficiary_id IN ? AND state = ? AND expires_at > ?", beneficiaryIDs, TxnVerified, now.UTC()).
		Order("created_at, id").Find(&ts).Error
	return ts, translate(err)
}
