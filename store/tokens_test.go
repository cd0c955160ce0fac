package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

func newToken(kind, signature, requestID, clientID string) *store.OAuthToken {
	return &store.OAuthToken{
		Kind:          kind,
		Signature:     signature,
		RequestID:     requestID,
		ClientID:      clientID,
		Subject:       "pairwise-sub",
		RequestedAt:   base,
		ExpiresAt:     base.Add(time.Hour),
		Scopes:        store.StringList{"openid", "vaccination_status"},
		GrantedScopes: store.StringList{"openid"},
		Form:          "redirect_uri=https%3A%2F%2Frp.example%2Fcb",
		Session:       []byte(`{"subject":"pairwise-sub"}`),
		Active:        true,
	}
}

func TestTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "sig1", "r1", "c1")))
		// One signature may exist once per kind.
		must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "sig1", "r1", "c1")))
		wantErr(t, "duplicate", s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "sig1", "r2", "c2")), store.ErrAlreadyExists)

		got, err := s.GetToken(ctx, store.KindAuthorizeCode, "sig1")
		must(t, err)
		want := newToken(store.KindAuthorizeCode, "sig1", "r1", "c1")
		if got.RequestID != want.RequestID || got.ClientID != want.ClientID || got.Subject != want.Subject ||
			!slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.GrantedScopes, want.GrantedScopes) ||
			len(got.Audience) != 0 || got.Form != want.Form || string(got.Session) != string(want.Session) || !got.Active {
			t.Errorf("GetToken = %+v, want %+v", got, want)
		}
		sameTime(t, "RequestedAt", got.RequestedAt, want.RequestedAt)
		sameTime(t, "ExpiresAt", got.ExpiresAt, want.ExpiresAt)

		tests := []struct {
			name      string
			kind, sig string
			want      error
		}{
			{"first deactivation", store.KindAuthorizeCode, "sig1", nil},
			{"second deactivation conflicts", store.KindAuthorizeCode, "sig1", store.ErrConflict},
			{"unknown", store.KindAuthorizeCode, "nope", store.ErrNotFound},
			{"no row of that kind", store.KindRefreshToken, "sig1", store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "DeactivateToken", s.DeactivateToken(ctx, tc.kind, tc.sig), tc.want)
			})
		}
		if tok, err := s.GetToken(ctx, store.KindAuthorizeCode, "sig1"); err != nil || tok.Active {
			t.Errorf("used code: %+v, %v: want it kept, inactive", tok, err)
		}
		if tok, err := s.GetToken(ctx, store.KindAccessToken, "sig1"); err != nil || !tok.Active {
			t.Errorf("access token of the same signature: %+v, %v: want active", tok, err)
		}

		t.Run("concurrent deactivation: one wins", func(t *testing.T) {
			const n = 10
			must(t, s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "race", "r9", "c1")))
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Go(func() { errs <- s.DeactivateToken(ctx, store.KindAuthorizeCode, "race") })
			}
			wg.Wait()
			close(errs)
			won := 0
			for err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("DeactivateToken: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d concurrent deactivations won, want 1", won)
			}
		})

		t.Run("hold an active token", func(t *testing.T) {
			must(t, s.CreateToken(ctx, newToken(store.KindRefreshToken, "held", "held-grant", "c1")))
			must(t, s.InTx(ctx, func(ctx context.Context) error { return s.HoldActiveToken(ctx, store.KindRefreshToken, "held") }))
			if tok, err := s.GetToken(ctx, store.KindRefreshToken, "held"); err != nil || !tok.Active {
				t.Errorf("held token: %+v, %v: want it unchanged, active", tok, err)
			}
			wantErr(t, "unknown", s.HoldActiveToken(ctx, store.KindRefreshToken, "nope"), store.ErrNotFound)
			must(t, s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "held-grant"))
			wantErr(t, "inactive", s.HoldActiveToken(ctx, store.KindRefreshToken, "held"), store.ErrConflict)
		})

		t.Run("a revocation waits for the holder", func(t *testing.T) {
			must(t, s.CreateToken(ctx, newToken(store.KindRefreshToken, "held2", "held2-grant", "c1")))
			held, revoked := make(chan struct{}), make(chan error, 1)
			err := s.InTx(ctx, func(txCtx context.Context) error {
				if err := s.HoldActiveToken(txCtx, store.KindRefreshToken, "held2"); err != nil {
					return err
				}
				go func() {
					<-held
					revoked <- s.InTx(ctx, func(ctx context.Context) error {
						if err := s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "held2-grant"); err != nil {
							return err
						}
						return s.DeactivateTokensByRequest(ctx, store.KindAccessToken, "held2-grant")
					})
				}()
				close(held)
				time.Sleep(100 * time.Millisecond) // the revocation is waiting now
				return s.CreateToken(txCtx, newToken(store.KindAccessToken, "held2-at", "held2-grant", "c1"))
			})
			must(t, err)
			must(t, <-revoked)
			if tok, err := s.GetToken(ctx, store.KindAccessToken, "held2-at"); err != nil || tok.Active {
				t.Errorf("an access token written under the hold outlived the revocation: %+v, %v", tok, err)
			}
		})

		t.Run("by request", func(t *testing.T) {
			must(t, s.CreateToken(ctx, newToken(store.KindRefreshToken, "rt1", "grant", "c1")))
			must(t, s.CreateToken(ctx, newToken(store.KindRefreshToken, "rt2", "grant", "c1")))
			must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at1", "grant", "c1")))
			must(t, s.CreateToken(ctx, newToken(store.KindRefreshToken, "rt3", "other", "c1")))
			must(t, s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "grant"))
			must(t, s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "grant")) // idempotent
			must(t, s.DeactivateTokensByRequest(ctx, store.KindRefreshToken, "no-such-request"))
			active := map[string]bool{"rt1": false, "rt2": false, "rt3": true}
			for sig, want := range active {
				tok, err := s.GetToken(ctx, store.KindRefreshToken, sig)
				must(t, err)
				if tok.Active != want {
					t.Errorf("%s active = %v, want %v", sig, tok.Active, want)
				}
			}
			if tok, err := s.GetToken(ctx, store.KindAccessToken, "at1"); err != nil || !tok.Active {
				t.Errorf("access token of the grant: %+v, %v: want active (other kind)", tok, err)
			}
		})

		t.Run("delete", func(t *testing.T) {
			must(t, s.DeleteToken(ctx, store.KindAccessToken, "sig1"))
			wantErr(t, "second delete", s.DeleteToken(ctx, store.KindAccessToken, "sig1"), store.ErrNotFound)
			_, err := s.GetToken(ctx, store.KindAccessToken, "sig1")
			wantErr(t, "get deleted", err, store.ErrNotFound)
		})
	})
}

