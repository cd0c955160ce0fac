package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestWriteTogether: the writes of a resume are all written or none are,
// on every backend (through PgBouncer too): a conditional UPDATE that
// finds the request no longer approved, or a statement that fails, leaves
// nothing of the statements before or after it; of racing writers with
// one approved request exactly one writes; statements and the
// transaction are counted as InTx counts them.
func TestWriteTogether(t *testing.T) {
	storetest.RunPooled(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		approved := func(id string) {
			t.Helper()
			lr := newLoginRequest(id, base.Add(time.Hour))
			lr.State = store.LoginApproved
			must(t, s.CreateLoginRequest(ctx, lr))
		}
		token := func(sig string) *store.OAuthToken {
			return &store.OAuthToken{Kind: store.KindAuthorizeCode, Signature: sig, RequestID: "req-" + sig, ClientID: "c1",
				RequestedAt: base, ExpiresAt: base.Add(time.Minute), Scopes: store.StringList{"openid"}, Session: []byte(`{}`), Active: true}
		}
		disclosure := func(id string) *store.Disclosure {
			status := 2
			return &store.Disclosure{ID: id, ClientID: "c1", BeneficiaryID: "b1", Subject: "sub", CreatedAt: base,
				Claims: store.StringList{"vaccination_status"}, VaccinationStatus: &status, Channel: store.DisclosedAtAuthorize}
		}
		// resume gathers what a resume writes, the conditional UPDATE
		// between the code's rows and the rest.
		resume := func(lr, sig, did string) func(w *store.Writes) error {
			return func(w *store.Writes) error {
				w.CreateTokens([]*store.OAuthToken{token(sig), token(sig + "-pkce")})
				w.UseApprovedLoginRequest(lr)
				w.RecordRPSession(&store.RPSession{SID: "sid-" + sig, ClientID: "c1", Subject: "sub", BeneficiaryID: "b1", ExpiresAt: base.Add(time.Hour)})
				w.CreateDisclosure(disclosure(did))
				return nil
			}
		}
		// written reports which of the rows resume(lr, sig, did) writes
		// are there, and the request's state.
		written := func(lr, sig, did string) string {
			t.Helper()
			var got []string
			for _, sig := range []string{sig, sig + "-pkce"} {
				if _, err := s.GetToken(ctx, store.KindAuthorizeCode, sig); err == nil {
					got = append(got, "token")
				} else if !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
			}
			if n := countRows(t, s, "rp_sessions", "sid", "sid-"+sig); n > 0 {
				got = append(got, "rp_session")
			}
			if n := countRows(t, s, "disclosures", "id", did); n > 0 {
				got = append(got, "disclosure")
			}
			r, err := s.GetLoginRequest(ctx, lr)
			must(t, err)
			return fmt.Sprintf("%v %s", got, r.State)
		}

		approved("lr1")
		before, txBefore := s.Counts()
		must(t, s.WriteTogether(ctx, resume("lr1", "code1", "d1")))
		after, txAfter := s.Counts()
		if after-before != 4 || txAfter-txBefore != 1 {
			t.Errorf("counted %d statements in %d transactions, want 4 in 1", after-before, txAfter-txBefore)
		}
		if got, want := written("lr1", "code1", "d1"), "[token token rp_session disclosure] used"; got != want {
			t.Errorf("written: %s, want %s", got, want)
		}

		// The request is used now: the second resume writes nothing, not
		// even the rows gathered before the UPDATE.
		wantErr(t, "used request", s.WriteTogether(ctx, resume("lr1", "code2", "d2")), store.ErrConflict)
		if got, want := written("lr1", "code2", "d2"), "[] used"; got != want {
			t.Errorf("after a conflict: %s, want %s", got, want)
		}

		// A failing statement (the code's key taken) undoes the UPDATE
		// before it and writes none after it.
		approved("lr2")
		must(t, s.CreateToken(ctx, token("taken-pkce")))
		wantErr(t, "taken key", s.WriteTogether(ctx, resume("lr2", "taken", "d3")), store.ErrAlreadyExists)
		if got, want := written("lr2", "taken", "d3"), "[token] approved"; got != want {
			t.Errorf("after a failed statement: %s, want %s (the taken row only)", got, want)
		}

		// In a caller's transaction the caller decides.
		approved("lr3")
		rollback := errors.New("rolled back")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.WriteTogether(ctx, resume("lr3", "code3", "d4")); err != nil {
				return err
			}
			return rollback
		})
		wantErr(t, "caller's rollback", err, rollback)
		if got, want := written("lr3", "code3", "d4"), "[] approved"; got != want {
			t.Errorf("after the caller's rollback: %s, want %s", got, want)
		}

		// Racing writers with one approved request: one writes.
		approved("lr4")
		const racers = 12
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				errs[i] = s.WriteTogether(ctx, resume("lr4", fmt.Sprintf("race%d", i), fmt.Sprintf("race%d", i)))
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
				if got, want := written("lr4", fmt.Sprintf("race%d", i), fmt.Sprintf("race%d", i)), "[token token rp_session disclosure] used"; got != want {
					t.Errorf("winner: %s, want %s", got, want)
				}
			case errors.Is(err, store.ErrConflict):
				if got, want := written("lr4", fmt.Sprintf("race%d", i), fmt.Sprintf("race%d", i)), "[] used"; got != want {
					t.Errorf("loser %d: %s, want %s", i, got, want)
				}
			default:
				t.Errorf("racer %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d racers wrote, want 1", won)
		}

		// Nothing gathered, nothing sent.
		before, txBefore = s.Counts()
		must(t, s.WriteTogether(ctx, func(w *store.Writes) error { return nil }))
		if after, txAfter := s.Counts(); after != before || txAfter != txBefore {
			t.Errorf("an empty write sent %d statements in %d transactions", after-before, txAfter-txBefore)
		}
	})
}

