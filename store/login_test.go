package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func newLoginRequest(id string, expires time.Time) *store.LoginRequest {
	return &store.LoginRequest{
		ID:        id,
		ClientID:  "c1",
		Form:      "client_id=c1&response_type=code&scope=openid+vaccination_status",
		Scopes:    store.StringList{"openid", "vaccination_status"},
		Claims:    store.StringList{"vaccination_status"},
		State:     store.LoginPending,
		LoginHint: "+919876543210",
		CreatedAt: expires.Add(-10 * time.Minute),
		ExpiresAt: expires,
	}
}

var errWrongOTP = errors.New("wrong OTP")

func TestLoginRequests(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("lr1", base.Add(time.Hour))))
		wantErr(t, "duplicate", s.CreateLoginRequest(ctx, newLoginRequest("lr1", base)), store.ErrAlreadyExists)
		_, err := s.GetLoginRequest(ctx, "nope")
		wantErr(t, "get unknown", err, store.ErrNotFound)

		got, err := s.GetLoginRequest(ctx, "lr1")
		must(t, err)
		if got.State != store.LoginPending || !slices.Equal(got.Scopes, store.StringList{"openid", "vaccination_status"}) ||
			!slices.Equal(got.Claims, store.StringList{"vaccination_status"}) || got.OTPSentAt != nil || got.AuthTime != nil {
			t.Fatalf("GetLoginRequest = %+v", got)
		}
		sameTime(t, "ExpiresAt", got.ExpiresAt, base.Add(time.Hour))

		sent, otpExpires := base.Add(time.Minute), base.Add(4*time.Minute)
		tests := []struct {
			name    string
			update  func(*store.LoginRequest) error
			wantErr error
			// stored is what the row must hold afterwards.
			stored func(t *testing.T, r *store.LoginRequest)
		}{
			{
				name: "changes are written",
				update: func(r *store.LoginRequest) error {
					r.ID = "other" // ignored: the key is not the updater's
					r.State = store.LoginOTPSent
					r.Mobile, r.Name = "+919876543210", "Asha"
					r.OTPHash = []byte{9, 8, 7}
					r.OTPSentAt, r.OTPExpiresAt = &sent, &otpExpires
					r.OTPSends++
					return nil
				},
				stored: func(t *testing.T, r *store.LoginRequest) {
					if r.State != store.LoginOTPSent || r.Mobile != "+919876543210" || r.Name != "Asha" ||
						string(r.OTPHash) != "\x09\x08\x07" || r.OTPSends != 1 || r.OTPSentAt == nil || r.OTPExpiresAt == nil {
						t.Fatalf("stored %+v", r)
					}
					sameTime(t, "OTPSentAt", *r.OTPSentAt, sent)
					sameTime(t, "OTPExpiresAt", *r.OTPExpiresAt, otpExpires)
				},
			},
			{
				name: "error writes nothing",
				update: func(r *store.LoginRequest) error {
					r.State = store.LoginApproved
					r.OTPTries = 99
					return errBoom
				},
				wantErr: errBoom,
				stored: func(t *testing.T, r *store.LoginRequest) {
					if r.State != store.LoginOTPSent || r.OTPTries != 0 {
						t.Errorf("failed update written: %+v", r)
					}
				},
			},
			{
				name: "KeepChanges writes and reports its error",
				update: func(r *store.LoginRequest) error {
					r.OTPTries++
					return &store.KeepChanges{Err: errWrongOTP}
				},
				wantErr: errWrongOTP,
				stored: func(t *testing.T, r *store.LoginRequest) {
					if r.OTPTries != 1 || r.State != store.LoginOTPSent {
						t.Errorf("KeepChanges: stored %+v, want one try counted", r)
					}
				},
			},
			{
				name: "wrapped KeepChanges",
				update: func(r *store.LoginRequest) error {
					r.OTPTries++
					r.State = store.LoginDead
					return fmt.Errorf("verify: %w", &store.KeepChanges{Err: errWrongOTP})
				},
				wantErr: errWrongOTP,
				stored: func(t *testing.T, r *store.LoginRequest) {
					if r.OTPTries != 2 || r.State != store.LoginDead {
						t.Errorf("wrapped KeepChanges: stored %+v", r)
					}
				},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ret, err := s.UpdateLoginRequest(ctx, "lr1", tc.update)
				wantErr(t, "UpdateLoginRequest", err, tc.wantErr)
				var ke *store.KeepChanges
				if errors.As(err, &ke) {
					t.Errorf("KeepChanges leaked to the caller: %v", err)
				}
				stored, err2 := s.GetLoginRequest(ctx, "lr1")
				must(t, err2)
				tc.stored(t, stored)
				switch {
				case tc.wantErr == errBoom && ret != nil:
					t.Errorf("failed update returned %+v", ret)
				case tc.wantErr != errBoom && (ret == nil || ret.ID != "lr1" || ret.OTPTries != stored.OTPTries || ret.State != stored.State):
					t.Errorf("returned %+v, stored %+v", ret, stored)
				}
			})
		}
		t.Run("KeepChanges inside InTx commits the whole transaction", func(t *testing.T) {
			// A verification step: the counted try and another write in
			// the same transaction are kept, and the caller learns why.
			before, err := s.GetLoginRequest(ctx, "lr1")
			must(t, err)
			err = s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error {
					r.LoginHint = "kept in the transaction"
					return nil
				}); err != nil {
					return err
				}
				_, err := s.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error {
					r.OTPTries++
					return &store.KeepChanges{Err: errWrongOTP}
				})
				return err
			})
			wantErr(t, "InTx", err, errWrongOTP)
			var ke *store.KeepChanges
			if !errors.As(err, &ke) {
				t.Errorf("InTx: %v, want the *KeepChanges so the caller knows the writes stayed", err)
			}
			after, err := s.GetLoginRequest(ctx, "lr1")
			must(t, err)
			if after.OTPTries != before.OTPTries+1 || after.LoginHint != "kept in the transaction" {
				t.Errorf("after InTx with KeepChanges: %+v, want both writes kept", after)
			}
			// Any other error still rolls everything back.
			err = s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.UpdateLoginRequest(ctx, "lr1", func(r *store.LoginRequest) error {
					r.OTPTries++
					return nil
				}); err != nil {
					return err
				}
				return errBoom
			})
			wantErr(t, "InTx rollback", err, errBoom)
			again, err := s.GetLoginRequest(ctx, "lr1")
			must(t, err)
			if again.OTPTries != after.OTPTries {
				t.Errorf("a failed InTx kept a write: tries %d, want %d", again.OTPTries, after.OTPTries)
			}
		})
		_, err = s.UpdateLoginRequest(ctx, "nope", func(*store.LoginRequest) error {
			t.Error("updater called for an unknown request")
			return nil
		})
		wantErr(t, "update unknown", err, store.ErrNotFound)
		if _, err := s.GetLoginRequest(ctx, "other"); !isNotFound(err) {
			t.Errorf("updater changed the key: %v", err)
		}
	})
}

