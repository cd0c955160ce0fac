package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestRecordOTPSendWindows: two limits on one key (per mobile: an hour and
// a day) count the same events; a send records one event, not one per
// window, and the refusing window says when it frees up.
func TestRecordOTPSendWindows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		send := func(at time.Time) error {
			return s.RecordOTPSend(ctx, at,
				store.Limit{Key: "mobile:w", Max: 2, Since: at.Add(-time.Hour)},
				store.Limit{Key: "mobile:w", Max: 3, Since: at.Add(-24 * time.Hour)},
			)
		}
		must(t, send(base))
		must(t, send(base.Add(time.Minute)))
		if n, err := s.CountOTPEvents(ctx, "mobile:w", base.Add(-time.Hour)); err != nil || n != 2 {
			t.Fatalf("events after two sends: %d, %v; want 2", n, err)
		}
		err := send(base.Add(2 * time.Minute))
		var le *store.LimitError
		if !errors.As(err, &le) || !le.RetryAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("third send in the hour: %v, want a refusal until %s", err, base.Add(time.Hour))
		}
		// The hour has passed; the day allows one more, then refuses until
		// the first send is a day old.
		must(t, send(base.Add(time.Hour+time.Second)))
		err = send(base.Add(2 * time.Hour))
		if !errors.As(err, &le) || !le.RetryAt.Equal(base.Add(24*time.Hour)) {
			t.Fatalf("fourth send in the day: %v, want a refusal until %s", err, base.Add(24*time.Hour))
		}
	})
}
