package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestCountVerificationsByHour: verifications fall into the hours of the
// time zone asked for (India's are half an hour off UTC's), by status and
// client; userinfo re-reads and a request's second disclosure are not
// verifications; the window's ends hold.
func TestCountVerificationsByHour(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		// 10:00 IST on 1 March 2024 is 04:30 UTC.
		h10 := time.Date(2024, 3, 1, 10, 0, 0, 0, ist)
		two, one := 2, 1
		n := 0
		add := func(client string, channel store.DisclosureChannel, request string, status *int, at time.Time) {
			n++
			must(t, s.CreateDisclosure(ctx, &store.Disclosure{ID: fmt.Sprint("d", n), ClientID: client, BeneficiaryID: "B", Subject: "s",
				Channel: channel, RequestID: request, VaccinationStatus: status, CreatedAt: at}))
		}
		add("air", "authorize", "r1", &two, h10)                               // 10:00 IST
		add("air", "authorize", "r2", &two, h10.Add(59*time.Minute))           // still 10:00
		add("air", "userinfo", "r2", &two, h10.Add(59*time.Minute))            // a re-read
		add("rail", store.DisclosedByAPI, "r3", &one, h10.Add(31*time.Minute)) // 10:00: not 11:00, as UTC hours would have it
		add("rail", store.DisclosedByAPI, "r3", &one, h10.Add(32*time.Minute)) // the same transaction read again
		add("air", "authorize", "r4", nil, h10.Add(time.Hour))                 // 11:00, no status
		add("air", "authorize", "r5", &one, h10.Add(-time.Second))             // before the window
		add("air", "authorize", "r6", &one, h10.Add(2*time.Hour))              // at its end: out

		got, err := s.CountVerificationsByHour(ctx, h10, h10.Add(2*time.Hour), "", ist)
		must(t, err)
		type row struct {
			hour   string
			status string
			n      int64
		}
		label := func(p *int) string {
			if p == nil {
				return "none"
			}
			return fmt.Sprint(*p)
		}
		var rows []row
		for _, c := range got {
			rows = append(rows, row{c.Hour.In(ist).Format("15:04"), label(c.Status), c.N})
		}
		want := []row{{"10:00", "1", 1}, {"10:00", "2", 2}, {"11:00", "none", 1}}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Errorf("all clients: %v, want %v", rows, want)
		}
		got, err = s.CountVerificationsByHour(ctx, h10, h10.Add(2*time.Hour), "rail", ist)
		must(t, err)
		if len(got) != 1 || !got[0].Hour.Equal(h10) || got[0].N != 1 {
			t.Errorf("rail: %+v", got)
		}
	})
}

// TestSumOTPTalliesByClient: the funnel's counts per client, declines
// included; the admin console's sign-ins are nobody's client.
func TestSumOTPTalliesByClient(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		start := time.Now().Add(-time.Minute)
		sent := base.Add(time.Minute)
		for i, client := range []string{"air", "air", "rail"} {
			id := fmt.Sprint("lr", i)
			lr := newLoginRequest(id, base.Add(time.Hour))
			lr.ClientID = client
			must(t, s.CreateLoginRequest(ctx, lr))
			_, err := s.UpdateLoginRequest(ctx, id, func(r *store.LoginRequest) error {
				r.State, r.OTPHash, r.OTPSentAt = store.LoginOTPSent, []byte{1}, &sent
				return nil
			})
			must(t, err)
		}
		// air: one accepted; the other declined after a wrong try.
		_, err := s.UpdateLoginRequest(ctx, "lr0", func(r *store.LoginRequest) error {
			r.State, r.OTPHash = store.LoginVerified, nil
			return nil
		})
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error { r.OTPTries++; return nil })
		must(t, err)
		_, err = s.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error {
			r.State, r.DenyReason, r.OTPHash = store.LoginDenied, store.DenyCancelled, nil
			return nil
		})
		must(t, err)
		// rail: no record is not a decline.
		_, err = s.UpdateLoginRequest(ctx, "lr2", func(r *store.LoginRequest) error {
			r.State, r.DenyReason, r.OTPHash = store.LoginDenied, store.DenyNoRecord, nil
			return nil
		})
		must(t, err)
		must(t, s.CreateAdminLogin(ctx, &store.AdminLogin{ID: "l1", Mobile: "+919876543210", State: store.AdminLoginOTPSent,
			OTPHash: []byte{1}, OTPSentAt: &sent, ExpiresAt: base.Add(time.Hour)}))

		must(t, s.FlushOTPTallies(ctx))
		got, err := s.SumOTPTalliesByClient(ctx, start, time.Now().Add(time.Minute))
		must(t, err)
		want := map[string]store.OTPTotals{
			"air":  {Sent: 2, Accepted: 1, Refused: 1, Declined: 1},
			"rail": {Sent: 1},
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("by client: %+v, want %+v", got, want)
		}
	})
}