// The rows of one authorization code are written with one INSERT (all or
// none) and read back with one SELECT, by (kind, signature) pairs.
func TestTokensTogether(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		statements := func() uint64 { n, _ := s.Counts(); return n }
		code := newToken(store.KindAuthorizeCode, "sig", "r1", "c1")
		pkce := newToken(store.KindPKCE, "sig", "r1", "c1")
		oidc := newToken(store.KindOpenID, "raw.sig", "r1", "c1")
		before := statements()
		must(t, s.CreateTokens(ctx, []*store.OAuthToken{code, pkce, oidc}))
		must(t, s.CreateTokens(ctx, nil))
		if n := statements() - before; n != 1 {
			t.Errorf("three rows and none written with %d statements, want 1", n)
		}

		keys := []store.TokenKey{{Kind: store.KindAuthorizeCode, Signature: "sig"}, {Kind: store.KindPKCE, Signature: "sig"},
			{Kind: store.KindOpenID, Signature: "raw.sig"}, {Kind: store.KindRefreshToken, Signature: "sig"}, {Kind: store.KindOpenID, Signature: "bad\x00"}}
		before = statements()
		rows, err := s.GetTokens(ctx, keys...)
		must(t, err)
		if n := statements() - before; n != 1 {
			t.Errorf("GetTokens sent %d statements, want 1", n)
		}
		got := map[string]*store.OAuthToken{}
		for _, r := range rows {
			got[r.Kind+" "+r.Signature] = r
		}
		if len(got) != 3 || got["code sig"] == nil || got["pkce sig"] == nil || got["oidc raw.sig"] == nil {
			t.Fatalf("GetTokens = %v, want the code, PKCE and OpenID rows only", got)
		}
		if r := got["code sig"]; r.RequestID != "r1" || !r.Active || string(r.Session) != string(code.Session) || !slices.Equal(r.GrantedScopes, code.GrantedScopes) {
			t.Errorf("code row read back as %+v", r)
		}
		sameTime(t, "ExpiresAt", got["oidc raw.sig"].ExpiresAt, oidc.ExpiresAt)
		if rows, err := s.GetTokens(ctx, store.TokenKey{Kind: store.KindAuthorizeCode, Signature: "nope"}); err != nil || len(rows) != 0 {
			t.Errorf("GetTokens of no row = %v, %v, want none and no error", rows, err)
		}

		// One row that exists already fails the whole INSERT.
		other := newToken(store.KindAuthorizeCode, "sig2", "r2", "c1")
		wantErr(t, "a repeated row", s.CreateTokens(ctx, []*store.OAuthToken{other, newToken(store.KindPKCE, "sig", "r2", "c1")}), store.ErrAlreadyExists)
		_, err = s.GetToken(ctx, store.KindAuthorizeCode, "sig2")
		wantErr(t, "the other row of the failed INSERT", err, store.ErrNotFound)
	})
}

