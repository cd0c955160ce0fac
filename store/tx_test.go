package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestInTx(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateClient(ctx, newClient("existing", "Existing")))

		// writeAll makes one write of every kind with the context it gets,
		// and checks the transaction reads its own writes.
		writeAll := func(ctx context.Context, t *testing.T, suffix string) {
			t.Helper()
			must(t, s.CreateClient(ctx, newClient("c"+suffix, "New")))
			_, err := s.UpdateClient(ctx, "existing", func(c *store.Client) error {
				c.Name = "Renamed" + suffix
				return nil
			})
			must(t, err)
			must(t, s.CreateLoginRequest(ctx, newLoginRequest("lr"+suffix, base.Add(time.Hour))))
			_, err = s.UpdateLoginRequest(ctx, "lr"+suffix, func(r *store.LoginRequest) error {
				r.State = store.LoginApproved
				return nil
			})
			must(t, err)
			must(t, s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "code"+suffix, "r", "c"+suffix)))
			must(t, s.CreateDisclosure(ctx, &store.Disclosure{ID: "d" + suffix, ClientID: "c" + suffix, Channel: "authorize"}))
			_, err = s.ReplaceBeneficiaries(ctx, []store.Beneficiary{person("b"+suffix, "+919876543210", "Asha", dose(1, 2, "2021-01-01"))})
			must(t, err)
			must(t, s.RecordOTPSend(ctx, base, store.Limit{Key: "k" + suffix, Max: 1, Since: base.Add(-time.Hour)}))
			if c, err := s.GetClient(ctx, "c"+suffix); err != nil || c.Name != "New" {
				t.Fatalf("read own write: %+v, %v", c, err)
			}
		}
		// visible reports which of the writes of suffix are visible outside.
		visible := func(t *testing.T, suffix string) (n int) {
			t.Helper()
			seen := func(err error) {
				switch {
				case err == nil:
					n++
				case !isNotFound(err):
					t.Fatal(err)
				}
			}
			_, err := s.GetClient(ctx, "c"+suffix)
			seen(err)
			if c, err := s.GetClient(ctx, "existing"); err != nil {
				t.Fatal(err)
			} else if c.Name == "Renamed"+suffix {
				n++
			}
			lr, err := s.GetLoginRequest(ctx, "lr"+suffix)
			seen(err)
			if err == nil && lr.State != store.LoginApproved {
				t.Errorf("login request committed without its update: %+v", lr)
			}
			_, err = s.GetToken(ctx, store.KindAuthorizeCode, "code"+suffix)
			seen(err)
			if ds, err := s.ListDisclosures(ctx, store.DisclosureFilter{ClientID: "c" + suffix}); err != nil {
				t.Fatal(err)
			} else {
				n += len(ds)
			}
			_, err = s.GetBeneficiary(ctx, "b"+suffix)
			seen(err)
			if k, err := s.CountOTPEvents(ctx, "k"+suffix, base.Add(-time.Hour)); err != nil {
				t.Fatal(err)
			} else {
				n += int(k)
			}
			return n
		}
		const writes = 7

		tests := []struct {
			name        string
			fn          func(ctx context.Context, t *testing.T, suffix string) error
			wantErr     error
			wantVisible int
		}{
			{"error rolls back", func(ctx context.Context, t *testing.T, suffix string) error {
				writeAll(ctx, t, suffix)
				return errBoom
			}, errBoom, 0},
			{"nested success, outer error", func(ctx context.Context, t *testing.T, suffix string) error {
				must(t, s.InTx(ctx, func(ctx context.Context) error {
					writeAll(ctx, t, suffix)
					return nil
				}))
				return errBoom
			}, errBoom, 0},
			{"store error rolls back earlier writes", func(ctx context.Context, t *testing.T, suffix string) error {
				writeAll(ctx, t, suffix)
				return s.CreateClient(ctx, newClient("c"+suffix, "Again"))
			}, store.ErrAlreadyExists, 0},
			{"commit", func(ctx context.Context, t *testing.T, suffix string) error {
				writeAll(ctx, t, suffix)
				return nil
			}, nil, writes},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				suffix := string(rune('a' + i))
				err := s.InTx(ctx, func(ctx context.Context) error { return tc.fn(ctx, t, suffix) })
				wantErr(t, "InTx", err, tc.wantErr)
				if n := visible(t, suffix); n != tc.wantVisible {
					t.Errorf("%d of %d writes visible, want %d", n, writes, tc.wantVisible)
				}
			})
		}
	})
}