// TestLoginRequestConcurrentUpdates: updates of one challenge are
// serialised, so none is lost and only one of racing transitions wins.
func TestLoginRequestConcurrentUpdates(t *testing.T) {
	const n = 10
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("lr", base.Add(time.Hour))))

		t.Run("increments", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() {
					_, err := s.UpdateLoginRequest(ctx, "lr", func(r *store.LoginRequest) error {
						r.OTPTries++
						return nil
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				must(t, err)
			}
			r, err := s.GetLoginRequest(ctx, "lr")
			must(t, err)
			if r.OTPTries != n {
				t.Errorf("OTPTries = %d after %d concurrent increments", r.OTPTries, n)
			}
		})

		t.Run("one transition wins", func(t *testing.T) {
			errNotPending := errors.New("not pending")
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					_, err := s.UpdateLoginRequest(ctx, "lr", func(r *store.LoginRequest) error {
						if r.State != store.LoginPending {
							return errNotPending
						}
						r.State = store.LoginApproved
						r.BeneficiaryID = fmt.Sprintf("b%d", i)
						return nil
					})
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			won := 0
			for err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, errNotPending):
					t.Errorf("UpdateLoginRequest: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d racing transitions won, want 1", won)
			}
		})
	})
}

func TestSessions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		expires := base.Add(15 * time.Minute)
		must(t, s.CreateSession(ctx, &store.Session{
			ID: "s1", BeneficiaryID: "b1", Mobile: "+919876543210", Name: "Asha",
			AuthTime: base, ExpiresAt: expires,
			Grants: store.Grants{"c1": {"openid", "vaccination_status"}},
		}))
		wantErr(t, "duplicate", s.CreateSession(ctx, &store.Session{ID: "s1", AuthTime: base, ExpiresAt: expires}), store.ErrAlreadyExists)

		lookups := []struct {
			name string
			id   string
			now  time.Time
			want error
		}{
			{"live", "s1", base.Add(time.Minute), nil},
			{"just before expiry", "s1", expires.Add(-time.Microsecond), nil},
			{"at expiry", "s1", expires, store.ErrNotFound},
			{"after expiry", "s1", expires.Add(time.Hour), store.ErrNotFound},
			{"unknown", "nope", base, store.ErrNotFound},
		}
		for _, tc := range lookups {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.GetSession(ctx, tc.id, tc.now)
				wantErr(t, "GetSession", err, tc.want)
				if err == nil {
					sameTime(t, "AuthTime", got.AuthTime, base)
					sameTime(t, "ExpiresAt", got.ExpiresAt, expires)
					if got.BeneficiaryID != "b1" || !slices.Equal(got.Grants["c1"], store.StringList{"openid", "vaccination_status"}) {
						t.Errorf("GetSession = %+v", got)
					}
				}
			})
		}

		t.Run("update", func(t *testing.T) {
			_, err := s.UpdateSession(ctx, "s1", func(sess *store.Session) error {
				sess.Grants["c2"] = store.StringList{"openid"}
				return nil
			})
			must(t, err)
			_, err = s.UpdateSession(ctx, "s1", func(sess *store.Session) error {
				sess.Grants = nil
				return errBoom
			})
			wantErr(t, "failing UpdateSession", err, errBoom)
			_, err = s.UpdateSession(ctx, "nope", func(*store.Session) error { return nil })
			wantErr(t, "UpdateSession(unknown)", err, store.ErrNotFound)
			got, err := s.GetSession(ctx, "s1", base)
			must(t, err)
			if len(got.Grants) != 2 || !got.Grants["c2"].Contains("openid") {
				t.Errorf("Grants = %v", got.Grants)
			}
		})

		t.Run("delete", func(t *testing.T) {
			must(t, s.DeleteSession(ctx, "s1"))
			must(t, s.DeleteSession(ctx, "s1"))
			_, err := s.GetSession(ctx, "s1", base)
			wantErr(t, "GetSession after delete", err, store.ErrNotFound)
		})
	})
}

