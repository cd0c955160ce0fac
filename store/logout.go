package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RecordRPSession notes that a client received a code in a browser
// session: it inserts the row, or, when the client signs in again in the
// same session, replaces its subject, person and expiry.
func (s *Store) RecordRPSession(ctx context.Context, r *RPSession) error {
	r.setCreated()
	return translate(s.conn(ctx).Clauses(rpSessionUpsert).Create(r).Error)
}

// rpSessionUpsert makes a second sign-in of the same browser session at
// the same client renew its row.
var rpSessionUpsert = clause.OnConflict{
	Columns:   []clause.Column{{Name: "sid"}, {Name: "client_id"}},
	DoUpdates: clause.AssignmentColumns([]string{"subject", "beneficiary_id", "expires_at"}),
}

// setCreated stamps a new row's CreatedAt, unless the caller did.
func (r *RPSession) setCreated() {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = time.Now().UTC()
	}
}

// RPSessionFilter picks the rp_sessions a logout ends: every set field
// must match. At least one of SID, ClientID, BeneficiaryID and Subject
// must be set.
type RPSessionFilter struct {
	SID           string
	ClientID      string
	BeneficiaryID string
	// Subject narrows to the person a client knows by this sub.
	Subject string
	// KeepStanding keeps the rows of clients that still hold a usable
	// refresh token for the row's subject (an offline_access grant),
	// though their deliveries are queued all the same: the end of a
	// browser session ends the relying party's session, not the grant
	// (Back-Channel Logout 1.0 2.7), so when the grant itself ends later
	// (withdrawn, its client disabled) the client is told again.
	KeepStanding bool
}

// errEmptyFilter refuses a filter that would end every session.
var errEmptyFilter = errors.New("store: an rp_sessions filter needs at least one field")

// EndRPSessions deletes the rp_sessions f matches (but those f.KeepStanding
// keeps) and queues, in the same transaction, a logout delivery for each
// of them (not expired at now)
// whose client has a backchannel_logout_uri, disabled or not: a client
// being disabled is told too. It returns the deliveries queued, due at
// now.
func (s *Store) EndRPSessions(ctx context.Context, f RPSessionFilter, now time.Time) ([]LogoutDelivery, error) {
	if f.SID == "" && f.ClientID == "" && f.BeneficiaryID == "" && f.Subject == "" {
		return nil, errEmptyFilter
	}
	if !wellFormedKey(f.SID, f.ClientID, f.BeneficiaryID, f.Subject) {
		return nil, nil
	}
	now = now.UTC()
	var queued []LogoutDelivery
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		var rows []RPSession
		q := db.Table("rp_sessions r").Select("r.*").
			Joins("JOIN clients c ON c.id = r.client_id").
			Where("c.backchannel_logout_uri <> '' AND r.expires_at > ?", now)
		if err := rpFilter(q, "r.", f).Order("r.client_id, r.sid").Find(&rows).Error; err != nil {
			return translate(err)
		}
		for _, r := range rows {
			queued = append(queued, LogoutDelivery{ClientID: r.ClientID, Subject: r.Subject, SID: r.SID, CreatedAt: now, NextAttemptAt: now})
		}
		if len(queued) > 0 {
			if err := db.Create(&queued).Error; err != nil {
				return translate(err)
			}
		}
		del := rpFilter(db, "", f)
		if f.KeepStanding {
			// Through oauth_tokens_grant_idx (client_id, subject).
			del = del.Where("NOT EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.client_id = rp_sessions.client_id AND t.subject = rp_sessions.subject"+
				" AND t.kind = ? AND t.active = ? AND t.expires_at > ?)", KindRefreshToken, true, now)
		}
		return translate(del.Delete(&RPSession{}).Error)
	})
	if err != nil {
		return nil, err
	}
	return queued, nil
}

// rpFilter adds f's conditions, on columns with prefix, to q.
func rpFilter(q *gorm.DB, prefix string, f RPSessionFilter) *gorm.DB {
	if f.SID != "" {
		q = q.Where(prefix+"sid = ?", f.SID)
	}
	if f.ClientID != "" {
		q = q.Where(prefix+"client_id = ?", f.ClientID)
	}
	if f.BeneficiaryID != "" {
		q = q.Where(prefix+"beneficiary_id = ?", f.BeneficiaryID)
	}
	if f.Subject != "" {
		q = q.Where(prefix+"subject = ?", f.Subject)
	}
	return q
}

