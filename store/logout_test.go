package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/migrations"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// logoutFixture registers two clients, one with a backchannel_logout_uri,
// and three sign-ins: the person p1 at both clients in session s1, and p2
// at the notified client in s2.
func logoutFixture(t *testing.T, s *store.Store) {
	ctx := testCtx(t)
	bc := newClient("bc", "Told Air")
	bc.BackchannelLogoutURI = "https://bc.example/logout"
	must(t, s.CreateClient(ctx, bc))
	must(t, s.CreateClient(ctx, newClient("quiet", "Quiet Rail")))
	for _, r := range []store.RPSession{
		{SID: "s1", ClientID: "bc", Subject: "sub-bc-p1", BeneficiaryID: "p1"},
		{SID: "s1", ClientID: "quiet", Subject: "sub-q-p1", BeneficiaryID: "p1"},
		{SID: "s2", ClientID: "bc", Subject: "sub-bc-p2", BeneficiaryID: "p2"},
	} {
		r.CreatedAt, r.ExpiresAt = base, base.Add(time.Hour)
		must(t, s.RecordRPSession(ctx, &r))
	}
}

func TestEndRPSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		logoutFixture(t, s)
		// The same client signing in again in the same session is one row.
		again := store.RPSession{SID: "s1", ClientID: "bc", Subject: "sub-bc-p1", BeneficiaryID: "p1", CreatedAt: base, ExpiresAt: base.Add(2 * time.Hour)}
		must(t, s.RecordRPSession(ctx, &again))

		if _, err := s.EndRPSessions(ctx, store.RPSessionFilter{}, base); err == nil {
			t.Fatal("an empty filter ended every session")
		}
		// Only the client with a backchannel URI gets a delivery; the
		// other client's row is ended all the same.
		q, err := s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s1"}, base)
		must(t, err)
		if len(q) != 1 || q[0].ClientID != "bc" || q[0].Subject != "sub-bc-p1" || q[0].SID != "s1" || !q[0].NextAttemptAt.Equal(base) {
			t.Fatalf("queued %+v", q)
		}
		if q, err = s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s1"}, base); err != nil || len(q) != 0 {
			t.Fatalf("a second logout of s1 queued %+v, %v", q, err)
		}
		// An expired sign-in is not told.
		if q, err = s.EndRPSessions(ctx, store.RPSessionFilter{ClientID: "bc"}, base.Add(3*time.Hour)); err != nil || len(q) != 0 {
			t.Fatalf("expired: %+v, %v", q, err)
		}
		all, err := s.LogoutDeliveries(ctx)
		must(t, err)
		if len(all) != 1 {
			t.Fatalf("deliveries %+v", all)
		}
	})
}

func TestEndRPSessionsByPersonAndGrant(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		logoutFixture(t, s)
		q, err := s.EndRPSessions(ctx, store.RPSessionFilter{ClientID: "bc", BeneficiaryID: "p2"}, base)
		must(t, err)
		if len(q) != 1 || q[0].Subject != "sub-bc-p2" {
			t.Fatalf("grant: %+v", q)
		}
		q, err = s.EndRPSessions(ctx, store.RPSessionFilter{BeneficiaryID: "p1"}, base)
		must(t, err)
		if len(q) != 1 || q[0].Subject != "sub-bc-p1" {
			t.Fatalf("person: %+v", q)
		}
		res, err := s.DeleteExpired(ctx, base.Add(time.Hour+time.Second), time.Hour)
		must(t, err)
		if res.RPSessions != 0 {
			t.Fatalf("ended rows were left behind: %d", res.RPSessions)
		}
	})
}

// A browser session's end keeps the sign-ins of clients that hold a
// usable refresh token for the person (an offline_access grant): they are
// told now, and again when the grant ends. A revoked or expired refresh
// token does not keep a row.
func TestEndRPSessionsKeepsStandingGrants(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		logoutFixture(t, s)
		// p1 granted "bc" offline access; p2's grant at "bc" was revoked;
		// "quiet" holds an access token for p1, which is no standing grant.
		for _, tok := range []struct {
			kind, sig, client, subject string
			active                     bool
		}{
			{store.KindRefreshToken, "rt-p1", "bc", "sub-bc-p1", true},
			{store.KindRefreshToken, "rt-p2", "bc", "sub-bc-p2", false},
			{store.KindAccessToken, "at-q", "quiet", "sub-q-p1", true},
		} {
			row := newToken(tok.kind, tok.sig, "grant-"+tok.sig, tok.client)
			row.Subject, row.Active = tok.subject, tok.active
			must(t, s.CreateToken(ctx, row))
		}

		if _, err := s.EndRPSessions(ctx, store.RPSessionFilter{KeepStanding: true}, base); err == nil {
			t.Fatal("a filter with only KeepStanding ended every session")
		}
		q, err := s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s1", KeepStanding: true}, base)
		must(t, err)
		if len(q) != 1 || q[0].Subject != "sub-bc-p1" {
			t.Fatalf("logout of s1 queued %+v", q)
		}
		q, err = s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s2", KeepStanding: true}, base)
		must(t, err)
		if len(q) != 1 || q[0].Subject != "sub-bc-p2" {
			t.Fatalf("logout of s2 queued %+v", q)
		}
		// The grant ends: "bc" is told again about p1, whose row was kept;
		// p2's row went with the session, since its token was revoked, and
		// "quiet" held no refresh token.
		q, err = s.EndRPSessions(ctx, store.RPSessionFilter{ClientID: "bc", BeneficiaryID: "p1"}, base)
		must(t, err)
		if len(q) != 1 || q[0].SID != "s1" || q[0].Subject != "sub-bc-p1" {
			t.Fatalf("the grant's end queued %+v", q)
		}
		for _, f := range []store.RPSessionFilter{{ClientID: "bc"}, {ClientID: "quiet"}} {
			if q, err := s.EndRPSessions(ctx, f, base); err != nil || len(q) != 0 {
				t.Fatalf("%+v: rows left behind, queued %+v, %v", f, q, err)
			}
		}
		// An expired refresh token keeps nothing either.
		later := store.RPSession{SID: "s3", ClientID: "bc", Subject: "sub-bc-p1", BeneficiaryID: "p1", CreatedAt: base, ExpiresAt: base.Add(48 * time.Hour)}
		must(t, s.RecordRPSession(ctx, &later))
		if _, err := s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s3", KeepStanding: true}, base.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if q, err := s.EndRPSessions(ctx, store.RPSessionFilter{SID: "s3"}, base.Add(2*time.Hour)); err != nil || len(q) != 0 {
			t.Fatalf("a row kept by an expired refresh token: %+v, %v", q, err)
		}
	})
}