// An approved request is used once: a second use, a request at another
// state and an unknown one are ErrConflict and change nothing; the client's
// display name round-trips.
func TestUseApprovedLoginRequest(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		approved := newLoginRequest("approved", base.Add(time.Hour))
		approved.State, approved.ClientName = store.LoginApproved, "Indian Rail"
		must(t, s.CreateLoginRequest(ctx, approved))
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("pending", base.Add(time.Hour))))

		must(t, s.UseApprovedLoginRequest(ctx, "approved"))
		wantErr(t, "second use", s.UseApprovedLoginRequest(ctx, "approved"), store.ErrConflict)
		wantErr(t, "pending", s.UseApprovedLoginRequest(ctx, "pending"), store.ErrConflict)
		wantErr(t, "unknown", s.UseApprovedLoginRequest(ctx, "nope"), store.ErrConflict)
		for id, want := range map[string]store.LoginState{"approved": store.LoginUsed, "pending": store.LoginPending} {
			got, err := s.GetLoginRequest(ctx, id)
			must(t, err)
			if got.State != want {
				t.Errorf("%s: state %s, want %s", id, got.State, want)
			}
			if id == "approved" && got.ClientName != "Indian Rail" {
				t.Errorf("ClientName %q", got.ClientName)
			}
		}
	})
}

// The disclosure plan round-trips as written, through an update too; a
// request stored without one (as before migration 00018) reads back nil,
// not an empty plan, so oauth can tell the two apart.
func TestLoginRequestDisclosurePlan(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		withPlan := newLoginRequest("planned", base.Add(time.Hour))
		withPlan.Plan = &store.DisclosurePlan{
			IDToken:  store.StringList{"vaccination_status", "name"},
			Userinfo: store.StringList{"vaccination_status", "phone_number"},
		}
		must(t, s.CreateLoginRequest(ctx, withPlan))
		empty := newLoginRequest("empty-plan", base.Add(time.Hour))
		empty.Plan = &store.DisclosurePlan{}
		must(t, s.CreateLoginRequest(ctx, empty))
		must(t, s.CreateLoginRequest(ctx, newLoginRequest("no-plan", base.Add(time.Hour))))

		got, err := s.UpdateLoginRequest(ctx, "planned", func(r *store.LoginRequest) error {
			r.State = store.LoginOTPSent
			return nil
		})
		must(t, err)
		if got, err = s.GetLoginRequest(ctx, "planned"); err != nil {
			t.Fatal(err)
		}
		if got.Plan == nil || !slices.Equal(got.Plan.IDToken, withPlan.Plan.IDToken) || !slices.Equal(got.Plan.Userinfo, withPlan.Plan.Userinfo) {
			t.Fatalf("Plan = %+v, want %+v", got.Plan, withPlan.Plan)
		}
		got, err = s.GetLoginRequest(ctx, "empty-plan")
		must(t, err)
		if got.Plan == nil || len(got.Plan.IDToken) != 0 || len(got.Plan.Userinfo) != 0 {
			t.Fatalf("empty plan read back as %+v", got.Plan)
		}
		got, err = s.GetLoginRequest(ctx, "no-plan")
		must(t, err)
		if got.Plan != nil {
			t.Fatalf("no plan read back as %+v", got.Plan)
		}
	})
}

