package store

import (
	"context"
	"time"
)

// APIKey is a key a verifying entity sends in x-api-key to the KYC-VS
// compatible API. ID is the key's public part, a prefix of the key itself,
// safe to list and log; Hash is the keyed SHA-256 of the whole key, which
// is shown once and never stored. A key belongs to one client and goes with
// it when the client is deleted.
type APIKey struct {
	ID        string `gorm:"primaryKey"`
	ClientID  string
	Hash      []byte
	CreatedAt time.Time
	// RevokedAt is set once the key stops working; it is never cleared.
	RevokedAt *time.Time
}

// TableName keeps the table name explicit.
func (APIKey) TableName() string { return "api_keys" }

// States of an API transaction, a one-way state machine:
//
//	otp_sent --(right OTP, name matches)--> verified
//	    |  \--(right OTP, no record)------> no_record
//	    \--(OTPMaxTries wrong OTPs)-------> dead
//
// A transaction past ExpiresAt is dead whatever its state: ExpiresAt is the
// OTP's expiry while the OTP is outstanding, and the status token's once
// verified.
const (
	TxnOTPSent  = "otp_sent"
	TxnVerified = "verified"
	TxnNoRecord = "no_record"
	TxnDead     = "dead"
)

// APITransaction is one generateOTP of the KYC-VS compatible API and what
// follows it; ID is the txnId the verifying entity keeps. Every transition
// goes through Store.UpdateAPITransaction, so two confirmOTP calls racing on
// one transaction cannot both use its OTP.
type APITransaction struct {
	ID       string `gorm:"primaryKey"`
	ClientID string
	// APIKeyID is the key that started it; revoking the key ends it.
	APIKeyID string `gorm:"column:api_key_id"`
	State    string
	// Mobile (E.164) and Name are what generateOTP was given; they are
	// cleared once the registry has been asked.
	Mobile string
	Name   string
	// OTPHash is the keyed hash of the OTP (see otp.Service); nil once
	// used or dead.
	OTPHash      []byte `gorm:"column:otp_hash"`
	OTPSentAt    *time.Time
	OTPExpiresAt *time.Time
	OTPTries     int `gorm:"column:otp_tries"`
	// BeneficiaryID is the person mobile and name picked, once verified.
	BeneficiaryID string
	VerifiedAt    *time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// TableName keeps the table name explicit.
func (APITransaction) TableName() string { return "api_transactions" }

// CreateAPIKey inserts k for an existing client: ErrNotFound when the
// client is unknown, ErrAlreadyExists when the ID is taken.
func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.GetClient(ctx, k.ClientID); err != nil {
			return err
		}
		return translate(s.conn(ctx).Create(k).Error)
	})
}

// GetAPIKey returns the key with id, revoked or not, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*APIKey, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var k APIKey
	if err := s.conn(ctx).Where("id = ?", id).Take(&k).Error; err != nil {
		return nil, translate(err)
	}
	return &k, nil
}

// ListAPIKeys returns the keys of clientID, or of every client when
// clientID is "", revoked ones included, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, clientID string) ([]APIKey, error) {
	if !wellFormedKey(clientID) {
		return nil, nil
	}
	q := s.conn(ctx).Model(&APIKey{})
	if clientID != "" {
		q = q.Where("client_id = ?", clientID)
	}
	var ks []APIKey
	err := q.Order("client_id, created_at, id").Find(&ks).Error
	return ks, translate(err)
}

// RevokeAPIKey marks the key revoked at `at`. It returns ErrNotFound for an
// unknown id and ErrConflict when the key is already revoked (its first
// revocation time is kept).
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if !wellFormedKey(id) {
		return ErrNotFound
	}
	res := s.conn(ctx).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", at.UTC())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		if _, err := s.GetAPIKey(ctx, id); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}

// CreateAPITransaction inserts t; ErrAlreadyExists when the ID is taken.
// A transaction created with a code counts as a code sent (OTPTally).
func (s *Store) CreateAPITransaction(ctx context.Context, t *APITransaction) error {
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	if err := translate(s.conn(ctx).Create(t).Error); err != nil {
		return err
	}
	s.tallyOTP(ctx, ChannelAPI, t.ClientID, otpStep{}, apiTransactionStep(t))
	return nil
}

// GetAPITransaction returns the transaction with id, or ErrNotFound.
// Expiry is the caller's policy: the row is returned until clean-up
// removes it.
func (s *Store) GetAPITransaction(ctx context.Context, id string) (*APITransaction, error) {
	if !wellFormedKey(id) {
		return nil, ErrNotFound
	}
	var t APITransaction
	if err := s.conn(ctx).Where("id = ?", id).Take(&t).Error; err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// UpdateAPITransaction is the read-modify-write of one transaction, with
// the semantics of UpdateLoginRequest: the row is locked for update's
// whole run; update's error is returned unchanged and nothing written,
// unless it is (or wraps) a *KeepChanges, whose changes are written and
// whose Err is returned with the updated transaction (a wrong OTP counts
// the try and still fails).
func (s *Store) UpdateAPITransaction(ctx context.Context, id string, update func(*APITransaction) error) (*APITransaction, error) {
	return lockedUpdate(ctx, s, id, update, func(ctx context.Context, before, now *APITransaction) error {
		s.tallyOTP(ctx, ChannelAPI, now.ClientID, apiTransactionStep(before), apiTransactionStep(now))
		return nil
	})
}

// DeleteAPITransaction removes a transaction; an unknown one is not an
// error. generateOTP calls it when the SMS could not be sent.
func (s *Store) DeleteAPITransaction(ctx context.Context, id string) error {
	if !wellFormedKey(id) {
		return nil
	}
	return translate(s.conn(ctx).Where("id = ?", id).Delete(&APITransaction{}).Error)
}
