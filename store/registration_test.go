package store_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func TestInitialAccessTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		tok := &store.InitialAccessToken{ID: "kycvsiat_01", Name: "rail", Hash: []byte{1, 2}, MaxUses: 2, ExpiresAt: base.Add(time.Hour), CreatedAt: base, CreatedBy: "cli:root@host"}
		must(t, s.CreateInitialAccessToken(ctx, tok))
		wantErr(t, "duplicate", s.CreateInitialAccessToken(ctx, &store.InitialAccessToken{ID: "kycvsiat_01", Hash: []byte{3}, MaxUses: 1, ExpiresAt: base}), store.ErrAlreadyExists)
		must(t, s.CreateInitialAccessToken(ctx, &store.InitialAccessToken{ID: "kycvsiat_02", Hash: []byte{4}, MaxUses: 1, ExpiresAt: base.Add(time.Hour), CreatedAt: base.Add(time.Second)}))

		got, err := s.GetInitialAccessToken(ctx, "kycvsiat_01")
		must(t, err)
		if got.Name != "rail" || !bytes.Equal(got.Hash, []byte{1, 2}) || got.MaxUses != 2 || got.Uses != 0 || !got.ExpiresAt.Equal(base.Add(time.Hour)) || got.LastUsedAt != nil {
			t.Fatalf("GetInitialAccessToken = %+v", got)
		}
		_, err = s.GetInitialAccessToken(ctx, "nope")
		wantErr(t, "get unknown", err, store.ErrNotFound)

		// Uses are counted under a lock; a refusing update writes nothing.
		used := base.Add(time.Minute)
		for range 2 {
			_, err := s.UpdateInitialAccessToken(ctx, "kycvsiat_01", func(t *store.InitialAccessToken) error {
				if !t.Usable(used) {
					return errors.New("unusable")
				}
				t.Uses++
				t.LastUsedAt = &used
				return nil
			})
			must(t, err)
		}
		got, _ = s.GetInitialAccessToken(ctx, "kycvsiat_01")
		if got.Uses != 2 || got.Usable(used) || got.LastUsedAt == nil || !got.LastUsedAt.Equal(used) {
			t.Fatalf("after two uses: %+v", got)
		}
		_, err = s.UpdateInitialAccessToken(ctx, "nope", func(*store.InitialAccessToken) error { return nil })
		wantErr(t, "update unknown", err, store.ErrNotFound)

		if !(&store.InitialAccessToken{MaxUses: 1, ExpiresAt: base}).Usable(base.Add(-time.Second)) || (&store.InitialAccessToken{MaxUses: 1, ExpiresAt: base}).Usable(base) {
			t.Error("Usable: expiry is exclusive")
		}
		must(t, s.RevokeInitialAccessToken(ctx, "kycvsiat_02", base.Add(2*time.Minute)))
		wantErr(t, "revoke twice", s.RevokeInitialAccessToken(ctx, "kycvsiat_02", base.Add(3*time.Minute)), store.ErrConflict)
		wantErr(t, "revoke unknown", s.RevokeInitialAccessToken(ctx, "nope", base), store.ErrNotFound)
		ts, err := s.ListInitialAccessTokens(ctx)
		must(t, err)
		if len(ts) != 2 || ts[0].ID != "kycvsiat_02" || ts[0].RevokedAt == nil || ts[0].Usable(base) || ts[1].ID != "kycvsiat_01" {
			t.Fatalf("ListInitialAccessTokens = %+v", ts)
		}

		// A client keeps its registration access token's hash through an
		// update.
		must(t, s.CreateClient(ctx, &store.Client{ID: "c1", Name: "Rail", RegistrationTokenHash: []byte{9}, RegisteredWith: "kycvsiat_01"}))
		c, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error { c.Name = "Rail 2"; return nil })
		must(t, err)
		if !bytes.Equal(c.RegistrationTokenHash, []byte{9}) || c.RegisteredWith != "kycvsiat_01" {
			t.Fatalf("client after update: %+v", c)
		}
	})
}