// A claimed delivery is not due again until its lease ends; a failed one
// is due at its retry time with the attempt counted; a delivered one is
// gone. A new store on the same database (a restart) sees what is left.
func TestLogoutDeliveryQueue(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ctx := testCtx(t)
		url := storetest.URL(t, dialect)
		s := openMigrated(t, url, dialect)
		logoutFixture(t, s)
		q, err := s.EndRPSessions(ctx, store.RPSessionFilter{ClientID: "bc"}, base)
		must(t, err)
		if len(q) != 2 {
			t.Fatalf("queued %+v", q)
		}
		got, err := s.ClaimLogoutDeliveries(ctx, base, time.Minute, 10)
		must(t, err)
		if len(got) != 2 || !got[0].NextAttemptAt.Equal(base.Add(time.Minute)) {
			t.Fatalf("claimed %+v", got)
		}
		if again, err := s.ClaimLogoutDeliveries(ctx, base.Add(30*time.Second), time.Minute, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed during the lease: %+v, %v", again, err)
		}
		must(t, s.DeleteLogoutDelivery(ctx, got[0].ID))
		must(t, s.RetryLogoutDelivery(ctx, got[1].ID, base.Add(10*time.Second), "status 503"))
		must(t, s.Close())

		s2 := openMigrated(t, url, dialect)
		left, err := s2.LogoutDeliveries(ctx)
		must(t, err)
		if len(left) != 1 || left[0].ID != got[1].ID || left[0].Attempts != 1 || left[0].LastError != "status 503" ||
			!left[0].NextAttemptAt.Equal(base.Add(10*time.Second)) || !left[0].CreatedAt.Equal(base) {
			t.Fatalf("after restart %+v", left)
		}
		if early, err := s2.ClaimLogoutDeliveries(ctx, base.Add(9*time.Second), time.Minute, 10); err != nil || len(early) != 0 {
			t.Fatalf("claimed before its retry time: %+v, %v", early, err)
		}
		due, err := s2.ClaimLogoutDeliveries(ctx, base.Add(10*time.Second), time.Minute, 10)
		must(t, err)
		if len(due) != 1 || due[0].Attempts != 1 {
			t.Fatalf("due %+v", due)
		}
	})
}

// Two processes claiming at once never take the same delivery: on
// PostgreSQL SKIP LOCKED hands them disjoint rows, on SQLite the single
// writer serialises them.
func TestLogoutDeliveryClaimsAreDisjoint(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ctx := testCtx(t)
		url := storetest.URL(t, dialect)
		var stores []*store.Store
		for range 2 {
			stores = append(stores, openMigrated(t, url, dialect))
		}
		bc := newClient("bc", "Told Air")
		bc.BackchannelLogoutURI = "https://bc.example/logout"
		must(t, stores[0].CreateClient(ctx, bc))
		const n = 200
		for i := range n {
			must(t, stores[0].RecordRPSession(ctx, &store.RPSession{SID: fmt.Sprint("s", i), ClientID: "bc", Subject: "x",
				BeneficiaryID: "p", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
		}
		if q, err := stores[0].EndRPSessions(ctx, store.RPSessionFilter{ClientID: "bc"}, base); err != nil || len(q) != n {
			t.Fatalf("queued %d, %v", len(q), err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		errs := make(chan error, 2*4)
		for _, s := range stores {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						rows, err := s.ClaimLogoutDeliveries(ctx, base, time.Hour, 7)
						if err != nil {
							errs <- err
							return
						}
						if len(rows) == 0 {
							return
						}
						mu.Lock()
						for _, r := range rows {
							seen[r.ID]++
						}
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
		if len(seen) != n {
			t.Fatalf("claimed %d of %d", len(seen), n)
		}
		for id, k := range seen {
			if k != 1 {
				t.Fatalf("delivery %d claimed %d times", id, k)
			}
		}
	})
}

// openMigrated opens url and applies the migrations (a second time is a
// no-op), as a server process does at start.
func openMigrated(t *testing.T, url, dialect string) *store.Store {
	t.Helper()
	s, err := store.Open(url)
	must(t, err)
	t.Cleanup(func() { _ = s.Close() })
	db, err := s.DB()
	must(t, err)
	_, err = migrations.Up(testCtx(t), db, migrations.Dialect(dialect))
	must(t, err)
	return s
}
