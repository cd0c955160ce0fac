package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Limit is one rate limit on OTP sends: at most Max events for Key since
// Since. Max 0 means no limit (the event is still recorded).
type Limit struct {
	Key   string
	Max   int
	Since time.Time
}

// LimitError is the error RecordOTPSend returns when a limit is reached;
// errors.Is(err, ErrLimited) holds for it. Key names the limit that refused
// (the first one in the caller's order), and RetryAt is the earliest time a
// send under that limit can succeed, if nothing else is recorded meanwhile:
// when enough of its window's events have aged out. Callers answer 429 with
// a Retry-After from it.
type LimitError struct {
	Key     string
	RetryAt time.Time
}

func (e *LimitError) Error() string { return "store: limit reached for " + e.Key }

// Is makes errors.Is(err, ErrLimited) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// RecordOTPSend records one event at `at` for every distinct key of limits
// (several limits may count one key over different windows) and then
// counts every window, in one statement (countWindows). When any count exceeds its Max, every event it
// recorded is removed again and a *LimitError returned. Inserting before
// counting means racing processes see each other's rows: under contention
// both may be refused, but the limit is never exceeded. Call it outside
// InTx: inside a transaction its rows stay invisible to other processes'
// counts until commit, and racing sends could then exceed the limit.
func (s *Store) RecordOTPSend(ctx context.Context, at time.Time, limits ...Limit) error {
	at = at.UTC()
	events := make([]OTPEvent, 0, len(limits))
	seen := make(map[string]bool, len(limits))
	for _, l := range limits {
		if !seen[l.Key] {
			seen[l.Key] = true
			events = append(events, OTPEvent{Key: l.Key, CreatedAt: at})
		}
	}
	if len(events) == 0 {
		return nil
	}
	db := s.conn(ctx)
	if err := db.Create(&events).Error; err != nil {
		return translate(err)
	}
	counts, err := s.countWindows(ctx, limits)
	if err != nil {
		return err
	}
	for i, l := range limits {
		if l.Max <= 0 || counts[i] <= int64(l.Max) {
			continue
		}
		ids := make([]int64, len(events))
		for j, e := range events {
			ids[j] = e.ID
		}
		if err := db.Where("id IN ?", ids).Delete(&OTPEvent{}).Error; err != nil {
			return translate(err)
		}
		return s.limitError(ctx, l, at.Sub(l.Since))
	}
	return nil
}

// countWindows counts the events in each limit's window (0 for a limit
// with Max 0, which is not counted), all in one statement: one scalar
// subquery per limit, each a range of otp_events_key_created_idx, so a
// key with many events outside a short window (a client's, an IP's) costs
// no more than its window holds. A send pays one round trip for its
// counts however many limits it has.
func (s *Store) countWindows(ctx context.Context, limits []Limit) ([]int64, error) {
	counts := make([]int64, len(limits))
	var q strings.Builder
	var args []any
	var dest []any
	for i, l := range limits {
		if l.Max <= 0 {
			continue
		}
		if len(dest) == 0 {
			q.WriteString("SELECT ")
		} else {
			q.WriteString(", ")
		}
		q.WriteString("(SELECT count(*) FROM otp_events WHERE key = ? AND created_at > ?)")
		args = append(args, l.Key, l.Since.UTC())
		dest = append(dest, &counts[i])
	}
	if len(dest) == 0 {
		return counts, nil
	}
	if err := s.conn(ctx).Raw(q.String(), args...).Row().Scan(dest...); err != nil {
		return nil, translate(err)
	}
	return counts, nil
}

// limitError finds when l frees up again. The window (length w) holds m
// events (ours removed), m >= Max; a send at T succeeds once fewer than Max
// remain after T-w, that is once the (m-Max)th oldest, counted from 0, has
// left: RetryAt = its time + w. Racing senders may move it; it is a hint.
func (s *Store) limitError(ctx context.Context, l Limit, w time.Duration) error {
	le := &LimitError{Key: l.Key, RetryAt: l.Since.Add(w).UTC()}
	db := s.conn(ctx)
	var m int64
	if err := db.Model(&OTPEvent{}).Where("key = ? AND created_at > ?", l.Key, l.Since.UTC()).Count(&m).Error; err != nil {
		return translate(err)
	}
	if m < int64(l.Max) {
		return le // another sender's events left meanwhile: try now
	}
	var e OTPEvent
	err := db.Where("key = ? AND created_at > ?", l.Key, l.Since.UTC()).
		Order("created_at, id").Offset(int(m - int64(l.Max))).Limit(1).Take(&e).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return le // the window emptied meanwhile
	case err != nil:
		return translate(err)
	}
	le.RetryAt = e.CreatedAt.Add(w).UTC()
	return le
}

// ForgetOTPSend removes the events RecordOTPSend recorded at `at` under
// keys, for a send that did not happen after all. Events of other sends
// stay.
func (s *Store) ForgetOTPSend(ctx context.Context, at time.Time, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return translate(s.conn(ctx).Where("key IN ? AND created_at = ?", keys, storedTime(at)).Delete(&OTPEvent{}).Error)
}

// CountOTPEvents counts events for key after since.
func (s *Store) CountOTPEvents(ctx context.Context, key string, since time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&OTPEvent{}).Where("key = ? AND created_at > ?", key, since.UTC()).Count(&n).Error
	return n, translate(err)
}
