package store_test

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestAPIKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateClient(ctx, newClient("air", "Air")))
		must(t, s.CreateClient(ctx, newClient("rail", "Rail")))
		newKey := func(id, client string, at time.Time) *store.APIKey {
			return &store.APIKey{ID: id, ClientID: client, Hash: []byte("hash-" + id), CreatedAt: at}
		}

		tests := []struct {
			name string
			key  *store.APIKey
			want error
		}{
			{"first key", newKey("k1", "air", base), nil},
			{"second key, same client", newKey("k2", "air", base.Add(time.Minute)), nil},
			{"other client", newKey("k3", "rail", base.Add(-time.Minute)), nil},
			{"taken ID", newKey("k1", "rail", base), store.ErrAlreadyExists},
			{"unknown client", newKey("k4", "nobody", base), store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateAPIKey", s.CreateAPIKey(ctx, tc.key), tc.want)
			})
		}

		got, err := s.GetAPIKey(ctx, "k2")
		must(t, err)
		if got.ClientID != "air" || !bytes.Equal(got.Hash, []byte("hash-k2")) || got.RevokedAt != nil {
			t.Fatalf("GetAPIKey = %+v", got)
		}
		sameTime(t, "CreatedAt", got.CreatedAt, base.Add(time.Minute))
		_, err = s.GetAPIKey(ctx, "k4")
		wantErr(t, "get unknown", err, store.ErrNotFound)

		ids := func(ks []store.APIKey) []string {
			var out []string
			for _, k := range ks {
				out = append(out, k.ID)
			}
			return out
		}
		air, err := s.ListAPIKeys(ctx, "air")
		must(t, err)
		all, err := s.ListAPIKeys(ctx, "")
		must(t, err)
		if got, want := ids(air), []string{"k1", "k2"}; !slices.Equal(got, want) {
			t.Errorf("ListAPIKeys(air) = %v, want %v", got, want)
		}
		if got, want := ids(all), []string{"k1", "k2", "k3"}; !slices.Equal(got, want) {
			t.Errorf("ListAPIKeys() = %v, want %v", got, want)
		}

		revokedAt := base.Add(time.Hour)
		must(t, s.RevokeAPIKey(ctx, "k1", revokedAt))
		wantErr(t, "revoke twice", s.RevokeAPIKey(ctx, "k1", revokedAt.Add(time.Hour)), store.ErrConflict)
		wantErr(t, "revoke unknown", s.RevokeAPIKey(ctx, "nope", revokedAt), store.ErrNotFound)
		k1, err := s.GetAPIKey(ctx, "k1")
		must(t, err)
		if k1.RevokedAt == nil {
			t.Fatal("revoked key has no RevokedAt")
		}
		sameTime(t, "RevokedAt", *k1.RevokedAt, revokedAt)

		// A client's keys go with it.
		must(t, s.DeleteClient(ctx, "air"))
		left, err := s.ListAPIKeys(ctx, "")
		must(t, err)
		if got, want := ids(left), []string{"k3"}; !slices.Equal(got, want) {
			t.Errorf("keys after deleting the client = %v, want %v", got, want)
		}
	})
}

func newTxn(id string, expires time.Time) *store.APITransaction {
	sent := expires.Add(-3 * time.Minute)
	return &store.APITransaction{
		ID: id, ClientID: "air", APIKeyID: "k1", State: store.TxnOTPSent,
		Mobile: "+919876543210", Name: "Asha Verma",
		OTPHash: []byte{1, 2, 3}, OTPSentAt: &sent, OTPExpiresAt: &expires,
		CreatedAt: sent, ExpiresAt: expires,
	}
}

