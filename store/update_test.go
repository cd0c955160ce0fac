package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// TestUpdateWritesChangedColumns: an Update method writes the columns its
// updater changed, with one UPDATE, and leaves the others as the row holds
// them; an updater that changes nothing costs no UPDATE. Lists, maps,
// JSON values and times changed in place, through the row's own slices,
// maps and pointers, are changes too.
func TestUpdateWritesChangedColumns(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		ist := zone(t, "Asia/Kolkata")
		sent, otpExpires, auth := base.Add(time.Minute), base.Add(4*time.Minute), base.Add(2*time.Minute)
		// fresh is the row each case starts from, with every kind of
		// column set.
		fresh := func(id string) *store.LoginRequest {
			r := newLoginRequest(id, base.Add(time.Hour))
			r.State, r.Mobile, r.Name = store.LoginOTPSent, "+919876543210", "Asha"
			r.Plan = &store.DisclosurePlan{IDToken: store.StringList{"vaccination_status"}, Userinfo: store.StringList{"vaccination_status"}}
			r.OTPHash, r.OTPSends = []byte{1, 2, 3}, 1
			s, e, a := sent, otpExpires, auth
			r.OTPSentAt, r.OTPExpiresAt, r.AuthTime = &s, &e, &a
			return r
		}
		later := base.Add(5 * time.Minute).In(ist).Add(999 * time.Nanosecond)
		tests := []struct {
			name   string
			update func(r *store.LoginRequest)
			// writes: whether an UPDATE must be sent.
			writes bool
		}{
			{"one column", func(r *store.LoginRequest) { r.OTPTries++ }, true},
			{"two columns", func(r *store.LoginRequest) { r.State, r.OTPHash = store.LoginVerified, nil }, true},
			{"nothing", func(r *store.LoginRequest) { r.Name = "Asha" }, false},
			{"same instants in another zone", func(r *store.LoginRequest) {
				e, c := r.OTPExpiresAt.In(ist), r.CreatedAt.In(ist)
				r.OTPExpiresAt, r.CreatedAt = &e, c
			}, false},
			{"same bytes and lists, new slices", func(r *store.LoginRequest) {
				r.OTPHash = []byte{1, 2, 3}
				r.Scopes = append(store.StringList(nil), r.Scopes...)
			}, false},
			{"list changed in place", func(r *store.LoginRequest) { r.Scopes[1] = "profile" }, true},
			{"list grown", func(r *store.LoginRequest) { r.Claims = append(r.Claims, "name") }, true},
			{"JSON value changed in place", func(r *store.LoginRequest) { r.Plan.Userinfo = append(r.Plan.Userinfo, "name") }, true},
			{"time changed through its pointer", func(r *store.LoginRequest) { *r.OTPSentAt = later }, true},
			{"times in another zone, below a microsecond", func(r *store.LoginRequest) {
				r.OTPExpiresAt, r.ExpiresAt = &later, later.Add(time.Hour)
			}, true},
			{"columns cleared", func(r *store.LoginRequest) { r.Plan, r.AuthTime, r.Scopes = nil, nil, store.StringList{} }, true},
		}
		// Each case through UpdateLoginRequest (a locked read, then the
		// UPDATE) and through UpdateLoginRequestFrom on the row as read
		// (the UPDATE alone; with nothing to write, the locked read).
		for _, from := range []bool{false, true} {
			for i, tc := range tests {
				t.Run(fmt.Sprintf("%s from %v", tc.name, from), func(t *testing.T) {
					id := fmt.Sprintf("lr%d-%v", i, from)
					must(t, s.CreateLoginRequest(ctx, fresh(id)))
					want := fresh(id)
					tc.update(want)
					if tc.writes {
						want.Version++
					}
					update := func(r *store.LoginRequest) error {
						tc.update(r)
						return nil
					}

					read, err := s.GetLoginRequest(ctx, id)
					must(t, err)
					readBefore := storedRow(t, read)
					before, _ := s.Counts()
					var got *store.LoginRequest
					if from {
						got, err = s.UpdateLoginRequestFrom(ctx, read, update)
					} else {
						got, err = s.UpdateLoginRequest(ctx, id, update)
					}
					must(t, err)
					after, _ := s.Counts()
					wantStatements := uint64(1) // the locked read, or the UPDATE alone
					if tc.writes && !from {
						wantStatements++
					}
					if n := after - before; n != wantStatements {
						t.Errorf("%d statements, want %d", n, wantStatements)
					}
					if r := storedRow(t, read); r != readBefore {
						t.Errorf("the row read was changed:\n%s\nwas\n%s", r, readBefore)
					}
					stored, err := s.GetLoginRequest(ctx, id)
					must(t, err)
					if r, w := storedRow(t, stored), storedRow(t, want); r != w {
						t.Errorf("stored\n%s\nwant\n%s", r, w)
					}
					if r, g := storedRow(t, stored), storedRow(t, got); r != g {
						t.Errorf("returned\n%s\nstored\n%s", g, r)
					}
					for what, at := range map[string]*time.Time{"CreatedAt": &got.CreatedAt, "ExpiresAt": &got.ExpiresAt, "OTPSentAt": got.OTPSentAt} {
						if at != nil && (at.Location() != time.UTC || at.Nanosecond()%1000 != 0) {
							t.Errorf("returned %s %v, want UTC microseconds as stored", what, at)
						}
					}
				})
			}
		}

		t.Run("unchanged columns are not written", func(t *testing.T) {
			// The row changes under the updater, in its own transaction:
			// writing the whole row back would undo the used state.
			r := fresh("used")
			r.State = store.LoginApproved
			must(t, s.CreateLoginRequest(ctx, r))
			err := s.InTx(ctx, func(ctx context.Context) error {
				_, err := s.UpdateLoginRequest(ctx, "used", func(r *store.LoginRequest) error {
					if err := s.UseApprovedLoginRequest(ctx, "used"); err != nil {
						return err
					}
					r.LoginHint = "written"
					return nil
				})
				return err
			})
			must(t, err)
			read, err := s.GetLoginRequest(ctx, "used")
			must(t, err)
			if read.State != store.LoginUsed || read.LoginHint != "written" {
				t.Errorf("stored state %q, hint %q, want used and written", read.State, read.LoginHint)
			}
		})

		t.Run("a map changed in place", func(t *testing.T) {
			must(t, s.CreateSession(ctx, &store.Session{ID: "s", AuthTime: base, ExpiresAt: base.Add(time.Hour),
				Grants: store.Grants{"c1": {"openid"}}}))
			_, err := s.UpdateSession(ctx, "s", func(sess *store.Session) error {
				sess.Grants["c2"] = store.StringList{"openid", "vaccination_status"}
				sess.Grants["c1"][0] = "profile"
				return nil
			})
			must(t, err)
			read, err := s.GetSession(ctx, "s", base)
			must(t, err)
			if got := fmt.Sprint(read.Grants); got != "map[c1:[profile] c2:[openid vaccination_status]]" {
				t.Errorf("stored grants %s", got)
			}
		})

		t.Run("updated_at moves only with a write", func(t *testing.T) {
			must(t, s.CreateClient(ctx, newClient("cu", "Rail")))
			created, err := s.GetClient(ctx, "cu")
			must(t, err)
			time.Sleep(2 * time.Millisecond)
			_, err = s.UpdateClient(ctx, "cu", func(c *store.Client) error { c.Name = "Rail"; return nil })
			must(t, err)
			read, err := s.GetClient(ctx, "cu")
			must(t, err)
			sameTime(t, "UpdatedAt after no change", read.UpdatedAt, created.UpdatedAt)
			got, err := s.UpdateClient(ctx, "cu", func(c *store.Client) error { c.Name = "Indian Rail"; return nil })
			must(t, err)
			read, err = s.GetClient(ctx, "cu")
			must(t, err)
			if !read.UpdatedAt.After(created.UpdatedAt) || read.Name != "Indian Rail" {
				t.Errorf("after a change: name %q, UpdatedAt %v not after %v", read.Name, read.UpdatedAt, created.UpdatedAt)
			}
			sameTime(t, "returned UpdatedAt", got.UpdatedAt, read.UpdatedAt)
		})
	})
}