func TestDeleteExpired(t *testing.T) {
	const keep = 24 * time.Hour
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		now := base
		past, future := now.Add(-time.Second), now.Add(time.Second)
		// Login requests are kept a day past expiry, for "Back to
		// {verifier}", without the person's mobile, name or code.
		for id, exp := range map[string]time.Time{"lr-old1": past.Add(-store.LoginRequestKeep), "lr-old2": now.Add(-time.Hour - store.LoginRequestKeep),
			"lr-kept": now.Add(-time.Hour), "lr-live": future, "lr-now": now} {
			lr := newLoginRequest(id, exp)
			lr.Mobile, lr.Name, lr.OTPHash = "+919876543210", "Asha", []byte{1, 2, 3}
			must(t, s.CreateLoginRequest(ctx, lr))
		}
		for id, exp := range map[string]time.Time{"s-old": past, "s-live": future} {
			must(t, s.CreateSession(ctx, &store.Session{ID: id, AuthTime: exp.Add(-time.Minute), ExpiresAt: exp}))
		}
		for sig, exp := range map[string]time.Time{"t-old1": past, "t-old2": past, "t-old3": now.Add(-48 * time.Hour), "t-live": future} {
			tok := newToken(store.KindAccessToken, sig, "r", "c1")
			tok.ExpiresAt = exp
			must(t, s.CreateToken(ctx, tok))
		}
		for _, at := range []time.Time{now.Add(-keep - time.Second), now.Add(-keep - time.Hour), now.Add(-keep + time.Second)} {
			must(t, s.RecordOTPSend(ctx, at, store.Limit{Key: "k"}))
		}

		got, err := s.DeleteExpired(ctx, now, keep)
		must(t, err)
		if want := (store.CleanupResult{LoginRequests: 2, Sessions: 1, Tokens: 3, OTPEvents: 2}); got != want {
			t.Errorf("DeleteExpired = %+v, want %+v", got, want)
		}
		kept, err := s.GetLoginRequest(ctx, "lr-kept")
		must(t, err)
		if kept.Mobile != "" || kept.Name != "" || kept.LoginHint != "" || kept.OTPHash != nil || kept.ClientID == "" || kept.Form == "" {
			t.Errorf("expired login request kept as %+v, want client and form only", kept)
		}
		for _, id := range []string{"lr-live", "lr-now"} {
			if lr, err := s.GetLoginRequest(ctx, id); err != nil || lr.Mobile == "" {
				t.Errorf("%s: %v %+v, want it untouched", id, err, lr)
			}
		}
		got, err = s.DeleteExpired(ctx, now, keep)
		must(t, err)
		if got != (store.CleanupResult{}) {
			t.Errorf("second DeleteExpired = %+v, want nothing", got)
		}
		for _, id := range []string{"lr-live", "lr-now"} {
			if _, err := s.GetLoginRequest(ctx, id); err != nil {
				t.Errorf("live login request %s: %v", id, err)
			}
		}
		if _, err := s.GetSession(ctx, "s-live", now); err != nil {
			t.Errorf("live session: %v", err)
		}
		if _, err := s.GetToken(ctx, store.KindAccessToken, "t-live"); err != nil {
			t.Errorf("live token: %v", err)
		}
		if n, err := s.CountOTPEvents(ctx, "k", now.Add(-10*keep)); err != nil || n != 1 {
			t.Errorf("OTP events left: %d, %v, want 1", n, err)
		}
	})
}

