package store

import (
	"context"
	"time"
)

// OTPChannel is where a one-time code was asked for, the key of OTPTally.
type OTPChannel string

// The channels that send codes: the browser sign-in, the KYC-VS compatible
// API and the admin console.
const (
	ChannelSignIn OTPChannel = "signin"
	ChannelAPI    OTPChannel = "kycvs-api"
	ChannelAdmin  OTPChannel = "admin"
)

// OTPTallyRetention is how long OTPTally rows are kept (DeleteExpired).
const OTPTallyRetention = 90 * 24 * time.Hour

// OTPTally counts what changes of OTPs' states did: codes sent, right
// codes accepted, wrong codes refused, codes locked out after too many
// wrong ones. Each time a login request, an API transaction or an admin
// sign-in changes its OTP, the store compares the row before and after
// the change and, once the change has committed, adds the difference to
// counts it keeps in memory (a rolled-back change counts nothing), so the
// counts are what was committed, whichever channel did it. Every few
// seconds (RunOTPTallies, FlushOTPTallies) it writes them, one row per
// channel, client and minute (OTPTallyBucket) in one INSERT, instead of a
// row per change inside each sign-in's transaction. Several processes each
// write their own rows, several rows may count one minute, and readers sum
// them (SumOTPTallies). The rows outlive the sign-ins themselves, which are
// deleted minutes after they expire. A process that dies without shutting
// down loses the counts of its last seconds.
type OTPTally struct {
	ID      int64 `gorm:"primaryKey;autoIncrement"`
	Channel OTPChannel
	// ClientID is the client of the sign-in or KYC-VS transaction; "" for
	// the admin console's own sign-ins.
	ClientID string
	Sent     int
	Accepted int
	Refused  int
	Locked   int
	// Declined: the person chose not to share (cancelled the sign-in or
	// answered "Don't share").
	Declined  int
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
	// declined: the person refused to share
	declined bool
}

// tallyOTP counts the difference between two steps of one row, if any:
//
//   - sent: SentAt moved forward (a new code). An SMS that then failed is
//     undone by putting the old SentAt back, which counts nothing.
//   - refused: the wrong-try counter went up.
//   - locked: the row went dead.
//   - accepted: the code was used up (hash cleared) by the row moving on
//     to its accepted state, for the same send.
//   - declined: the row moved to a refusal by the person.
//
// clientID is the client the row belongs to ("" for none). The count is
// stamped with the current minute and joins the store's pending tallies
// when ctx's transaction commits (at once outside a transaction).
func (s *Store) tallyOTP(ctx context.Context, channel OTPChannel, clientID string, before, after otpStep) {
	t := OTPTally{Channel: channel, ClientID: clientID}
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
	if after.declined && !before.declined {
		t.Declined = 1
	}
	if t == (OTPTally{Channel: channel, ClientID: clientID}) {
		return
	}
	t.CreatedAt = s.tallies.bucket()
	if tx, ok := ctx.Value(txTalliesKey{}).(*txTallies); ok {
		tx.rows = append(tx.rows, t)
		return
	}
	s.tallies.add(t)
}

func loginRequestStep(r *LoginRequest) otpStep {
	return otpStep{
		sentAt: r.OTPSentAt, tries: r.OTPTries, hash: len(r.OTPHash) > 0,
		done:     r.State == LoginVerified || r.State == LoginApproved || r.State == LoginUsed,
		dead:     r.State == LoginDead,
		declined: r.State == LoginDenied && r.DenyReason == DenyCancelled,
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
	Sent, Accepted, Refused, Locked, Declined int64
}

// SumOTPTallies returns the counts written in [since, until), per channel:
// the sums of every process's rows, each process's counts as of its last
// flush (FlushOTPTallies).
func (s *Store) SumOTPTallies(ctx context.Context, since, until time.Time) (map[OTPChannel]OTPTotals, error) {
	var rows []struct {
		Channel OTPChannel
		OTPTotals
	}
	err := s.conn(ctx).Model(&OTPTally{}).
		Select("channel, "+otpSums).
		Where("created_at >= ? AND created_at < ?", since.UTC(), until.UTC()).
		Group("channel").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[OTPChannel]OTPTotals, len(rows))
	for _, r := range rows {
		out[r.Channel] = r.OTPTotals
	}
	return out, nil
}

const otpSums = "SUM(sent) AS sent, SUM(accepted) AS accepted, SUM(refused) AS refused, SUM(locked) AS locked, SUM(declined) AS declined"

// SumOTPTalliesByClient returns the counts of the sign-in and KYC-VS
// channels written in [since, until), per client (as SumOTPTallies); the admin console's
// own sign-ins are left out.
func (s *Store) SumOTPTalliesByClient(ctx context.Context, since, until time.Time) (map[string]OTPTotals, error) {
	var rows []struct {
		ClientID string
		OTPTotals
	}
	err := s.conn(ctx).Model(&OTPTally{}).
		Select("client_id, "+otpSums).
		Where("created_at >= ? AND created_at < ? AND channel IN ?", since.UTC(), until.UTC(), []OTPChannel{ChannelSignIn, ChannelAPI}).
		Group("client_id").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]OTPTotals, len(rows))
	for _, r := range rows {
		out[r.ClientID] = r.OTPTotals
	}
	return out, nil
}
