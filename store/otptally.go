package store

import (
	"context"
	"time"
)

// Channels of OTPTally: the browser sign-in, the KYC-VS compatible API and
// the admin console.
const (
	ChannelSignIn = "signin"
	ChannelAPI    = "kycvs-api"
	ChannelAdmin  = "admin"
)

// OTPTallyRetention is how long OTPTally rows are kept (DeleteExpired).
const OTPTallyRetention = 90 * 24 * time.Hour

// OTPTally counts what one change of an OTP's state did: a code sent, a
// right code accepted, a wrong code refused, a code locked out after too
// many wrong ones. The store writes one row, in the same transaction, each
// time a login request, an API transaction or an admin sign-in changes its
// OTP (the repositories compare the row before and after the change), so
// the counts are exactly what was committed, whichever channel did it, and
// outlive the rows themselves, which are deleted minutes after they expire.
// Inserting rows instead of updating one counter keeps concurrent sign-ins
// from waiting on each other.
type OTPTally struct {
	ID        int64 `gorm:"primaryKey;autoIncrement"`
	Channel   string
	Sent      int
	Accepted  int
	Refused   int
	Locked    int
	CreatedAt time.Time
}

// TableName keeps the table name explicit.
func (OTPTally) TableName() string { return "otp_tallies" }

// otpStep is what the tally compares of a row before and after a change.
type otpStep struct {
	sentAt *time.Time
	tries  int
	hash   bool // a code is outstanding
	done   bool // the code was accepted and the row moved on
	dead   bool // locked out after too many wrong codes
}

// tallyOTP records the difference between two steps of one row, if any:
//
//   - sent: SentAt moved forward (a new code). An SMS that then failed is
//     undone by putting the old SentAt back, which counts nothing.
//   - refused: the wrong-try counter went up.
//   - locked: the row went dead.
//   - accepted: the code was used up (hash cleared) by the row moving on
//     to its accepted state, for the same send.
func (s *Store) tallyOTP(ctx context.Context, channel string, before, after otpStep) error {
	t := OTPTally{Channel: channel}
	if after.sentAt != nil && (before.sentAt == nil || after.sentAt.After(*before.sentAt)) {
		t.Sent = 1
	}
	sameSend := before.sentAt != nil && after.sentAt != nil && before.sentAt.Equal(*after.sentAt)
	if sameSend && after.tries > before.tries {
		t.Refused = after.tries - before.tries
	}
	if after.dead && !before.dead {
		t.Locked = 1
	}
	if sameSend && before.hash && !after.hash && after.done && !before.done {
		t.Accepted = 1
	}
	if t == (OTPTally{Channel: channel}) {
		return nil
	}
	t.CreatedAt = time.Now().UTC()
	return translate(s.conn(ctx).Create(&t).Error)
}

func loginRequestStep(r *LoginRequest) otpStep {
	return otpStep{
		sentAt: r.OTPSentAt, tries: r.OTPTries, hash: len(r.OTPHash) > 0,
		done: r.State == LoginVerified || r.State == LoginApproved || r.State == LoginUsed,
		dead: r.State == LoginDead,
	}
}

func apiTransactionStep(t *APITransaction) otpStep {
	return otpStep{
		sentAt: t.OTPSentAt, tries: t.OTPTries, hash: len(t.OTPHash) > 0,
		done: t.State == TxnVerified || t.State == TxnNoRecord,
		dead: t.State == TxnDead,
	}
}

// OTPTotals are summed OTPTally counts.
type OTPTotals struct {
	Sent, Accepted, Refused, Locked int64
}

// SumOTPTallies returns the counts recorded in [since, until), per channel.
func (s *Store) SumOTPTallies(ctx context.Context, since, until time.Time) (map[string]OTPTotals, error) {
	var rows []struct {
		Channel                         string
		Sent, Accepted, Refused, Locked int64
	}
	err := s.conn(ctx).Model(&OTPTally{}).
		Select("channel, SUM(sent) AS sent, SUM(accepted) AS accepted, SUM(refused) AS refused, SUM(locked) AS locked").
		Where("created_at >= ? AND created_at < ?", since.UTC(), until.UTC()).
		Group("channel").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]OTPTotals, len(rows))
	for _, r := range rows {
		out[r.Channel] = OTPTotals{Sent: r.Sent, Accepted: r.Accepted, Refused: r.Refused, Locked: r.Locked}
	}
	return out, nil
}
