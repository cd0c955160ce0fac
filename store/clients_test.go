package store_test

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func newClient(id, name string) *store.Client {
	return &store.Client{
		ID:                      id,
		Name:                    name,
		SecretHash:              []byte{0, 1, 2, 0xff},
		RedirectURIs:            store.StringList{"https://rp.example/cb", "https://rp.example/cb2"},
		Scopes:                  store.StringList{"openid", "vaccination_status"},
		TokenEndpointAuthMethod: "client_secret_basic",
		SectorIdentifier:        "https://rp.example/sector.json",
	}
}

func TestClients(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateClient(ctx, newClient("c1", "Zeta Airlines")))
		must(t, s.CreateClient(ctx, newClient("c2", "Alpha Rail")))
		pub := newClient("c3", "Alpha Rail")
		pub.SecretHash, pub.Public, pub.TokenEndpointAuthMethod = nil, true, "none"
		must(t, s.CreateClient(ctx, pub))

		t.Run("public redirect URIs", func(t *testing.T) {
			off := newClient("c4", "Off Rail")
			off.SecretHash, off.Public, off.Disabled = nil, true, true
			off.RedirectURIs = store.StringList{"https://off.example/cb"}
			must(t, s.CreateClient(ctx, off))
			got, err := s.PublicRedirectURIs(ctx)
			must(t, err)
			// Only c3: c1 and c2 are confidential, c4 is disabled.
			if !slices.Equal(got, []string{"https://rp.example/cb", "https://rp.example/cb2"}) {
				t.Fatalf("got %v", got)
			}
			must(t, s.DeleteClient(ctx, "c4"))
		})

		t.Run("get", func(t *testing.T) {
			got, err := s.GetClient(ctx, "c1")
			must(t, err)
			want := newClient("c1", "Zeta Airlines")
			if got.Name != want.Name || !bytes.Equal(got.SecretHash, want.SecretHash) ||
				!slices.Equal(got.RedirectURIs, want.RedirectURIs) || !slices.Equal(got.Scopes, want.Scopes) ||
				got.Public || got.TokenEndpointAuthMethod != want.TokenEndpointAuthMethod ||
				got.SectorIdentifier != want.SectorIdentifier || got.Disabled {
				t.Errorf("GetClient = %+v, want %+v", got, want)
			}
			if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
				t.Errorf("CreatedAt %v, UpdatedAt %v: want both set and equal", got.CreatedAt, got.UpdatedAt)
			}
			p, err := s.GetClient(ctx, "c3")
			must(t, err)
			if !p.Public || len(p.SecretHash) != 0 {
				t.Errorf("public client read back as %+v", p)
			}
		})

		t.Run("list ordered by name then id", func(t *testing.T) {
			cs, err := s.ListClients(ctx)
			must(t, err)
			var ids []string
			for _, c := range cs {
				ids = append(ids, c.ID)
			}
			if want := []string{"c2", "c3", "c1"}; !slices.Equal(ids, want) {
				t.Errorf("ListClients ids = %v, want %v", ids, want)
			}
		})

		t.Run("update", func(t *testing.T) {
			before, err := s.GetClient(ctx, "c1")
			must(t, err)
			time.Sleep(2 * time.Millisecond) // UpdatedAt must move
			got, err := s.UpdateClient(ctx, "c1", func(c *store.Client) error {
				c.ID = "hijacked" // the key is not the updater's to change
				c.Disabled = true
				c.RedirectURIs = store.StringList{"https://rp.example/new"}
				c.SecretHash = []byte("rotated")
				return nil
			})
			must(t, err)
			if got.ID != "c1" || !got.Disabled {
				t.Errorf("UpdateClient returned %+v", got)
			}
			read, err := s.GetClient(ctx, "c1")
			must(t, err)
			if !read.Disabled || !slices.Equal(read.RedirectURIs, store.StringList{"https://rp.example/new"}) ||
				string(read.SecretHash) != "rotated" || read.Name != "Zeta Airlines" {
				t.Errorf("after UpdateClient read %+v", read)
			}
			sameTime(t, "CreatedAt", read.CreatedAt, before.CreatedAt)
			if !read.UpdatedAt.After(before.UpdatedAt) {
				t.Errorf("UpdatedAt %v not after %v", read.UpdatedAt, before.UpdatedAt)
			}
			if _, err := s.GetClient(ctx, "hijacked"); !isNotFound(err) {
				t.Errorf("GetClient(hijacked) = %v, want ErrNotFound", err)
			}
		})

		t.Run("updater error writes nothing", func(t *testing.T) {
			got, err := s.UpdateClient(ctx, "c2", func(c *store.Client) error {
				c.Name = "changed"
				c.Disabled = true
				return errBoom
			})
			wantErr(t, "UpdateClient", err, errBoom)
			if got != nil {
				t.Errorf("UpdateClient returned %+v with an error", got)
			}
			read, err := s.GetClient(ctx, "c2")
			must(t, err)
			if read.Name != "Alpha Rail" || read.Disabled {
				t.Errorf("failed update was written: %+v", read)
			}
		})

		errCases := []struct {
			name string
			op   func(ctx context.Context) error
			want error
		}{
			{"create duplicate", func(ctx context.Context) error {
				return s.CreateClient(ctx, newClient("c2", "Other"))
			}, store.ErrAlreadyExists},
			{"get unknown", func(ctx context.Context) error {
				_, err := s.GetClient(ctx, "nope")
				return err
			}, store.ErrNotFound},
			{"update unknown", func(ctx context.Context) error {
				_, err := s.UpdateClient(ctx, "nope", func(*store.Client) error {
					t.Error("updater called for an unknown client")
					return nil
				})
				return err
			}, store.ErrNotFound},
			{"delete unknown", func(ctx context.Context) error {
				return s.DeleteClient(ctx, "nope")
			}, store.ErrNotFound},
		}
		for _, tc := range errCases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.name, tc.op(ctx), tc.want)
			})
		}
		// The failed duplicate left the original alone.
		if c, err := s.GetClient(ctx, "c2"); err != nil || c.Name != "Alpha Rail" {
			t.Errorf("after duplicate create: %+v, %v", c, err)
		}

		t.Run("delete removes the client's tokens", func(t *testing.T) {
			must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "sig-c3", "r1", "c3")))
			must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "sig-c2", "r2", "c2")))
			must(t, s.DeleteClient(ctx, "c3"))
			if _, err := s.GetClient(ctx, "c3"); !isNotFound(err) {
				t.Errorf("GetClient after delete: %v", err)
			}
			if _, err := s.GetToken(ctx, store.KindAccessToken, "sig-c3"); !isNotFound(err) {
				t.Errorf("token of deleted client: %v, want ErrNotFound", err)
			}
			if _, err := s.GetToken(ctx, store.KindAccessToken, "sig-c2"); err != nil {
				t.Errorf("token of another client: %v", err)
			}
			wantErr(t, "second DeleteClient", s.DeleteClient(ctx, "c3"), store.ErrNotFound)
		})
	})
}

func TestSigningKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		for i, kid := range []string{"k1", "k2", "k3"} {
			must(t, s.CreateSigningKey(ctx, &store.SigningKey{
				KID: kid, Alg: "RS256", Ciphertext: []byte("sealed-" + kid),
				CreatedAt: base.Add(time.Duration(i) * time.Hour),
			}))
		}
		wantErr(t, "duplicate kid",
			s.CreateSigningKey(ctx, &store.SigningKey{KID: "k2", Alg: "ES256", Ciphertext: []byte("x")}),
			store.ErrAlreadyExists)

		retired := base.Add(5 * time.Hour)
		must(t, s.RetireSigningKey(ctx, "k1", retired))
		wantErr(t, "retire unknown", s.RetireSigningKey(ctx, "nope", retired), store.ErrNotFound)
		wantErr(t, "retire twice", s.RetireSigningKey(ctx, "k1", retired.Add(time.Hour)), store.ErrConflict)

		ks, err := s.ListSigningKeys(ctx)
		must(t, err)
		var kids []string
		for _, k := range ks {
			kids = append(kids, k.KID)
		}
		if want := []string{"k3", "k2", "k1"}; !slices.Equal(kids, want) {
			t.Fatalf("ListSigningKeys = %v, want newest first %v", kids, want)
		}
		for _, k := range ks {
			if string(k.Ciphertext) != "sealed-"+k.KID || k.Alg != "RS256" {
				t.Errorf("key %s read back as %+v", k.KID, k)
			}
			switch {
			case k.KID == "k1" && (k.RetiredAt == nil || !k.RetiredAt.Equal(retired)):
				t.Errorf("k1 RetiredAt = %v, want %v (the first retirement)", k.RetiredAt, retired)
			case k.KID != "k1" && k.RetiredAt != nil:
				t.Errorf("%s RetiredAt = %v, want nil", k.KID, k.RetiredAt)
			}
		}
		sameTime(t, "k3 CreatedAt", ks[0].CreatedAt, base.Add(2*time.Hour))
	})
}
