package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// OTPTallyBucket is the span one OTPTally row counts: a process adds up
// the counts of one channel and client within one minute of its clock and
// stamps them with the minute's start. Every time zone's hours and
// midnights fall on whole minutes, so the console's days and hours
// (--admin-time-zone, India's half hour included) cut no row in two; a
// window that begins at an arbitrary instant (the dashboard's last 30
// days) takes or leaves the counts of its first minute whole.
const OTPTallyBucket = time.Minute

// OTPTallyFlushInterval is how often RunOTPTallies writes the counts when
// it is given no interval of its own: the dashboard's OTP figures lag a
// process's codes by about this much.
const OTPTallyFlushInterval = 5 * time.Second

// MaxPendingOTPTallies caps the rows (channel, client, minute) a store
// keeps waiting for a flush, about 250 bytes each (25 MB at the cap). A
// flush the database refuses keeps its rows for the next one, so the rows
// pile up only while the database is away: a minute's codes make one row
// per channel and client. At the cap a count that would need a new row is
// dropped, and the next flush says how many were.
const MaxPendingOTPTallies = 100_000

// tallyRowsPerInsert is the most rows one INSERT writes: 8 columns each
// keep it under PostgreSQL's 65,535 parameters and SQLite's 32,766. Only
// a backlog left by failed flushes needs more than one.
const tallyRowsPerInsert = 1000

// tallyKey is what one OTPTally row counts: a channel, a client and the
// start of a minute (UTC).
type tallyKey struct {
	channel  OTPChannel
	clientID string
	at       time.Time
}

// pendingTallies are the OTP counts a store has made and not yet written.
type pendingTallies struct {
	now   func() time.Time
	limit int

	mu   sync.Mutex
	rows map[tallyKey]*OTPTally
	// dropped counts what did not fit under limit since the last flush.
	dropped int64

	// flushing lets one flush run at a time, so a failed flush has put its
	// rows back before the next one takes them.
	flushing sync.Mutex
}

func newPendingTallies() *pendingTallies {
	return &pendingTallies{now: time.Now, limit: MaxPendingOTPTallies, rows: map[tallyKey]*OTPTally{}}
}

// bucket is the start of the current minute by the tallies' clock, the
// time tallyOTP stamps.
func (p *pendingTallies) bucket() time.Time {
	return p.now().UTC().Truncate(OTPTallyBucket)
}

// add counts ts into their rows.
func (p *pendingTallies) add(ts ...OTPTally) {
	if len(ts) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range ts {
		p.addLocked(t)
	}
}

func (p *pendingTallies) addLocked(t OTPTally) {
	k := tallyKey{t.Channel, t.ClientID, t.CreatedAt}
	r := p.rows[k]
	if r == nil {
		if len(p.rows) >= p.limit {
			p.dropped += int64(t.Sent + t.Accepted + t.Refused + t.Locked + t.Declined)
			return
		}
		r = &OTPTally{Channel: t.Channel, ClientID: t.ClientID, CreatedAt: t.CreatedAt}
		p.rows[k] = r
	}
	r.Sent += t.Sent
	r.Accepted += t.Accepted
	r.Refused += t.Refused
	r.Locked += t.Locked
	r.Declined += t.Declined
}

// take empties the pending rows and returns them, oldest first, with the
// counts dropped since the last take.
func (p *pendingTallies) take() ([]OTPTally, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rows := make([]OTPTally, 0, len(p.rows))
	for _, r := range p.rows {
		rows = append(rows, *r)
	}
	dropped := p.dropped
	p.rows, p.dropped = map[tallyKey]*OTPTally{}, 0
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		if a.Channel != b.Channel {
			return a.Channel < b.Channel
		}
		return a.ClientID < b.ClientID
	})
	return rows, dropped
}

// putBack adds rows a flush could not write to what was counted since.
func (p *pendingTallies) putBack(rows []OTPTally) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range rows {
		r.ID = 0
		p.addLocked(r)
	}
}

// FlushOTPTallies writes the OTP tallies counted since the last flush, one
// row per channel, client and minute, in one multi-row INSERT (a backlog
// of more than tallyRowsPerInsert rows takes one per that many). It
// returns nil when there was nothing to write. When the database refuses,
// the rows not written are kept for the next flush and the error says
// how many; when counts were dropped at MaxPendingOTPTallies since the
// last flush, it writes the rest and returns an error saying so. Flushes
// run one at a time. RunOTPTallies calls it every few seconds; cmd/kycvs
// once more at shutdown, after the last request; tests before they read
// the tallies.
func (s *Store) FlushOTPTallies(ctx context.Context) error {
	p := s.tallies
	p.flushing.Lock()
	defer p.flushing.Unlock()
	rows, dropped := p.take()
	for len(rows) > 0 {
		n := min(len(rows), tallyRowsPerInsert)
		if err := s.db.WithContext(ctx).Create(rows[:n]).Error; err != nil {
			p.putBack(rows)
			return fmt.Errorf("store: %d OTP tally rows not written, kept for the next flush%s: %w", len(rows), droppedNote(dropped, p.limit), translate(err))
		}
		rows = rows[n:]
	}
	if dropped > 0 {
		return fmt.Errorf("store: OTP tallies written%s", droppedNote(dropped, p.limit))
	}
	return nil
}

func droppedNote(dropped int64, limit int) string {
	if dropped == 0 {
		return ""
	}
	return fmt.Sprintf("; %d counts dropped, more than %d rows waited for a flush", dropped, limit)
}

// RunOTPTallies calls FlushOTPTallies every interval (OTPTallyFlushInterval
// when interval is 0) until ctx ends, and hands report each error (a
// failed flush's counts wait for the next tick). It returns when ctx ends
// without flushing again: its owner does that after the last change that
// can count, as cmd/kycvs does at shutdown.
func (s *Store) RunOTPTallies(ctx context.Context, interval time.Duration, report func(error)) {
	if interval <= 0 {
		interval = OTPTallyFlushInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// A flush cut short by ctx's end is the owner's to finish.
			if err := s.FlushOTPTallies(ctx); err != nil && ctx.Err() == nil {
				report(err)
			}
		}
	}
}

// txTallies are the OTP tallies of one transaction, counted only once it
// commits: a rolled-back change counts nothing.
type txTallies struct{ rows []OTPTally }

type txTalliesKey struct{}

// withTxTallies returns ctx carrying a new, empty txTallies for the
// transaction about to begin.
func withTxTallies(ctx context.Context) (context.Context, *txTallies) {
	t := &txTallies{}
	return context.WithValue(ctx, txTalliesKey{}, t), t
}