// skipLocked reads rows FOR UPDATE SKIP LOCKED on PostgreSQL, so two
// processes claiming at once take different rows; SQLite drops the clause
// (its one writer at a time already serialises claims).
var skipLocked = clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}

// ClaimLogoutDeliveries takes up to n deliveries due at now, oldest first,
// and moves each one's next attempt to now+lease, in one transaction: no
// other process takes them before the lease ends, and if this process dies
// they become due again then. The caller deletes each delivered row
// (DeleteLogoutDelivery) or reschedules it (RetryLogoutDelivery) before
// the lease ends.
func (s *Store) ClaimLogoutDeliveries(ctx context.Context, now time.Time, lease time.Duration, n int) ([]LogoutDelivery, error) {
	now = now.UTC()
	var rows []LogoutDelivery
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		if err := db.Clauses(skipLocked).Where("next_attempt_at <= ?", now).
			Order("next_attempt_at, id").Limit(n).Find(&rows).Error; err != nil {
			return translate(err)
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]int64, len(rows))
		until := storedTime(now.Add(lease))
		for i := range rows {
			ids[i] = rows[i].ID
			rows[i].NextAttemptAt = until
		}
		return translate(db.Model(&LogoutDelivery{}).Where("id IN ?", ids).Update("next_attempt_at", until).Error)
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// DeleteLogoutDelivery removes a delivery that was delivered or dropped;
// a missing row is not an error.
func (s *Store) DeleteLogoutDelivery(ctx context.Context, id int64) error {
	return translate(s.conn(ctx).Where("id = ?", id).Delete(&LogoutDelivery{}).Error)
}

// RetryLogoutDelivery records a failed attempt: one more attempt, the
// reason, and when to try again.
func (s *Store) RetryLogoutDelivery(ctx context.Context, id int64, next time.Time, reason string) error {
	return translate(s.conn(ctx).Model(&LogoutDelivery{}).Where("id = ?", id).Updates(map[string]any{
		"attempts":        clause.Expr{SQL: "attempts + 1"},
		"next_attempt_at": storedTime(next),
		"last_error":      reason,
	}).Error)
}

// LogoutDeliveries returns every queued delivery, oldest first, for
// admins and tests.
func (s *Store) LogoutDeliveries(ctx context.Context) ([]LogoutDelivery, error) {
	var rows []LogoutDelivery
	err := s.conn(ctx).Order("id").Find(&rows).Error
	return rows, translate(err)
}

// DeactivateGrantTokens marks inactive every code, access token and
// refresh token of the client issued to the person it knows as subject:
// a withdrawn grant. It returns how many rows it changed.
func (s *Store) DeactivateGrantTokens(ctx context.Context, clientID, subject string) (int64, error) {
	if !wellFormedKey(clientID, subject) {
		return 0, nil
	}
	res := s.conn(ctx).Model(&OAuthToken{}).
		Where("client_id = ? AND subject = ? AND active = ? AND kind IN ?", clientID, subject, true,
			[]string{KindAuthorizeCode, KindAccessToken, KindRefreshToken}).
		Update("active", false)
	return res.RowsAffected, translate(res.Error)
}

// RemoveSessionGrants drops the client's grant from every live session of
// the beneficiary, so no session shares with it again silently.
func (s *Store) RemoveSessionGrants(ctx context.Context, beneficiaryID, clientID string, now time.Time) error {
	if !wellFormedKey(beneficiaryID, clientID) {
		return nil
	}
	return s.InTx(ctx, func(ctx context.Context) error {
		var ids []string
		if err := s.conn(ctx).Model(&Session{}).Where("beneficiary_id = ? AND expires_at > ?", beneficiaryID, now.UTC()).
			Pluck("id", &ids).Error; err != nil {
			return translate(err)
		}
		for _, id := range ids {
			if _, err := s.UpdateSession(ctx, id, func(sess *Session) error {
				delete(sess.Grants, clientID)
				return nil
			}); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// DeleteSessionsOf ends every browser session of the beneficiary and
// returns their IDs.
func (s *Store) DeleteSessionsOf(ctx context.Context, beneficiaryID string) ([]string, error) {
	if !wellFormedKey(beneficiaryID) {
		return nil, nil
	}
	var ids []string
	err := s.InTx(ctx, func(ctx context.Context) error {
		db := s.conn(ctx)
		if err := db.Model(&Session{}).Where("beneficiary_id = ?", beneficiaryID).Pluck("id", &ids).Error; err != nil {
			return translate(err)
		}
		return translate(db.Where("beneficiary_id = ?", beneficiaryID).Delete(&Session{}).Error)
	})
	return ids, err
}
