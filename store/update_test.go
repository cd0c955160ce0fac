package store_test

import (
	"context"
	"encoding/json"
	"fmt"
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
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprintf("lr%d", i)
				must(t, s.CreateLoginRequest(ctx, fresh(id)))
				want := fresh(id)
				tc.update(want)

				before, _ := s.Counts()
				got, err := s.UpdateLoginRequest(ctx, id, func(r *store.LoginRequest) error {
					tc.update(r)
					return nil
				})
				must(t, err)
				after, _ := s.Counts()
				wantStatements := uint64(1) // the locked read
				if tc.writes {
					wantStatements++
				}
				if n := after - before; n != wantStatements {
					t.Errorf("%d statements, want %d", n, wantStatements)
				}
				read, err := s.GetLoginRequest(ctx, id)
				must(t, err)
				if r, w := storedRow(t, read), storedRow(t, want); r != w {
					t.Errorf("stored\n%s\nwant\n%s", r, w)
				}
				if r, g := storedRow(t, read), storedRow(t, got); r != g {
					t.Errorf("returned\n%s\nstored\n%s", g, r)
				}
				for what, at := range map[string]*time.Time{"CreatedAt": &got.CreatedAt, "ExpiresAt": &got.ExpiresAt, "OTPSentAt": got.OTPSentAt} {
					if at != nil && (at.Location() != time.UTC || at.Nanosecond()%1000 != 0) {
						t.Errorf("returned %s %v, want UTC microseconds as stored", what, at)
					}
				}
			})
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
	})
}