// storedRow is r as JSON with its times as the store keeps them (UTC,
// microseconds), to compare rows column by column.
func storedRow(t *testing.T, r *store.LoginRequest) string {
	t.Helper()
	c := *r
	at := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		u := p.UTC().Truncate(time.Microsecond)
		return &u
	}
	c.CreatedAt, c.ExpiresAt = *at(&c.CreatedAt), *at(&c.ExpiresAt)
	c.OTPSentAt, c.OTPExpiresAt, c.AuthTime, c.LimitedUntil = at(c.OTPSentAt), at(c.OTPExpiresAt), at(c.AuthTime), at(c.LimitedUntil)
	b, err := json.Marshal(c)
	must(t, err)
	return string(b)
}

// BenchmarkUpdateLoginRequest measures the read-modify-write of a sign-in
// step on each backend, each in its own transaction: a wrong code (one
// column) and a code sent (its hash, times and count change; state, mobile
// and name are set to what they already are after the first).
func BenchmarkUpdateLoginRequest(b *testing.B) {
	storetest.ForEachBench(b, func(b *testing.B, dialect string) {
		s := storetest.Open(b, dialect)
		ctx := context.Background()
		now := time.Now()
		if err := s.CreateLoginRequest(ctx, newLoginRequest("lr", now.Add(time.Hour))); err != nil {
			b.Fatal(err)
		}
		steps := []struct {
			name   string
			update func(r *store.LoginRequest, i int)
		}{
			{"wrong code", func(r *store.LoginRequest, i int) { r.OTPTries++ }},
			{"code sent", func(r *store.LoginRequest, i int) {
				sent, expires := now.Add(time.Duration(i)*time.Microsecond), now.Add(3*time.Minute+time.Duration(i)*time.Microsecond)
				r.State, r.Mobile, r.Name = store.LoginOTPSent, "+919876543210", "Asha"
				r.OTPHash = []byte{byte(i), byte(i >> 8), 1, 2, 3, 4, 5, 6}
				r.OTPSentAt, r.OTPExpiresAt = &sent, &expires
				r.OTPSends++
			}},
		}
		for _, step := range steps {
			b.Run(step.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := range b.N {
					if _, err := s.UpdateLoginRequest(ctx, "lr", func(r *store.LoginRequest) error {
						step.update(r, i)
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// A sign-in step as the flow makes it: the request is read (to
		// show or check the form), then updated, locked or from the read.
		for _, from := range []bool{false, true} {
			b.Run(fmt.Sprintf("read then code sent, from %v", from), func(b *testing.B) {
				b.ReportAllocs()
				for i := range b.N {
					r, err := s.GetLoginRequest(ctx, "lr")
					if err != nil {
						b.Fatal(err)
					}
					update := func(r *store.LoginRequest) error { steps[1].update(r, i); return nil }
					if from {
						_, err = s.UpdateLoginRequestFrom(ctx, r, update)
					} else {
						_, err = s.UpdateLoginRequest(ctx, "lr", update)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	})
}

// TestUpdateLoginRequestFrom: an update from a row read earlier is never
// lost to a write made since, however it raced: the updater then runs
// again on the row as it is now. Its refusal of the row as read is
// checked against the row as it is now; a kept change is written and its
// error returned; a request gone is ErrNotFound; inside a transaction that
// rolls back nothing stays.
func TestUpdateLoginRequestFrom(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		tries := func(r *store.LoginRequest) error { r.OTPTries++; return nil }
		create := func(id string) *store.LoginRequest {
			t.Helper()
			must(t, s.CreateLoginRequest(ctx, newLoginRequest(id, time.Now().Add(time.Hour))))
			r, err := s.GetLoginRequest(ctx, id)
			must(t, err)
			return r
		}

		t.Run("written since", func(t *testing.T) {
			stale := create("stale")
			_, err := s.UpdateLoginRequest(ctx, "stale", tries)
			must(t, err)
			got, err := s.UpdateLoginRequestFrom(ctx, stale, tries)
			must(t, err)
			read, err := s.GetLoginRequest(ctx, "stale")
			must(t, err)
			if read.OTPTries != 2 || read.Version != 2 || got.OTPTries != 2 {
				t.Errorf("stored tries %d version %d, returned tries %d; want 2, 2, 2", read.OTPTries, read.Version, got.OTPTries)
			}
		})

		t.Run("refused as read, allowed as it is now", func(t *testing.T) {
			stale := create("moved")
			_, err := s.UpdateLoginRequest(ctx, "moved", func(r *store.LoginRequest) error { r.State = store.LoginOTPSent; return nil })
			must(t, err)
			calls := 0
			got, err := s.UpdateLoginRequestFrom(ctx, stale, func(r *store.LoginRequest) error {
				calls++
				if r.State != store.LoginOTPSent {
					return store.ErrConflict
				}
				r.State = store.LoginVerified
				return nil
			})
			must(t, err)
			if got.State != store.LoginVerified || calls != 2 {
				t.Errorf("state %q after %d calls, want verified after 2", got.State, calls)
			}
		})

		t.Run("refused as it is now", func(t *testing.T) {
			r := create("refused")
			_, err := s.UpdateLoginRequestFrom(ctx, r, func(*store.LoginRequest) error { return store.ErrConflict })
			wantErr(t, "refused", err, store.ErrConflict)
		})

		t.Run("kept changes", func(t *testing.T) {
			r := create("kept")
			errWrong := errors.New("wrong code")
			got, err := s.UpdateLoginRequestFrom(ctx, r, func(r *store.LoginRequest) error {
				r.OTPTries++
				return &store.KeepChanges{Err: errWrong}
			})
			wantErr(t, "kept", err, errWrong)
			read, rerr := s.GetLoginRequest(ctx, "kept")
			must(t, rerr)
			if got == nil || got.OTPTries != 1 || read.OTPTries != 1 {
				t.Errorf("returned %+v, stored tries %d; want the row with 1 try", got, read.OTPTries)
			}
		})

		t.Run("gone", func(t *testing.T) {
			r := create("gone")
			gone := *r
			gone.ID = "never-stored"
			_, err := s.UpdateLoginRequestFrom(ctx, &gone, tries)
			wantErr(t, "gone", err, store.ErrNotFound)
		})

		t.Run("rolled back", func(t *testing.T) {
			r := create("rolled")
			errStop := errors.New("stop")
			err := s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.UpdateLoginRequestFrom(ctx, r, tries); err != nil {
					return err
				}
				return errStop
			})
			wantErr(t, "rolled back", err, errStop)
			read, rerr := s.GetLoginRequest(ctx, "rolled")
			must(t, rerr)
			if read.OTPTries != 0 || read.Version != 0 {
				t.Errorf("stored tries %d version %d after a rollback", read.OTPTries, read.Version)
			}
		})

		t.Run("racing", func(t *testing.T) {
			// Every update reads the row first, as a sign-in step does,
			// then writes from what it read; none is lost.
			create("race")
			const n = 16
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() {
					r, err := s.GetLoginRequest(ctx, "race")
					if err == nil {
						_, err = s.UpdateLoginRequestFrom(ctx, r, tries)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				must(t, err)
			}
			read, err := s.GetLoginRequest(ctx, "race")
			must(t, err)
			if read.OTPTries != n || read.Version != n {
				t.Errorf("stored tries %d version %d, want %d and %d", read.OTPTries, read.Version, n, n)
			}
		})
	})
}