// A token read with its client in one statement: the same two rows as the
// two reads give, ErrNotFound for an unknown token or one of no client.
func TestGetTokenAndClient(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		c := newClient("c1", "Zeta Airlines")
		c.PostLogoutRedirectURIs = store.StringList{"https://rp.example/bye"}
		must(t, s.CreateClient(ctx, c))
		must(t, s.CreateClient(ctx, newClient("c2", "Alpha Rail")))
		must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at1", "r1", "c1")))
		must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at2", "r2", "c2")))

		before, _ := s.Counts()
		tok, cl, err := s.GetTokenAndClient(ctx, store.KindAccessToken, "at1")
		must(t, err)
		if after, _ := s.Counts(); after-before != 1 {
			t.Errorf("%d statements, want 1", after-before)
		}
		wantTok, err := s.GetToken(ctx, store.KindAccessToken, "at1")
		must(t, err)
		wantCl, err := s.GetClient(ctx, "c1")
		must(t, err)
		if !reflect.DeepEqual(tok, wantTok) {
			t.Errorf("token %+v, want %+v", tok, wantTok)
		}
		if !reflect.DeepEqual(cl, wantCl) {
			t.Errorf("client %+v, want %+v", cl, wantCl)
		}

		if _, _, err := s.GetTokenAndClient(ctx, store.KindAccessToken, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		if _, _, err := s.GetTokenAndClient(ctx, store.KindRefreshToken, "at1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("another kind: %v", err)
		}
		// DeleteClient takes the tokens with it; a row left behind by
		// anything else is as good as gone.
		must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at3", "r3", "ghost")))
		if _, err := s.GetToken(ctx, store.KindAccessToken, "at3"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.GetTokenAndClient(ctx, store.KindAccessToken, "at3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a token of no client: %v", err)
		}
	})
}