func TestAPITransactions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		ist := zone(t, "Asia/Kolkata")
		must(t, s.CreateAPITransaction(ctx, newTxn("t1", base.In(ist))))
		wantErr(t, "duplicate", s.CreateAPITransaction(ctx, newTxn("t1", base)), store.ErrAlreadyExists)
		_, err := s.GetAPITransaction(ctx, "nope")
		wantErr(t, "get unknown", err, store.ErrNotFound)

		got, err := s.GetAPITransaction(ctx, "t1")
		must(t, err)
		if got.State != store.TxnOTPSent || got.ClientID != "air" || got.APIKeyID != "k1" || got.Mobile != "+919876543210" ||
			!bytes.Equal(got.OTPHash, []byte{1, 2, 3}) || got.VerifiedAt != nil || got.OTPSentAt == nil || got.OTPExpiresAt == nil {
			t.Fatalf("GetAPITransaction = %+v", got)
		}
		sameTime(t, "ExpiresAt", got.ExpiresAt, base)
		sameTime(t, "OTPExpiresAt", *got.OTPExpiresAt, base)

		errWrong := errors.New("wrong OTP")
		verified := base.Add(time.Minute)
		tests := []struct {
			name    string
			update  func(*store.APITransaction) error
			wantErr error
			stored  func(t *testing.T, r *store.APITransaction)
		}{
			{
				name: "an error writes nothing",
				update: func(r *store.APITransaction) error {
					r.OTPTries = 99
					return errBoom
				},
				wantErr: errBoom,
				stored: func(t *testing.T, r *store.APITransaction) {
					if r.OTPTries != 0 {
						t.Errorf("OTPTries = %d, want 0", r.OTPTries)
					}
				},
			},
			{
				name: "KeepChanges writes and fails",
				update: func(r *store.APITransaction) error {
					r.OTPTries++
					return &store.KeepChanges{Err: errWrong}
				},
				wantErr: errWrong,
				stored: func(t *testing.T, r *store.APITransaction) {
					if r.OTPTries != 1 || r.State != store.TxnOTPSent {
						t.Errorf("tries %d state %q, want 1 and otp_sent", r.OTPTries, r.State)
					}
				},
			},
			{
				name: "changes are written",
				update: func(r *store.APITransaction) error {
					r.ID = "other" // ignored: the key is not the updater's
					r.State = store.TxnVerified
					r.BeneficiaryID = "B-1"
					r.OTPHash, r.Mobile, r.Name = nil, "", ""
					r.VerifiedAt = &verified
					r.ExpiresAt = verified.Add(15 * time.Minute)
					return nil
				},
				stored: func(t *testing.T, r *store.APITransaction) {
					if r.State != store.TxnVerified || r.BeneficiaryID != "B-1" || len(r.OTPHash) != 0 || r.Mobile != "" || r.VerifiedAt == nil {
						t.Errorf("stored %+v", r)
					}
					sameTime(t, "ExpiresAt", r.ExpiresAt, verified.Add(15*time.Minute))
				},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ret, err := s.UpdateAPITransaction(ctx, "t1", tc.update)
				wantErr(t, "UpdateAPITransaction", err, tc.wantErr)
				if (ret == nil) != (tc.wantErr == errBoom) {
					t.Errorf("returned transaction %+v with error %v", ret, err)
				}
				r, err := s.GetAPITransaction(ctx, "t1")
				must(t, err)
				tc.stored(t, r)
			})
		}
		if _, err := s.GetAPITransaction(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("updater changed the key: %v", err)
		}
		_, err = s.UpdateAPITransaction(ctx, "nope", func(*store.APITransaction) error { return nil })
		wantErr(t, "update unknown", err, store.ErrNotFound)

		must(t, s.DeleteAPITransaction(ctx, "t1"))
		must(t, s.DeleteAPITransaction(ctx, "t1")) // unknown: not an error
		_, err = s.GetAPITransaction(ctx, "t1")
		wantErr(t, "get deleted", err, store.ErrNotFound)
	})
}

// TestAPITransactionConcurrentUse: of many racing uses of one OTP, one wins.
func TestAPITransactionConcurrentUse(t *testing.T) {
	const n = 10
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateAPITransaction(ctx, newTxn("race", base.Add(time.Hour))))
		errUsed := errors.New("used")
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := s.UpdateAPITransaction(ctx, "race", func(r *store.APITransaction) error {
					if r.State != store.TxnOTPSent {
						return errUsed
					}
					r.State = store.TxnVerified
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		wins := 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, errUsed):
				t.Errorf("UpdateAPITransaction: %v", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d racing uses won, want 1", wins)
		}
	})
}

