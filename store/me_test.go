package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The grants /me lists: a refresh token counts for a person only through
// its authorization's disclosure record (same request, client and
// subject), only while active and unexpired; another person's, another
// client's under the same request ID, and a token whose subject differs
// are not theirs.
func TestStandingRefreshTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		disclose := func(id, client, beneficiary, subject, channel, request string, at time.Duration) {
			must(t, s.CreateDisclosure(ctx, &store.Disclosure{
				ID: id, ClientID: client, BeneficiaryID: beneficiary, Subject: subject,
				Channel: store.DisclosureChannel(channel), RequestID: request, CreatedAt: base.Add(at),
			}))
		}
		token := func(sig, request, client, subject string, active bool, expires time.Duration) {
			tk := newToken(store.KindRefreshToken, sig, request, client)
			tk.Subject, tk.Active, tk.ExpiresAt = subject, active, base.Add(expires)
			must(t, s.CreateToken(ctx, tk))
		}
		disclose("d1", "c1", "b1", "s1", "authorize", "r1", 2*time.Minute)
		token("t1-old", "r1", "c1", "s1", false, time.Hour) // rotated
		token("t1", "r1", "c1", "s1", true, time.Hour)
		disclose("d2", "c2", "b1", "s2", "authorize", "r2", time.Minute)
		token("t2", "r2", "c2", "s2", true, time.Hour)
		disclose("d3", "c1", "b1", "s1", "authorize", "r3", 3*time.Minute)
		token("t3", "r3", "c1", "s1", true, -time.Minute) // expired
		disclose("d4", "c1", "b2", "s4", "authorize", "r4", 0)
		token("t4", "r4", "c1", "s4", true, time.Hour) // another person's
		disclose("d5", "c1", "b1", "s1", "authorize", "r5", 0)
		token("t5", "r5", "c9", "s1", true, time.Hour) // another client under the request ID
		token("t6", "r5", "c1", "other", true, time.Hour)
		disclose("d6", "c1", "b1", "s1", "userinfo", "r6", 0)
		token("t7", "r6", "c1", "s1", true, time.Hour) // no authorization disclosure

		got, err := s.StandingRefreshTokens(ctx, []string{"b1"}, base)
		must(t, err)
		var sigs []string
		for _, g := range got {
			sigs = append(sigs, g.Token.Signature+"/"+g.BeneficiaryID)
		}
		if strings.Join(sigs, " ") != "t2/b1 t1/b1" {
			t.Fatalf("StandingRefreshTokens(b1) = %v, want t2 (granted first) then t1", sigs)
		}
		sameTime(t, "GrantedAt", got[0].GrantedAt, base.Add(time.Minute))
		got, err = s.StandingRefreshTokens(ctx, []string{"b1", "b2"}, base)
		must(t, err)
		if len(got) != 3 {
			t.Errorf("b1 and b2: %d grants, want 3", len(got))
		}
		for _, ids := range [][]string{nil, {"nobody"}, {"b\x00"}} {
			if got, err := s.StandingRefreshTokens(ctx, ids, base); err != nil || len(got) != 0 {
				t.Errorf("StandingRefreshTokens(%q) = %v, %v", ids, got, err)
			}
		}
	})
}

func TestLiveAPITransactions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateClient(ctx, &store.Client{ID: "c1", Name: "C1", CreatedAt: base, UpdatedAt: base}))
		must(t, s.CreateAPIKey(ctx, &store.APIKey{ID: "k1", ClientID: "c1", Hash: []byte("h"), CreatedAt: base}))
		txn := func(id, beneficiary, state string, expires time.Duration) {
			must(t, s.CreateAPITransaction(ctx, &store.APITransaction{
				ID: id, ClientID: "c1", APIKeyID: "k1", State: state, BeneficiaryID: beneficiary,
				CreatedAt: base, ExpiresAt: base.Add(expires),
			}))
		}
		txn("a1", "b1", store.TxnVerified, time.Hour)
		txn("a2", "b1", store.TxnVerified, -time.Second)
		txn("a3", "b1", store.TxnOTPSent, time.Hour)
		txn("a4", "b2", store.TxnVerified, time.Hour)
		got, err := s.LiveAPITransactions(ctx, []string{"b1"}, base)
		must(t, err)
		if len(got) != 1 || got[0].ID != "a1" {
			t.Fatalf("LiveAPITransactions(b1) = %+v", got)
		}
		if got, err := s.LiveAPITransactions(ctx, nil, base); err != nil || len(got) != 0 {
			t.Errorf("no one: %v %v", got, err)
		}
	})
}

// A /me row is found only in its state and before its expiry; the clean-up
// deletes it after.
func TestMeSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateMeSession(ctx, &store.MeSession{ID: "m1", State: store.MeSignedIn, Mobile: "+919999900001", CreatedAt: base, ExpiresAt: base.Add(15 * time.Minute)}))
		if _, err := s.GetMeSession(ctx, "m1", store.MeSignedIn, base.Add(15*time.Minute-time.Second)); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		for name, get := range map[string]func() error{
			"at expiry": func() error {
				_, err := s.GetMeSession(ctx, "m1", store.MeSignedIn, base.Add(15*time.Minute))
				return err
			},
			"another state": func() error { _, err := s.GetMeSession(ctx, "m1", store.MeOTPSent, base); return err },
			"unknown":       func() error { _, err := s.GetMeSession(ctx, "nope", store.MeSignedIn, base); return err },
		} {
			if err := get(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
		kept := errors.New("wrong")
		m, err := s.UpdateMeSession(ctx, "m1", func(m *store.MeSession) error {
			m.OTPTries++
			return &store.KeepChanges{Err: kept}
		})
		if !errors.Is(err, kept) || m.OTPTries != 1 {
			t.Errorf("UpdateMeSession kept: %v %+v", err, m)
		}
		// A refused form keeps what was typed and the limit's end, in any
		// time zone.
		until := base.Add(90 * time.Second).In(time.FixedZone("IST", 19800))
		must(t, s.CreateMeSession(ctx, &store.MeSession{ID: "m2", State: store.MeRefused, Mobile: "99999 0000x", LimitedUntil: &until, CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute)}))
		r, err := s.GetMeSession(ctx, "m2", store.MeRefused, base)
		if err != nil || r.Mobile != "99999 0000x" || r.LimitedUntil == nil || !r.LimitedUntil.Equal(until) {
			t.Errorf("refused form: %v %+v", err, r)
		}
		res, err := s.DeleteExpired(ctx, base.Add(16*time.Minute), time.Hour)
		must(t, err)
		if res.MeSessions != 2 {
			t.Errorf("DeleteExpired: %+v", res)
		}
		must(t, s.DeleteMeSession(ctx, "m1")) // gone already: not an error
	})
}
