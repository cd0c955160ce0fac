package store

import (
	"context"
	"time"
)

// Limit is one rate limit on OTP sends: at most Max events for Key since
// Since. Max 0 means no limit (the event is still recorded).
type Limit struct {
	Key   string
	Max   int
	Since time.Time
}

// RecordOTPSend records one event at `at` for every limit's key and then
// counts each window. When any count exceeds its Max, every event it
// recorded is removed again and ErrLimited returned. Inserting before
// counting means racing processes see each other's rows: under contention
// both may be refused, but the limit is never exceeded. Call it outside
// InTx: inside a transaction its rows stay invisible to other processes'
// counts until commit, and racing sends could then exceed the limit.
func (s *Store) RecordOTPSend(ctx context.Context, at time.Time, limits ...Limit) error {
	at = at.UTC()
	events := make([]OTPEvent, len(limits))
	for i, l := range limits {
		events[i] = OTPEvent{Key: l.Key, CreatedAt: at}
	}
	if len(events) == 0 {
		return nil
	}
	db := s.conn(ctx)
	if err := db.Create(&events).Error; err != nil {
		return translate(err)
	}
	for _, l := range limits {
		if l.Max <= 0 {
			continue
		}
		var n int64
		if err := db.Model(&OTPEvent{}).Where("key = ? AND created_at > ?", l.Key, l.Since.UTC()).Count(&n).Error; err != nil {
			return translate(err)
		}
		if n > int64(l.Max) {
			ids := make([]int64, len(events))
			for i, e := range events {
				ids[i] = e.ID
			}
			if err := db.Where("id IN ?", ids).Delete(&OTPEvent{}).Error; err != nil {
				return translate(err)
			}
			return ErrLimited
		}
	}
	return nil
}

// CountOTPEvents counts events for key after since.
func (s *Store) CountOTPEvents(ctx context.Context, key string, since time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&OTPEvent{}).Where("key = ? AND created_at > ?", key, since.UTC()).Count(&n).Error
	return n, translate(err)
}
