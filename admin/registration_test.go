package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// Initial access tokens through the admin API: who may issue them, the
// bounds, the listing, revocation.
func TestInitialTokensAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix + "/initial-tokens"
		viewer := ts.adminKey(admin.RoleViewer)
		if r := ts.call(http.MethodPost, p, viewer, map[string]any{}); r.Status != http.StatusForbidden {
			t.Errorf("a viewer issues a token: %d %s", r.Status, r.Body)
		}
		if r := ts.call(http.MethodGet, p, viewer, nil); r.Status != http.StatusOK {
			t.Errorf("a viewer lists tokens: %d %s", r.Status, r.Body)
		}
		for name, body := range map[string]any{
			"no uses":         map[string]any{"uses": 0},
			"too many uses":   map[string]any{"uses": 1001},
			"expired at once": map[string]any{"expires_in_seconds": 0},
			"too long":        map[string]any{"expires_in_seconds": 31 * 24 * 3600},
			"wraps around":    map[string]any{"expires_in_seconds": int64(1) << 62},
			"control name":    map[string]any{"name": "a\x00b"},
		} {
			if r := ts.call(http.MethodPost, p, ts.adminKey(admin.RoleClientAdmin), body); r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != admin.CodeValidation {
				t.Errorf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		r := ts.call(http.MethodPost, p, ts.adminKey(admin.RoleClientAdmin), map[string]any{})
		var tok admin.InitialTokenJSON
		r.json(t, &tok)
		if r.Status != http.StatusCreated || tok.MaxUses != 1 || tok.Uses != 0 || tok.State != "active" ||
			!tok.ExpiresAt.Equal(ts.clock.Now().Add(admin.DefaultInitialTokenTTL)) || !strings.HasPrefix(tok.InitialAccessToken, tok.ID+"_") {
			t.Fatalf("create with defaults: %d %s", r.Status, r.Body)
		}
		r = ts.call(http.MethodGet, p, viewer, nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), tok.InitialAccessToken) || !strings.Contains(string(r.Body), tok.ID) {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		// Revoked by its whole value, then once more by ID.
		r = ts.call(http.MethodPost, p+"/"+tok.InitialAccessToken+"/revoke", ts.owner, nil)
		var revoked admin.InitialTokenJSON
		r.json(t, &revoked)
		if r.Status != http.StatusOK || revoked.State != "revoked" || revoked.RevokedAt == nil || revoked.InitialAccessToken != "" {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if r := ts.call(http.MethodPost, p+"/"+tok.ID+"/revoke", ts.owner, nil); r.Status != http.StatusConflict || r.errorCode(t) != admin.CodeInitialTokenRevoked {
			t.Errorf("revoke twice: %d %s", r.Status, r.Body)
		}
		if r := ts.call(http.MethodPost, p+"/kycvsiat_0000000000000000/revoke", ts.owner, nil); r.Status != http.StatusNotFound {
			t.Errorf("revoke unknown: %d %s", r.Status, r.Body)
		}
		err := ts.svc.CheckInitialToken(context.Background(), tok.InitialAccessToken)
		if !errors.Is(err, admin.ErrInvalidInitialToken) {
			t.Errorf("a revoked token checks %v", err)
		}
		es := ts.audit("initial_token", tok.ID)
		if len(es) != 2 || es[0].ActorType != admin.ActorAPIKey || es[1].ActorType != admin.ActorAPIKey {
			t.Errorf("audit: %+v", es)
		}
		if b, _ := json.Marshal(es); strings.Contains(string(b), tok.InitialAccessToken[len(tok.ID):]) {
			t.Errorf("the token in the audit log: %s", b)
		}
	})
}

func spec(name string) oauth.ClientSpec {
	return oauth.ClientSpec{Name: name, RedirectURIs: []string{"https://air.example/callback"}}
}

