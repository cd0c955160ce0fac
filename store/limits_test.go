package store_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestRecordOTPSend(t *testing.T) {
	const window = 24 * time.Hour
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		count := func(t *testing.T, key string, since time.Time) int64 {
			t.Helper()
			n, err := s.CountOTPEvents(ctx, key, since)
			must(t, err)
			return n
		}

		t.Run("exactly Max", func(t *testing.T) {
			for i := range 3 {
				at := base.Add(time.Duration(i) * time.Minute)
				must(t, s.RecordOTPSend(ctx, at, store.Limit{Key: "m:max", Max: 3, Since: at.Add(-window)}))
			}
			at := base.Add(10 * time.Minute)
			err := s.RecordOTPSend(ctx, at, store.Limit{Key: "m:max", Max: 3, Since: at.Add(-window)})
			wantErr(t, "Max+1", err, store.ErrLimited)
			if n := count(t, "m:max", base.Add(-window)); n != 3 {
				t.Errorf("%d events after a refused send, want 3", n)
			}
			// The window moves: the first send is outside it a day later.
			at = base.Add(window)
			must(t, s.RecordOTPSend(ctx, at, store.Limit{Key: "m:max", Max: 3, Since: at.Add(-window)}))
			wantErr(t, "full again", s.RecordOTPSend(ctx, at, store.Limit{Key: "m:max", Max: 3, Since: at.Add(-window)}), store.ErrLimited)
		})

		t.Run("a refusal by one limit records for none", func(t *testing.T) {
			send := func(at time.Time) error {
				return s.RecordOTPSend(ctx, at,
					store.Limit{Key: "m:two", Max: 5, Since: at.Add(-window)},
					store.Limit{Key: "ip:two", Max: 2, Since: at.Add(-5 * time.Minute)},
				)
			}
			must(t, send(base))
			must(t, send(base.Add(time.Second)))
			wantErr(t, "third send", send(base.Add(2*time.Second)), store.ErrLimited)
			if m, ip := count(t, "m:two", base.Add(-window)), count(t, "ip:two", base.Add(-window)); m != 2 || ip != 2 {
				t.Errorf("events mobile %d, ip %d, want 2 and 2", m, ip)
			}
			// After the IP window, only the mobile limit counts.
			must(t, send(base.Add(6*time.Minute)))
		})

		t.Run("Max 0 records without limit", func(t *testing.T) {
			for range 5 {
				must(t, s.RecordOTPSend(ctx, base, store.Limit{Key: "m:off", Since: base.Add(-window)}))
			}
			if n := count(t, "m:off", base.Add(-window)); n != 5 {
				t.Errorf("%d events, want 5", n)
			}
			must(t, s.RecordOTPSend(ctx, base))
		})

		// One insert for the events and one statement for every window's
		// count, however many limits a send has; a refusal adds its own.
		t.Run("two statements a send", func(t *testing.T) {
			at := base.Add(2 * time.Hour)
			limits := []store.Limit{
				{Key: "resend:st", Max: 1, Since: at.Add(-time.Minute)},
				{Key: "ip:st", Max: 10, Since: at.Add(-5 * time.Minute)},
				{Key: "mobile:st", Max: 5, Since: at.Add(-time.Hour)},
				{Key: "mobile:st", Max: 10, Since: at.Add(-window)},
				{Key: "client:st", Since: at.Add(-time.Minute)},
			}
			before, _ := s.Counts()
			must(t, s.RecordOTPSend(ctx, at, limits...))
			if after, _ := s.Counts(); after-before != 2 {
				t.Errorf("a send sent %d statements, want 2", after-before)
			}
		})

		t.Run("concurrent sends never exceed Max", func(t *testing.T) {
			const max, senders = 5, 20
			at := base.Add(time.Hour)
			lim := store.Limit{Key: "m:race", Max: max, Since: at.Add(-window)}
			var wg sync.WaitGroup
			errs := make(chan error, senders)
			for range senders {
				wg.Go(func() { errs <- s.RecordOTPSend(ctx, at, lim) })
			}
			wg.Wait()
			close(errs)
			ok := 0
			for err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, store.ErrLimited):
					t.Errorf("RecordOTPSend: %v", err)
				}
			}
			n := count(t, "m:race", lim.Since)
			if ok > max || n != int64(ok) {
				t.Errorf("%d sends allowed, %d recorded, want equal and at most %d", ok, n, max)
			}
			// Whatever the race refused, the window fills to exactly Max.
			for range max - ok {
				must(t, s.RecordOTPSend(ctx, at, lim))
			}
			wantErr(t, "send past Max", s.RecordOTPSend(ctx, at, lim), store.ErrLimited)
			if n := count(t, "m:race", lim.Since); n != max {
				t.Errorf("%d events, want %d", n, max)
			}
		})
	})
}