// The resume's one read: the login request, its client, the browser's
// session only when it is that request's session and has not expired,
// and the person approved with their doses in order (nil before an
// approval, or once gone from the registry). A request whose client is
// gone is still found, without the client.
func TestGetLoginRequestForResume(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		wantClient := storedClient(t, s, "c1", "Indian Rail")
		now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		mine := &store.Session{ID: "sess-mine", BeneficiaryID: "b1", Mobile: "+919876543210", Name: "Asha Verma",
			AuthTime: now.Add(-time.Minute), Grants: store.Grants{"c1": {"vaccination_status"}},
			CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(15 * time.Minute)}
		other := &store.Session{ID: "sess-other", BeneficiaryID: "b2", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		gone := &store.Session{ID: "sess-gone", BeneficiaryID: "b1", AuthTime: now.Add(-time.Hour), CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Second)}
		for _, sess := range []*store.Session{mine, other, gone} {
			must(t, s.CreateSession(ctx, sess))
		}
		_, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{
			person("b1", "+919876543210", "Asha Verma", dose(2, 2, "2021-08-01"), dose(1, 2, "2021-05-01")),
			person("b2", "+919876543211", "Ravi"),
		})
		must(t, err)
		approved := newLoginRequest("lr-approved", now.Add(time.Hour))
		approved.State, approved.SessionID, approved.BeneficiaryID = store.LoginApproved, mine.ID, "b1"
		expiredSession := newLoginRequest("lr-gone", now.Add(time.Hour))
		expiredSession.State, expiredSession.SessionID = store.LoginApproved, gone.ID
		pending := newLoginRequest("lr-pending", now.Add(time.Hour))
		for _, lr := range []*store.LoginRequest{approved, expiredSession, pending} {
			must(t, s.CreateLoginRequest(ctx, lr))
		}
		want, err := s.GetSession(ctx, mine.ID, now)
		must(t, err)

		for _, tc := range []struct {
			name, lr, sid string
			want          *store.Session
		}{
			{"its own session", approved.ID, mine.ID, want},
			{"no cookie", approved.ID, "", nil},
			{"another browser's session", approved.ID, other.ID, nil},
			{"an unknown session", approved.ID, "sess-unknown", nil},
			{"an ill-formed session ID", approved.ID, "bad\x00id", nil},
			{"its session expired", expiredSession.ID, gone.ID, nil},
			{"a request with no session yet", pending.ID, mine.ID, nil},
		} {
			lr, sess, client, _, err := s.GetLoginRequestForResume(ctx, tc.lr, tc.sid, now)
			if err != nil || lr == nil || lr.ID != tc.lr {
				t.Fatalf("%s: %v, %v", tc.name, lr, err)
			}
			if client == nil || fmt.Sprint(*client) != fmt.Sprint(*wantClient) {
				t.Errorf("%s: client %+v, want %+v", tc.name, client, wantClient)
			}
			plain, err := s.GetLoginRequest(ctx, tc.lr)
			must(t, err)
			if fmt.Sprint(*lr) != fmt.Sprint(*plain) {
				t.Errorf("%s: the request read with its session differs:\n%+v\n%+v", tc.name, *lr, *plain)
			}
			if fmt.Sprint(sess) != fmt.Sprint(tc.want) || (sess != nil && fmt.Sprint(*sess) != fmt.Sprint(*tc.want)) {
				t.Errorf("%s: session %+v, want %+v", tc.name, sess, tc.want)
			}
		}
		// The person, as the registry holds them.
		for _, tc := range []struct{ name, lr, want string }{
			{"approved, two doses", approved.ID, "b1 Asha Verma 1/2@2021-05-01,2/2@2021-08-01"},
			{"not approved yet", pending.ID, "none"},
		} {
			_, _, _, b, err := s.GetLoginRequestForResume(ctx, tc.lr, "", now)
			must(t, err)
			got := "none"
			if b != nil {
				got = fmt.Sprintf("%s %s %s", b.ID, b.Name, doseNumbers(*b))
			}
			if got != tc.want {
				t.Errorf("%s: beneficiary %s, want %s", tc.name, got, tc.want)
			}
		}
		noDoses := newLoginRequest("lr-nodoses", now.Add(time.Hour))
		noDoses.State, noDoses.BeneficiaryID = store.LoginApproved, "b2"
		must(t, s.CreateLoginRequest(ctx, noDoses))
		if _, _, _, b, err := s.GetLoginRequestForResume(ctx, noDoses.ID, "", now); err != nil || b == nil || b.ID != "b2" || b.Doses == nil || len(b.Doses) != 0 {
			t.Errorf("no doses: %+v, %v; want b2 with an empty list of doses", b, err)
		}
		must(t, s.DeleteBeneficiary(ctx, "b2"))
		if _, _, _, b, err := s.GetLoginRequestForResume(ctx, noDoses.ID, "", now); err != nil || b != nil {
			t.Errorf("gone from the registry: %+v, %v; want no beneficiary", b, err)
		}
		if _, _, _, _, err := s.GetLoginRequestForResume(ctx, "lr-unknown", mine.ID, now); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown request: %v, want ErrNotFound", err)
		}
		// One statement.
		before, _ := s.Counts()
		_, _, _, _, err = s.GetLoginRequestForResume(ctx, approved.ID, mine.ID, now)
		must(t, err)
		if after, _ := s.Counts(); after-before != 1 {
			t.Errorf("%d statements, want 1", after-before)
		}

		must(t, s.DeleteClient(ctx, "c1"))
		lr, sess, client, _, err := s.GetLoginRequestForResume(ctx, approved.ID, mine.ID, now)
		if err != nil || lr == nil || lr.ID != approved.ID || sess != nil || client != nil {
			t.Errorf("client gone: request %+v, session %+v, client %+v, %v; want the request alone", lr, sess, client, err)
		}
	})
}

