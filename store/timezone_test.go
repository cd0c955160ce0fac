package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestTimeZones stores instants expressed in other zones than UTC. Each
// must read back as the same instant, and every comparison and ordering
// the store does in SQL must follow instants, not how they were written.
func TestTimeZones(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		ist, nyc := zone(t, "Asia/Kolkata"), zone(t, "America/New_York")
		in := func(loc *time.Location, d time.Duration) time.Time { return base.Add(d).In(loc) }

		t.Run("round trips", func(t *testing.T) {
			retired := in(ist, 2*time.Hour)
			must(t, s.CreateSigningKey(ctx, &store.SigningKey{KID: "k", Alg: "RS256", Ciphertext: []byte{1}, CreatedAt: in(ist, 0)}))
			must(t, s.RetireSigningKey(ctx, "k", retired))
			ks, err := s.ListSigningKeys(ctx)
			must(t, err)
			sameTime(t, "key CreatedAt", ks[0].CreatedAt, base)
			sameTime(t, "key RetiredAt", *ks[0].RetiredAt, retired)

			sent, auth := in(ist, time.Minute), in(nyc, 2*time.Minute)
			lr := newLoginRequest("lr", in(ist, time.Hour))
			lr.CreatedAt, lr.OTPSentAt, lr.AuthTime = in(nyc, 0), &sent, &auth
			must(t, s.CreateLoginRequest(ctx, lr))
			got, err := s.GetLoginRequest(ctx, "lr")
			must(t, err)
			sameTime(t, "login CreatedAt", got.CreatedAt, base)
			sameTime(t, "login ExpiresAt", got.ExpiresAt, base.Add(time.Hour))
			sameTime(t, "login OTPSentAt", *got.OTPSentAt, sent)
			sameTime(t, "login AuthTime", *got.AuthTime, auth)

			otpExpires := in(ist, 4*time.Minute)
			_, err = s.UpdateLoginRequest(ctx, "lr", func(r *store.LoginRequest) error {
				r.OTPExpiresAt = &otpExpires
				return nil
			})
			must(t, err)
			got, err = s.GetLoginRequest(ctx, "lr")
			must(t, err)
			sameTime(t, "login OTPExpiresAt", *got.OTPExpiresAt, otpExpires)

			tok := newToken(store.KindAccessToken, "tok", "r", "c")
			tok.RequestedAt, tok.ExpiresAt = in(ist, 0), in(nyc, time.Hour)
			must(t, s.CreateToken(ctx, tok))
			gt, err := s.GetToken(ctx, store.KindAccessToken, "tok")
			must(t, err)
			sameTime(t, "token RequestedAt", gt.RequestedAt, base)
			sameTime(t, "token ExpiresAt", gt.ExpiresAt, base.Add(time.Hour))
		})

		t.Run("sub-microsecond digits dropped alike", func(t *testing.T) {
			sess := &store.Session{ID: "ns", AuthTime: in(ist, 999), ExpiresAt: in(nyc, time.Minute+1)}
			must(t, s.CreateSession(ctx, sess))
			// The caller's struct holds what was stored.
			sameTime(t, "written AuthTime", sess.AuthTime, base)
			if sess.AuthTime.Location() != time.UTC {
				t.Errorf("written AuthTime in %v, want UTC", sess.AuthTime.Location())
			}
			got, err := s.GetSession(ctx, "ns", base)
			must(t, err)
			sameTime(t, "AuthTime", got.AuthTime, base)
			sameTime(t, "ExpiresAt", got.ExpiresAt, base.Add(time.Minute))
			must(t, s.DeleteSession(ctx, "ns"))
		})

		t.Run("session expiry", func(t *testing.T) {
			// Expires 10:15 UTC, written as 15:45 IST; looked up at 11:00 UTC.
			must(t, s.CreateSession(ctx, &store.Session{ID: "s", AuthTime: in(ist, 0), ExpiresAt: in(ist, 15*time.Minute)}))
			sess, err := s.GetSession(ctx, "s", in(nyc, 14*time.Minute))
			must(t, err)
			sameTime(t, "session AuthTime", sess.AuthTime, base)
			sameTime(t, "session ExpiresAt", sess.ExpiresAt, base.Add(15*time.Minute))
			_, err = s.GetSession(ctx, "s", base.Add(time.Hour))
			wantErr(t, "expired session", err, store.ErrNotFound)
			_, err = s.GetSession(ctx, "s", in(ist, 16*time.Minute))
			wantErr(t, "expired session, IST clock", err, store.ErrNotFound)
		})

		t.Run("key order", func(t *testing.T) {
			for kid, at := range map[string]time.Time{
				"utc-1h": base.Add(time.Hour), "ist-2h": in(ist, 2*time.Hour), "nyc-3h": in(nyc, 3*time.Hour),
			} {
				must(t, s.CreateSigningKey(ctx, &store.SigningKey{KID: kid, Alg: "ES256", Ciphertext: []byte{1}, CreatedAt: at}))
			}
			ks, err := s.ListSigningKeys(ctx)
			must(t, err)
			var kids []string
			for _, k := range ks {
				kids = append(kids, k.KID)
			}
			if got, want := strings.Join(kids, " "), "nyc-3h ist-2h utc-1h k"; got != want {
				t.Errorf("ListSigningKeys = %s, want %s", got, want)
			}
		})

		t.Run("disclosure filters", func(t *testing.T) {
			for id, at := range map[string]time.Time{
				"d-utc": base, "d-ist": in(ist, time.Hour), "d-nyc": in(nyc, 2*time.Hour),
			} {
				must(t, s.CreateDisclosure(ctx, &store.Disclosure{ID: id, ClientID: "tz", Channel: "authorize", CreatedAt: at}))
			}
			f := store.DisclosureFilter{ClientID: "tz"}
			if got := disclosureIDs(ctx, t, s, f); got != "d-nyc d-ist d-utc" {
				t.Errorf("newest first = %q", got)
			}
			f.Since, f.Until = in(nyc, 30*time.Minute), in(ist, 90*time.Minute)
			if got := disclosureIDs(ctx, t, s, f); got != "d-ist" {
				t.Errorf("window = %q, want d-ist", got)
			}
		})

		t.Run("cleanup", func(t *testing.T) {
			// Expired at 10:30 UTC (16:00 IST); live until 11:30 UTC (06:30 New York).
			// Login requests are deleted LoginRequestKeep after they expired.
			must(t, s.CreateLoginRequest(ctx, newLoginRequest("tz-old", in(ist, 30*time.Minute-store.LoginRequestKeep))))
			must(t, s.CreateLoginRequest(ctx, newLoginRequest("tz-live", in(nyc, 90*time.Minute))))
			must(t, s.RecordOTPSend(ctx, in(ist, -25*time.Hour), store.Limit{Key: "tz"}))
			must(t, s.RecordOTPSend(ctx, in(nyc, -23*time.Hour), store.Limit{Key: "tz"}))
			now := base.Add(time.Hour)
			res, err := s.DeleteExpired(ctx, now, 24*time.Hour)
			must(t, err)
			// lr (expires 11:00 UTC) is live too; so are the tokens and sessions.
			if want := (store.CleanupResult{LoginRequests: 1, Sessions: 1, OTPEvents: 1}); res != want {
				t.Errorf("DeleteExpired = %+v, want %+v", res, want)
			}
			if _, err := s.GetLoginRequest(ctx, "tz-live"); err != nil {
				t.Errorf("live request removed: %v", err)
			}
			if n, err := s.CountOTPEvents(ctx, "tz", in(ist, -48*time.Hour)); err != nil || n != 1 {
				t.Errorf("OTP events left %d, %v, want 1", n, err)
			}
		})
	})
}