func TestDeleteExpiredAPITransactions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		for id, exp := range map[string]time.Time{"old1": base.Add(-time.Second), "old2": base.Add(-time.Hour), "live": base.Add(time.Second)} {
			must(t, s.CreateAPITransaction(ctx, newTxn(id, exp)))
		}
		res, err := s.DeleteExpired(ctx, base, 24*time.Hour)
		must(t, err)
		if res.APITransactions != 2 {
			t.Errorf("DeleteExpired removed %d API transactions, want 2", res.APITransactions)
		}
		if _, err := s.GetAPITransaction(ctx, "live"); err != nil {
			t.Errorf("live transaction removed: %v", err)
		}
	})
}

// TestLimitRetryAt: a refusal says when the limit frees up again.
func TestLimitRetryAt(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		const window = time.Hour
		send := func(key string, max int, at time.Time) error {
			return s.RecordOTPSend(ctx, at, store.Limit{Key: key, Max: max, Since: at.Add(-window)})
		}
		tests := []struct {
			name  string
			max   int
			sends []time.Duration // after base, all allowed
			at    time.Duration   // the refused send
			retry time.Duration   // after base
		}{
			{"one allowed: the wait runs from it", 1, []time.Duration{10 * time.Minute}, 20 * time.Minute, 70 * time.Minute},
			{"three allowed: the oldest frees a place", 3, []time.Duration{0, time.Minute, 2 * time.Minute}, 30 * time.Minute, 60 * time.Minute},
			{"older sends outside the window do not count", 2, []time.Duration{-2 * time.Hour, 5 * time.Minute, 6 * time.Minute}, 10 * time.Minute, 65 * time.Minute},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				key := "retry:" + tc.name
				for _, d := range tc.sends {
					must(t, send(key, tc.max, base.Add(d)))
				}
				err := send(key, tc.max, base.Add(tc.at))
				var le *store.LimitError
				if !errors.As(err, &le) || !errors.Is(err, store.ErrLimited) {
					t.Fatalf("error %v, want a *LimitError that is ErrLimited", err)
				}
				if le.Key != key {
					t.Errorf("Key = %q, want %q", le.Key, key)
				}
				sameTime(t, "RetryAt", le.RetryAt, base.Add(tc.retry))
				// At RetryAt the send goes through.
				must(t, send(key, tc.max, le.RetryAt))
			})
		}

		t.Run("a forgotten send frees its place", func(t *testing.T) {
			at := base.Add(72 * time.Hour)
			must(t, s.RecordOTPSend(ctx, at.Add(-time.Minute), store.Limit{Key: "f", Max: 2, Since: at.Add(-window)}))
			must(t, s.RecordOTPSend(ctx, at, store.Limit{Key: "f", Max: 2, Since: at.Add(-window)}, store.Limit{Key: "g"}))
			must(t, s.ForgetOTPSend(ctx, at, "f"))
			must(t, s.ForgetOTPSend(ctx, at))
			if n, err := s.CountOTPEvents(ctx, "f", at.Add(-window)); err != nil || n != 1 {
				t.Errorf("f: %d events, %v; want the earlier one left", n, err)
			}
			if n, err := s.CountOTPEvents(ctx, "g", at.Add(-window)); err != nil || n != 1 {
				t.Errorf("g: %d events, %v; want it untouched", n, err)
			}
		})

		t.Run("the first refusing limit is named", func(t *testing.T) {
			at := base.Add(48 * time.Hour)
			must(t, s.RecordOTPSend(ctx, at, store.Limit{Key: "a", Max: 1, Since: at.Add(-window)}, store.Limit{Key: "b", Max: 1, Since: at.Add(-window)}))
			err := s.RecordOTPSend(ctx, at, store.Limit{Key: "a", Max: 5, Since: at.Add(-window)}, store.Limit{Key: "b", Max: 1, Since: at.Add(-window)})
			var le *store.LimitError
			if !errors.As(err, &le) || le.Key != "b" {
				t.Fatalf("error %v, want a limit error for b", err)
			}
		})
	})
}
