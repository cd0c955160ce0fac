package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// LookupSQL returns the SQL of the registry lookups sign-in, the resume,
// userinfo and /me make, as the store sends them (gorm in dry-run mode),
// for the EXPLAIN test: by mobile and name key, by mobile and by ID, each
// with the beneficiaries' doses.
func (s *Store) LookupSQL(mobile, nameKey, id string) map[string]string {
	var rows []beneficiaryDose
	lookup := func(where string, args ...any) string {
		return s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return tx.Raw(beneficiaryWithDoses+where, args...).Scan(&rows) })
	}
	return map[string]string{
		"by mobile and name key": lookup(byNameKey, mobile, nameKey),
		"by mobile":              lookup(byMobile, mobile),
		"by id":                  lookup(byID, id),
	}
}

// TokensSQL returns the SQL GetTokens sends for keys (gorm in dry-run
// mode), for the EXPLAIN test.
func (s *Store) TokensSQL(keys ...TokenKey) string {
	var rows []*OAuthToken
	return s.db.ToSQL(func(tx *gorm.DB) *gorm.DB { return tokensByKeys(tx, keys).Find(&rows) })
}

// SetTallyClock sets the clock tallyOTP stamps the OTP tallies' minutes by.
func (s *Store) SetTallyClock(now func() time.Time) { s.tallies.now = now }

// SetTallyLimit sets how many rows may wait for a flush
// (MaxPendingOTPTallies).
func (s *Store) SetTallyLimit(n int) { s.tallies.limit = n }

// PendingOTPTallies reports how many rows wait for a flush.
func (s *Store) PendingOTPTallies() int {
	s.tallies.mu.Lock()
	defer s.tallies.mu.Unlock()
	return len(s.tallies.rows)
}

// ReaderExec sends stmt through the connection reader gives ctx, for the
// test that a write sent there by mistake fails.
func (s *Store) ReaderExec(ctx context.Context, stmt string) error {
	return s.reader(ctx).Exec(stmt).Error
}