// The code's check reads the request with its client in one statement;
// a request whose client is gone is still found, without the client.
func TestGetLoginRequestWithClient(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		wantClient := storedClient(t, s, "c1", "Indian Rail")
		now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		sent := newLoginRequest("lr-sent", now.Add(time.Hour))
		sent.State, sent.Mobile, sent.Name = store.LoginOTPSent, "+919876543210", "Asha Verma"
		must(t, s.CreateLoginRequest(ctx, sent))
		plain, err := s.GetLoginRequest(ctx, sent.ID)
		must(t, err)

		before, _ := s.Counts()
		lr, client, err := s.GetLoginRequestWithClient(ctx, sent.ID)
		if after, _ := s.Counts(); after-before != 1 {
			t.Errorf("%d statements, want 1", after-before)
		}
		if err != nil || lr == nil || fmt.Sprint(*lr) != fmt.Sprint(*plain) {
			t.Fatalf("request %+v, %v; want %+v", lr, err, plain)
		}
		if client == nil || fmt.Sprint(*client) != fmt.Sprint(*wantClient) {
			t.Errorf("client %+v, want %+v", client, wantClient)
		}
		for _, id := range []string{"lr-unknown", "bad\x00id", ""} {
			if lr, client, err := s.GetLoginRequestWithClient(ctx, id); !errors.Is(err, store.ErrNotFound) || lr != nil || client != nil {
				t.Errorf("%q: %+v, %+v, %v; want ErrNotFound", id, lr, client, err)
			}
		}

		must(t, s.DeleteClient(ctx, "c1"))
		lr, client, err = s.GetLoginRequestWithClient(ctx, sent.ID)
		if err != nil || lr == nil || lr.ID != sent.ID || client != nil {
			t.Errorf("client gone: request %+v, client %+v, %v; want the request alone", lr, client, err)
		}
	})
}

// storedClient registers a client and returns it as the store reads it
// back, to compare with what a joined read returns.
func storedClient(t *testing.T, s *store.Store, id, name string) *store.Client {
	t.Helper()
	ctx := testCtx(t)
	must(t, s.CreateClient(ctx, newClient(id, name)))
	c, err := s.GetClient(ctx, id)
	must(t, err)
	return c
}