// countRows counts the rows of table whose column is value.
func countRows(t *testing.T, s *store.Store, table, column, value string) int {
	t.Helper()
	db, err := s.DB()
	must(t, err)
	q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s = ", table, column)
	if s.Dialect() == store.Postgres {
		q += "$1"
	} else {
		q += "?"
	}
	var n int
	must(t, db.QueryRow(q, value).Scan(&n))
	return n
}

// TestUpdateLoginRequestWith: an approval and the session it starts are
// written together or not at all, on every backend. A request written
// since it was read is approved on the row as it is now, with one
// session; a kept change (a wrong code) writes no session; a session
// that cannot be written leaves the request as it was; of racing
// approvals from one read, one starts a session.
func TestUpdateLoginRequestWith(t *testing.T) {
	storetest.RunPooled(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		create := func(id string) *store.LoginRequest {
			t.Helper()
			r := newLoginRequest(id, time.Now().Add(time.Hour))
			r.State = store.LoginOTPSent
			must(t, s.CreateLoginRequest(ctx, r))
			r, err := s.GetLoginRequest(ctx, id)
			must(t, err)
			return r
		}
		// approve approves a request that is still waiting for its code.
		approve := func(sid string) func(r *store.LoginRequest) error {
			return func(r *store.LoginRequest) error {
				if r.State != store.LoginOTPSent {
					return store.ErrConflict
				}
				r.State, r.SessionID = store.LoginApproved, sid
				return nil
			}
		}
		session := func(sid string) func(w *store.Writes, now *store.LoginRequest) {
			return func(w *store.Writes, now *store.LoginRequest) {
				w.CreateSession(&store.Session{ID: sid, BeneficiaryID: "b1", Mobile: now.Mobile, AuthTime: base,
					CreatedAt: base, ExpiresAt: time.Now().Add(time.Hour)})
			}
		}
		state := func(id, sid string) string {
			t.Helper()
			r, err := s.GetLoginRequest(ctx, id)
			must(t, err)
			return fmt.Sprintf("%s v%d, %d session", r.State, r.Version, countRows(t, s, "sessions", "id", sid))
		}

		r := create("fresh")
		got, err := s.UpdateLoginRequestWith(ctx, r, approve("s-fresh"), session("s-fresh"))
		must(t, err)
		if got.State != store.LoginApproved || r.State != store.LoginOTPSent {
			t.Errorf("returned %s, read changed to %s", got.State, r.State)
		}
		if got, want := state("fresh", "s-fresh"), "approved v1, 1 session"; got != want {
			t.Errorf("fresh: %s, want %s", got, want)
		}

		// Written since: approved on the row as it is now.
		r = create("stale")
		_, err = s.UpdateLoginRequest(ctx, "stale", func(r *store.LoginRequest) error { r.OTPTries++; return nil })
		must(t, err)
		got, err = s.UpdateLoginRequestWith(ctx, r, approve("s-stale"), session("s-stale"))
		must(t, err)
		if got.OTPTries != 1 {
			t.Errorf("stale: the other write's try was lost")
		}
		if got, want := state("stale", "s-stale"), "approved v2, 1 session"; got != want {
			t.Errorf("stale: %s, want %s", got, want)
		}

		// A kept change is written, without the session.
		r = create("kept")
		errWrong := errors.New("wrong code")
		_, err = s.UpdateLoginRequestWith(ctx, r, func(r *store.LoginRequest) error {
			r.OTPTries++
			return &store.KeepChanges{Err: errWrong}
		}, session("s-kept"))
		wantErr(t, "kept", err, errWrong)
		if got, want := state("kept", "s-kept"), "otp_sent v1, 0 session"; got != want {
			t.Errorf("kept: %s, want %s", got, want)
		}

		// The session's key taken: the approval is not written either.
		r = create("taken")
		must(t, s.CreateSession(ctx, &store.Session{ID: "s-taken", AuthTime: base, CreatedAt: base, ExpiresAt: time.Now().Add(time.Hour)}))
		_, err = s.UpdateLoginRequestWith(ctx, r, approve("s-taken"), session("s-taken"))
		wantErr(t, "taken", err, store.ErrAlreadyExists)
		if got, want := state("taken", "s-taken"), "otp_sent v0, 1 session"; got != want {
			t.Errorf("taken: %s, want %s", got, want)
		}

		// Racing approvals from one read: one session.
		r = create("race")
		const racers = 12
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				sid := fmt.Sprintf("s-race%d", i)
				_, errs[i] = s.UpdateLoginRequestWith(ctx, r, approve(sid), session(sid))
			})
		}
		wg.Wait()
		sessions := 0
		for i, err := range errs {
			sessions += countRows(t, s, "sessions", "id", fmt.Sprintf("s-race%d", i))
			if err != nil && !errors.Is(err, store.ErrConflict) {
				t.Errorf("racer %d: %v", i, err)
			}
		}
		if sessions != 1 {
			t.Errorf("%d sessions written by racing approvals, want 1", sessions)
		}
	})
}