// A single-use token registers one client however many registrations
// race for it; a refused registration leaves it unused; it stops at its
// expiry.
func TestRegisterClientUses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		full, _, err := ts.svc.CreateInitialToken(ctx, cliActor, "race", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := ts.svc.RegisterClient(ctx, full, admin.Registrant{}, oauth.ClientSpec{Name: "No redirect"}); !errors.As(err, new(*oauth.ValidationError)) {
			t.Fatalf("bad spec: %v", err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, _, err := ts.svc.RegisterClient(ctx, full, admin.Registrant{IP: "192.0.2.1"}, spec("Racer"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, admin.ErrInvalidInitialToken), errors.Is(err, store.ErrConflict):
					lost++
				default:
					t.Errorf("racing registration: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != 5 {
			t.Fatalf("%d registrations with a single-use token, %d refused", won, lost)
		}

		later, _, err := ts.svc.CreateInitialToken(ctx, cliActor, "", 3, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ts.clock.Advance(time.Hour)
		if _, _, _, err := ts.svc.RegisterClient(ctx, later, admin.Registrant{}, spec("Late")); !errors.Is(err, admin.ErrInvalidInitialToken) {
			t.Fatalf("expired token: %v", err)
		}
	})
}

// The registration access token manages its own client only, and a
// replacement keeps what the registration cannot set (an admin's profile)
// and cannot move the pairwise sector.
func TestRegisteredClientManagement(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		full, _, err := ts.svc.CreateInitialToken(ctx, cliActor, "", 2, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		a, _, tokA, err := ts.svc.RegisterClient(ctx, full, admin.Registrant{}, spec("A"))
		if err != nil {
			t.Fatal(err)
		}
		b, _, tokB, err := ts.svc.RegisterClient(ctx, full, admin.Registrant{}, spec("B"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.svc.RegisteredClient(ctx, a.ID, tokB); !errors.Is(err, admin.ErrInvalidRegistrationToken) {
			t.Fatalf("B's token reads A: %v", err)
		}
		if err := ts.svc.DeleteRegisteredClient(ctx, a.ID, tokB, admin.Registrant{}); !errors.Is(err, admin.ErrInvalidRegistrationToken) {
			t.Fatalf("B's token deletes A: %v", err)
		}
		// An admin edits and disables A: the registration keeps the
		// admin's settings and loses access while A is disabled.
		if _, _, err := ts.svc.UpdateClient(ctx, cliActor, a.ID, func(s *oauth.ClientSpec) error {
			s.Profile, s.JWKSURI = oauth.ProfileFAPI2, "https://air.example/jwks"
			return nil
		}, false); err != nil {
			t.Fatal(err)
		}
		next := spec("A renamed")
		next.TokenEndpointAuthMethod, next.JWKSURI = oauth.AuthPrivateKeyJWT, "https://air.example/jwks"
		got, _, newA, err := ts.svc.UpdateRegisteredClient(ctx, a.ID, tokA, admin.Registrant{}, next, "")
		if err != nil || got.Name != "A renamed" || got.Profile != oauth.ProfileFAPI2 || got.RegisteredWith == "" || newA == tokA || newA == "" {
			t.Fatalf("replace: %+v %v", got, err)
		}
		if _, err := ts.svc.RegisteredClient(ctx, a.ID, tokA); !errors.Is(err, admin.ErrInvalidRegistrationToken) {
			t.Fatalf("the replaced token still works: %v", err)
		}
		tokA = newA
		moved := next
		moved.RedirectURIs = []string{"https://elsewhere.example/callback"}
		if _, _, _, err := ts.svc.UpdateRegisteredClient(ctx, a.ID, tokA, admin.Registrant{}, moved, ""); !errors.Is(err, admin.ErrSectorChange) {
			t.Fatalf("sector change: %v", err)
		}
		// A refused replacement keeps the token.
		if _, err := ts.svc.RegisteredClient(ctx, a.ID, tokA); err != nil {
			t.Fatalf("the token after a refused replacement: %v", err)
		}
		if _, err := ts.svc.SetClientDisabled(ctx, cliActor, a.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.svc.RegisteredClient(ctx, a.ID, tokA); !errors.Is(err, admin.ErrInvalidRegistrationToken) {
			t.Fatalf("a disabled client reads its registration: %v", err)
		}
		if err := ts.svc.DeleteRegisteredClient(ctx, b.ID, tokB, admin.Registrant{IP: "192.0.2.9"}); err != nil {
			t.Fatal(err)
		}
		// One clock tick for both: compare as a set.
		got2 := map[string]store.AuditEntry{}
		for _, e := range ts.audit("client", b.ID) {
			got2[e.Action] = e
		}
		if d, r := got2["client.delete"], got2["client.register"]; len(got2) != 2 || d.ActorType != admin.ActorClient || d.IP != "192.0.2.9" || r.ActorType != admin.ActorInitialToken {
			t.Fatalf("audit of B: %+v", got2)
		}
	})
}

// The console's self-registration page: a client-admin issues a token,
// shown once, that registers a client, and revokes another; a viewer sees
// the list and no forms.
func TestConsoleInitialTokens(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ctx := context.Background()
	ts.addUser("9999900010", admin.RoleClientAdmin)
	ts.addUser("9999900020", admin.RoleViewer)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	page := b.Get("/admin/initial-tokens")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "No initial access tokens.") {
		t.Fatalf("empty page: %d %s", page.Status, page.Body)
	}
	if bad := b.Submit(page, "/admin/initial-tokens", url.Values{"name": {"Rail"}, "uses": {"0"}, "expires": {"24h0m0s"}}); bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, "uses: 1 to 1000") || !strings.Contains(bad.Body, `value="Rail"`) {
		t.Fatalf("zero uses: %d %s", bad.Status, bad.Body)
	}
	made := b.Submit(page, "/admin/initial-tokens", url.Values{"name": {"Rail"}, "uses": {"2"}, "expires": {"168h0m0s"}})
	full := b.wantShownOnce(made, initialTokenShown)
	if made.URL.Path != "/admin/initial-tokens" || !strings.Contains(made.Body, "0 of 2") || !strings.Contains(made.Body, "New initial access token made.") {
		t.Fatalf("issue: %d %s", made.Status, made.Body)
	}
	if _, _, _, err := ts.svc.RegisterClient(ctx, full, admin.Registrant{}, spec("Rail")); err != nil {
		t.Fatalf("the token shown does not register: %v", err)
	}
	toks, _ := ts.svc.ListInitialTokens(ctx)
	if len(toks) != 1 || !toks[0].ExpiresAt.Equal(ts.clock.Now().Add(7*24*time.Hour)) {
		t.Fatalf("stored: %+v", toks)
	}
	page = b.Get("/admin/initial-tokens")
	if strings.Contains(page.Body, full) || !strings.Contains(page.Body, "1 of 2") {
		t.Fatalf("the page after: %s", page.Body)
	}
	revoked := b.Submit(page, "/admin/initial-tokens/"+toks[0].ID+"/revoke", url.Values{})
	if revoked.URL.Path != "/admin/initial-tokens" || !strings.Contains(revoked.Body, "is revoked") || !strings.Contains(revoked.Body, "<td>revoked</td>") {
		t.Fatalf("revoke: %d %s", revoked.Status, revoked.Body)
	}
	if again := b.Submit(page, "/admin/initial-tokens/"+toks[0].ID+"/revoke", url.Values{}); again.Status != http.StatusConflict {
		t.Errorf("revoke twice: %d", again.Status)
	}
	if clients := b.Get("/admin/clients"); !strings.Contains(clients.Body, `href="/admin/initial-tokens"`) {
		t.Error("the clients page does not link the self-registration page")
	}

	v := ts.browser()
	v.signIn(ts, "9999900020")
	if p := v.Get("/admin/initial-tokens"); p.Status != http.StatusOK || !strings.Contains(p.Body, toks[0].ID) || strings.Contains(p.Body, "<form method=\"post\" action=\"/admin/initial-tokens") {
		t.Errorf("a viewer's page: %d %s", p.Status, p.Body)
	}
}
