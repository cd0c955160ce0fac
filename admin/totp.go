package admin

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/kycvs/kycvs/store"
)

// The console's second factor is TOTP (RFC 6238) with the parameters
// every authenticator app reads from an otpauth:// URI: SHA-1, 6 digits,
// 30-second steps. A code of the step before or after is accepted too
// (phones' clocks drift); each step's code works once.
const (
	totpIssuer = "kycvs"
	totpPeriod = 30
	totpSkew   = 1
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Errors of a TOTP check at sign-in.
var (
	ErrTOTPWrong    = errors.New("admin: wrong authenticator code")
	ErrTOTPReplayed = errors.New("admin: authenticator code already used")
	// ErrNoTOTP: the admin has no authenticator enrolled.
	ErrNoTOTP = errors.New("admin: no authenticator enrolled")
)

// sealedBox seals secrets with AES-256-GCM under a key derived from the
// server secret, bound to an ID (the admin's for a TOTP secret: a sealed
// secret copied to another admin's row does not open).
type sealedBox struct{ aead cipher.AEAD }

func newSealedBox(key []byte) *sealedBox {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return &sealedBox{aead: aead}
}

func (b *sealedBox) seal(userID string, secret []byte) []byte {
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return b.aead.Seal(nonce, nonce, secret, []byte(userID))
}

func (b *sealedBox) open(userID string, sealed []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("admin: sealed secret too short")
	}
	return b.aead.Open(nil, sealed[:n], sealed[n:], []byte(userID))
}

// TOTPEnrollment is what an admin scans or types into an authenticator
// app, shown once.
type TOTPEnrollment struct {
	User   *store.AdminUser
	URI    string // otpauth://totp/...
	Secret string // base32, for typing
}

// EnrollTOTP gives the console user named by ID or mobile a new TOTP
// secret, replacing any earlier one, and returns it to be shown once.
func (s *Service) EnrollTOTP(ctx context.Context, a Actor, who string) (*TOTPEnrollment, error) {
	var out *TOTPEnrollment
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		u, err := s.findAdminUser(ctx, who)
		if err != nil {
			return err
		}
		key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Name, Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return fmt.Errorf("admin: TOTP secret: %w", err)
		}
		replaced := len(u.TOTPSecret) > 0
		u, err = s.st.UpdateAdminUser(ctx, u.ID, func(u *store.AdminUser) error {
			u.TOTPSecret, u.TOTPLastStep = s.totp.seal(u.ID, []byte(key.Secret())), 0
			return nil
		})
		if err != nil {
			return err
		}
		out = &TOTPEnrollment{User: u, URI: key.URL(), Secret: key.Secret()}
		return s.audit(ctx, a, "admin_user.totp_enroll", "admin_user", u.ID, map[string]any{"replaced": replaced})
	})
	return out, err
}

// RemoveTOTP removes the console user's authenticator: an owner then
// cannot sign in until one is enrolled again. ErrNoTOTP when none is.
func (s *Service) RemoveTOTP(ctx context.Context, a Actor, who string) error {
	return s.st.InTx(ctx, func(ctx context.Context) error {
		u, err := s.findAdminUser(ctx, who)
		if err != nil {
			return err
		}
		if len(u.TOTPSecret) == 0 {
			return ErrNoTOTP
		}
		if _, err := s.st.UpdateAdminUser(ctx, u.ID, func(u *store.AdminUser) error {
			u.TOTPSecret, u.TOTPLastStep = nil, 0
			return nil
		}); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_user.totp_remove", "admin_user", u.ID, nil)
	})
}

// checkTOTP checks code against the user's authenticator at now, and
// records its step so it cannot be used again: ErrTOTPWrong,
// ErrTOTPReplayed, ErrNoTOTP, or a store error.
func (s *Service) checkTOTP(ctx context.Context, userID, code string, now time.Time) error {
	_, err := s.st.UpdateAdminUser(ctx, userID, func(u *store.AdminUser) error {
		if len(u.TOTPSecret) == 0 {
			return ErrNoTOTP
		}
		secret, err := s.totp.open(u.ID, u.TOTPSecret)
		if err != nil {
			return err
		}
		step := now.Unix() / totpPeriod
		matched := int64(-1)
		// Every candidate is computed and compared, so the time taken does
		// not say which one matched.
		for d := int64(-totpSkew); d <= totpSkew; d++ {
			want, err := totp.GenerateCodeCustom(string(secret), time.Unix((step+d)*totpPeriod, 0), totpOpts)
			if err != nil {
				return err
			}
			if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
				matched = step + d
			}
		}
		switch {
		case matched < 0:
			return ErrTOTPWrong
		case matched <= u.TOTPLastStep:
			return ErrTOTPReplayed
		}
		u.TOTPLastStep = matched
		return nil
	})
	return err
}