// Userinfo's read: the access token, its client and the person the
// grant is for, with doses in order, in one statement; no person for a
// row that names none or for a person gone, told apart by the row.
func TestGetTokenWithPerson(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		wantCl := storedClient(t, s, "c1", "Zeta Airlines")
		_, err := s.ReplaceBeneficiaries(ctx, []store.Beneficiary{
			person("b1", "+919876543210", "Asha Verma", dose(2, 2, "2021-08-01"), dose(1, 2, "2021-05-01")),
			person("b2", "+919876543211", "Ravi"),
		})
		must(t, err)
		named := func(sig, beneficiaryID string) {
			tok := newToken(store.KindAccessToken, sig, "r-"+sig, "c1")
			tok.BeneficiaryID = beneficiaryID
			must(t, s.CreateToken(ctx, tok))
		}
		named("at1", "b1")
		named("at2", "b2")
		named("at-old", "")
		named("at-gone", "b9")
		wantB1, err := s.GetBeneficiary(ctx, "b1")
		must(t, err)
		wantB2, err := s.GetBeneficiary(ctx, "b2")
		must(t, err)

		for _, tc := range []struct {
			sig, beneficiaryID string
			want               *store.Beneficiary
		}{
			{"at1", "b1", wantB1},
			{"at2", "b2", wantB2}, // no dose: one row, the dose's columns NULL
			{"at-old", "", nil},
			{"at-gone", "b9", nil},
		} {
			before, _ := s.Counts()
			tok, cl, b, err := s.GetTokenWithPerson(ctx, store.KindAccessToken, tc.sig)
			must(t, err)
			if after, _ := s.Counts(); after-before != 1 {
				t.Errorf("%s: %d statements, want 1", tc.sig, after-before)
			}
			wantTok, err := s.GetToken(ctx, store.KindAccessToken, tc.sig)
			must(t, err)
			if !reflect.DeepEqual(tok, wantTok) || tok.BeneficiaryID != tc.beneficiaryID {
				t.Errorf("%s: token %+v, want %+v", tc.sig, tok, wantTok)
			}
			if !reflect.DeepEqual(cl, wantCl) {
				t.Errorf("%s: client %+v, want %+v", tc.sig, cl, wantCl)
			}
			if !reflect.DeepEqual(b, tc.want) {
				t.Errorf("%s: person %+v, want %+v", tc.sig, b, tc.want)
			}
		}

		if _, _, _, err := s.GetTokenWithPerson(ctx, store.KindAccessToken, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown token: %v", err)
		}
		must(t, s.CreateToken(ctx, newToken(store.KindAccessToken, "at-ghost", "r-ghost", "ghost")))
		if _, _, _, err := s.GetTokenWithPerson(ctx, store.KindAccessToken, "at-ghost"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a token of no client: %v", err)
		}
	})
}

// The rows of one code read with their client in one statement: the rows
// GetTokens finds and the client GetClient reads; none, and no client,
// for unknown keys or rows of no client.
func TestGetTokensAndClient(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		ctx := testCtx(t)
		must(t, s.CreateClient(ctx, newClient("c1", "Zeta Airlines")))
		must(t, s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "sig1", "r1", "c1")))
		must(t, s.CreateToken(ctx, newToken(store.KindPKCE, "sig1", "r1", "c1")))
		must(t, s.CreateToken(ctx, newToken(store.KindOpenID, "code1", "r1", "c1")))
		keys := []store.TokenKey{{Kind: store.KindAuthorizeCode, Signature: "sig1"}, {Kind: store.KindPKCE, Signature: "sig1"},
			{Kind: store.KindOpenID, Signature: "code1"}}

		before, _ := s.Counts()
		rows, cl, err := s.GetTokensAndClient(ctx, keys...)
		must(t, err)
		if after, _ := s.Counts(); after-before != 1 {
			t.Errorf("%d statements, want 1", after-before)
		}
		want, err := s.GetTokens(ctx, keys...)
		must(t, err)
		byKind := func(rows []*store.OAuthToken) map[string]store.OAuthToken {
			m := map[string]store.OAuthToken{}
			for _, r := range rows {
				m[r.Kind] = *r
			}
			return m
		}
		if got, want := byKind(rows), byKind(want); len(got) != 3 || !reflect.DeepEqual(got, want) {
			t.Errorf("rows %+v, want %+v", got, want)
		}
		wantCl, err := s.GetClient(ctx, "c1")
		must(t, err)
		if !reflect.DeepEqual(cl, wantCl) {
			t.Errorf("client %+v, want %+v", cl, wantCl)
		}

		if rows, cl, err := s.GetTokensAndClient(ctx, store.TokenKey{Kind: store.KindAuthorizeCode, Signature: "nope"}); err != nil || rows != nil || cl != nil {
			t.Errorf("unknown code: %v, %v, %v; want nothing", rows, cl, err)
		}
		must(t, s.CreateToken(ctx, newToken(store.KindAuthorizeCode, "sig3", "r3", "ghost")))
		if rows, cl, err := s.GetTokensAndClient(ctx, store.TokenKey{Kind: store.KindAuthorizeCode, Signature: "sig3"}); err != nil || rows != nil || cl != nil {
			t.Errorf("a code of no client: %v, %v, %v; want nothing", rows, cl, err)
		}
	})
}
