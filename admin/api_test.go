package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// forEachBackend runs fn on a fresh test server per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, ts *testServer)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Parallel()
		fn(t, newTestServer(t, dialect))
	})
}

// ginPath turns an OpenAPI path into the router's (":id").
var openAPIParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// The document and the router describe the same routes, with the same
// permissions, and the document is valid OpenAPI 3.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	documented := map[string]string{}
	for path, item := range ts.doc.Paths.Map() {
		for method, op := range item.Operations() {
			perm, _ := op.Extensions["x-permission"].(string)
			documented[method+" "+admin.APIPrefix+openAPIParam.ReplaceAllString(path, ":$1")] = perm
		}
	}
	api := admin.NewAPI(admin.APIConfig{}, ts.svc)
	served := map[string]bool{}
	for _, r := range api.Routes() {
		key := r.Method + " " + r.Path
		served[key] = true
		perm, ok := documented[key]
		switch {
		case !ok:
			t.Errorf("%s is served but not documented", key)
		case perm != string(r.Permission):
			t.Errorf("%s: documented permission %q, enforced %q", key, perm, r.Permission)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("%s is documented but not served", key)
		}
	}
	resp := ts.call(http.MethodGet, admin.APIPrefix+"/openapi.json", "", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("openapi.json: %d", resp.Status)
	}
	if _, err := openapi3.NewLoader().LoadFromData(resp.Body); err != nil {
		t.Fatalf("served document: %v", err)
	}
}

// Every route refuses a caller without a valid key (401) and a role
// without its permission (403) before doing anything; a revoked key is
// refused.
func TestAuthorization(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	keys := map[admin.Role]string{}
	for _, r := range admin.Roles {
		keys[r] = ts.adminKey(r)
	}
	revoked := ts.adminKey(admin.RoleOwner)
	if err := ts.svc.RevokeAdminKey(context.Background(), cliActor, revoked[:25]); err != nil {
		t.Fatal(err)
	}
	all := func() []store.AuditEntry {
		es, _, err := ts.st.ListAuditEntries(context.Background(), store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	api := admin.NewAPI(admin.APIConfig{}, ts.svc)
	for _, r := range api.Routes() {
		if r.Permission == "" {
			continue
		}
		path := strings.NewReplacer(":id", "no-such-thing", ":kid", "no-such-key", ":key_id", "kycvs_0000000000000000").Replace(r.Path)
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			for name, key := range map[string]string{
				"no key": "", "malformed key": "kycvsadm_nope", "revoked key": revoked,
				"unknown key": "kycvsadm_0123456789abcdef_" + strings.Repeat("A", 43),
			} {
				if resp := ts.call(r.Method, path, key, nil); resp.Status != http.StatusUnauthorized || resp.errorCode(t) != admin.CodeUnauthorized {
					t.Errorf("%s: %d %s", name, resp.Status, resp.Body)
				}
			}
			for _, role := range admin.Roles {
				resp := ts.call(r.Method, path, keys[role], nil)
				forbidden := resp.Status == http.StatusForbidden
				if want := !role.Can(r.Permission); forbidden != want {
					t.Errorf("%s: %d, forbidden %v, want %v: %s", role, resp.Status, forbidden, want, resp.Body)
				}
			}
		})
	}
	// Refused callers changed nothing: the API keys' only entries are
	// the reads the allowed roles made.
	for _, e := range all() {
		if e.ActorType != admin.ActorAPIKey {
			continue
		}
		if !strings.HasSuffix(e.Action, ".read") && !strings.HasSuffix(e.Action, ".query") && !strings.HasSuffix(e.Action, ".export") && !strings.HasSuffix(e.Action, ".search") {
			t.Errorf("audit entry %s by %s after refused or empty requests", e.Action, e.ActorName)
		}
	}
	var me struct {
		Role        string   `json:"role"`
		Permissions []string `json:"permissions"`
	}
	ts.call(http.MethodGet, admin.APIPrefix+"/me", keys[admin.RoleRegistryAdmin], nil).json(t, &me)
	if me.Role != "registry-admin" || !slices.Equal(me.Permissions, []string{"read", "registry:write"}) {
		t.Errorf("me = %+v", me)
	}
}

func TestClientsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix
		var created admin.ClientJSON
		resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
			"client_id": "air", "name": "Example Air", "redirect_uris": []string{"https://air.example/cb"},
			"post_logout_redirect_uris": []string{"https://air.example/signed-out"},
			"scopes":                    []string{"openid", "vaccination_status", "profile"}, "contacts": []string{"ops@air.example"},
			"logo_uri": "https://air.example/logo.png", "token_endpoint_auth_method": "client_secret_basic",
			"backchannel_logout_uri": "https://air.example/bc-logout", "backchannel_logout_session_required": true,
		})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		resp.json(t, &created)
		secret := created.ClientSecret
		if len(secret) < 43 || created.LogoURI != "https://air.example/logo.png" || !slices.Equal(created.Contacts, []string{"ops@air.example"}) ||
			created.BackchannelLogoutURI != "https://air.example/bc-logout" || !created.BackchannelLogoutSessionRequired ||
			!slices.Equal(created.PostLogoutRedirectURIs, []string{"https://air.example/signed-out"}) || !slices.Equal(created.RedirectURIs, []string{"https://air.example/cb"}) {
			t.Fatalf("created %+v", created)
		}
		if got := ts.token("air", secret); got != "invalid_grant" {
			t.Fatalf("the new client does not authenticate: %s", got)
		}
		if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"client_id": "air", "name": "Again", "redirect_uris": []string{"https://air.example/cb"}}); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeAlreadyExists {
			t.Errorf("duplicate: %d %s", resp.Status, resp.Body)
		}
		var pub admin.ClientJSON
		ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"name": "Booking page", "redirect_uris": []string{"https://air.example/button"}, "public": true}).json(t, &pub)
		if pub.ClientSecret != "" || !pub.Public || pub.TokenEndpointAuthMethod != "none" {
			t.Errorf("public client %+v", pub)
		}

		t.Run("list, search and pages", func(t *testing.T) {
			for i := range 3 {
				ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"name": fmt.Sprintf("Rail %d", i), "redirect_uris": []string{"https://rail.example/cb"}})
			}
			var page struct {
				Items      []admin.ClientJSON `json:"items"`
				NextCursor string             `json:"next_cursor"`
			}
			var names []string
			next := ""
			for {
				ts.call(http.MethodGet, p+"/clients?limit=2&cursor="+next, ts.owner, nil).json(t, &page)
				for _, c := range page.Items {
					names = append(names, c.Name)
					if c.ClientSecret != "" {
						t.Errorf("a listing shows a secret")
					}
				}
				if next = page.NextCursor; next == "" {
					break
				}
			}
			if want := []string{"Booking page", "Example Air", "Rail 0", "Rail 1", "Rail 2"}; !slices.Equal(names, want) {
				t.Errorf("pages: %v, want %v", names, want)
			}
			ts.call(http.MethodGet, p+"/clients?q=RAIL", ts.owner, nil).json(t, &page)
			if len(page.Items) != 3 {
				t.Errorf("search: %d", len(page.Items))
			}
		})

		t.Run("update", func(t *testing.T) {
			var got admin.ClientJSON
			resp := ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{
				"name": "Example Airways", "redirect_uris": []string{"https://air.example/cb", "https://air.example/cb2"},
				"id_token_signed_response_alg": "ES256", "userinfo_signed_response_alg": "RS256", "contacts": []string{"a@air.example", "b@air.example"},
			})
			resp.json(t, &got)
			if resp.Status != http.StatusOK || got.Name != "Example Airways" || len(got.RedirectURIs) != 2 || got.IDTokenSignedResponseAlg != "ES256" ||
				got.UserinfoSignedResponseAlg != "RS256" || got.LogoURI != "https://air.example/logo.png" || got.ClientSecret != "" {
				t.Fatalf("update: %d %+v", resp.Status, got)
			}
			// The secret was not touched.
			if code := ts.token("air", secret); code != "invalid_grant" {
				t.Errorf("after update: %s", code)
			}
			// Moving to another host changes the pairwise sector: refused
			// unless allowed.
			resp = ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{"redirect_uris": []string{"https://new.example/cb"}})
			if resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeSectorChange {
				t.Errorf("sector change: %d %s", resp.Status, resp.Body)
			}
			resp = ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{"redirect_uris": []string{"https://new.example/cb"}, "allow_sector_change": true})
			if resp.Status != http.StatusOK {
				t.Errorf("allowed sector change: %d %s", resp.Status, resp.Body)
			}
			resp = ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{"redirect_uris": []string{"ftp://x"}, "contacts": []string{"not-mail"}, "scopes": []string{"email"},
				"backchannel_logout_uri": "http://air.example/bc#frag"})
			var e struct {
				Details []string `json:"details"`
			}
			resp.json(t, &e)
			if resp.Status != http.StatusUnprocessableEntity || resp.errorCode(t) != admin.CodeValidation || len(e.Details) < 4 ||
				!strings.Contains(strings.Join(e.Details, ";"), "backchannel logout URI") {
				t.Errorf("invalid update: %d %s", resp.Status, resp.Body)
			}
			// Public and back: the secret goes, and a new one comes.
			var c admin.ClientJSON
			ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{"public": true}).json(t, &c)
			stored, _ := ts.st.GetClient(context.Background(), "air")
			if !c.Public || c.TokenEndpointAuthMethod != "none" || len(stored.SecretHash) != 0 || len(stored.RotatedSecrets) != 0 {
				t.Errorf("made public: %+v", c)
			}
			ts.call(http.MethodPatch, p+"/clients/air", ts.owner, map[string]any{"public": false}).json(t, &c)
			if c.Public || c.ClientSecret == "" || ts.token("air", c.ClientSecret) != "invalid_grant" {
				t.Fatalf("made confidential: %+v", c)
			}
			secret = c.ClientSecret
		})

		t.Run("disable and enable", func(t *testing.T) {
			var c admin.ClientJSON
			ts.call(http.MethodPost, p+"/clients/air/disable", ts.owner, nil).json(t, &c)
			if !c.Disabled {
				t.Fatal("not disabled")
			}
			if code := ts.token("air", secret); code != "invalid_client" {
				t.Errorf("a disabled client got past authentication: %s", code)
			}
			ts.call(http.MethodPost, p+"/clients/air/disable", ts.owner, "{}")
			ts.call(http.MethodPost, p+"/clients/air/enable", ts.owner, nil).json(t, &c)
			if c.Disabled || ts.token("air", secret) != "invalid_grant" {
				t.Errorf("enabled again: %+v", c)
			}
			var actions []string
			for _, e := range ts.audit("client", "air") {
				actions = append(actions, e.Action)
			}
			if strings.Count(strings.Join(actions, " "), "client.disable") != 1 || !slices.Contains(actions, "client.enable") {
				t.Errorf("audit: %v (a repeated disable is not a change)", actions)
			}
		})

		t.Run("rotate secret with a grace period", func(t *testing.T) {
			var c admin.ClientJSON
			resp := ts.call(http.MethodPost, p+"/clients/air/rotate-secret", ts.owner, map[string]any{"grace_period_seconds": 3600})
			resp.json(t, &c)
			if resp.Status != http.StatusOK || c.ClientSecret == "" || c.ClientSecret == secret || len(c.PreviousSecretsValidUntil) != 1 {
				t.Fatalf("rotate: %d %+v", resp.Status, c)
			}
			if want := ts.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339); c.PreviousSecretsValidUntil[0] != want {
				t.Errorf("old secret valid until %s, want %s", c.PreviousSecretsValidUntil[0], want)
			}
			old, fresh := secret, c.ClientSecret
			for name, s := range map[string]string{"old": old, "new": fresh} {
				if code := ts.token("air", s); code != "invalid_grant" {
					t.Errorf("within the grace period, the %s secret: %s", name, code)
				}
			}
			ts.clock.Advance(time.Hour - time.Second)
			if code := ts.token("air", old); code != "invalid_grant" {
				t.Errorf("a second before the end: %s", code)
			}
			ts.clock.Advance(time.Second)
			if code := ts.token("air", old); code != "invalid_client" {
				t.Errorf("after the grace period the old secret still works: %s", code)
			}
			if code := ts.token("air", fresh); code != "invalid_grant" {
				t.Errorf("after the grace period, the new secret: %s", code)
			}
			// Default grace is a day; 0 stops every earlier secret at once.
			ts.call(http.MethodPost, p+"/clients/air/rotate-secret", ts.owner, nil).json(t, &c)
			third := c.ClientSecret
			if ts.token("air", fresh) != "invalid_grant" || len(c.PreviousSecretsValidUntil) != 1 {
				t.Errorf("default grace: %+v", c)
			}
			ts.call(http.MethodPost, p+"/clients/air/rotate-secret", ts.owner, map[string]any{"grace_period_seconds": 0}).json(t, &c)
			if ts.token("air", fresh) != "invalid_client" || ts.token("air", third) != "invalid_client" || ts.token("air", c.ClientSecret) != "invalid_grant" {
				t.Errorf("grace 0 left an old secret working")
			}
			secret = c.ClientSecret
			if resp := ts.call(http.MethodPost, p+"/clients/"+pub.ClientID+"/rotate-secret", ts.owner, nil); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodePublicClient {
				t.Errorf("rotate a public client: %d %s", resp.Status, resp.Body)
			}
			if resp := ts.call(http.MethodPost, p+"/clients/air/rotate-secret", ts.owner, map[string]any{"grace_period_seconds": 31 * 86400}); resp.Status != http.StatusUnprocessableEntity {
				t.Errorf("too long a grace: %d %s", resp.Status, resp.Body)
			}
		})

		t.Run("the audit log has every change and no secret", func(t *testing.T) {
			entries := ts.audit("client", "air")
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action)
				b, _ := json.Marshal(e)
				if strings.Contains(string(b), secret) || strings.Contains(string(b), created.ClientSecret) {
					t.Errorf("a secret in the audit log: %s", b)
				}
				if e.ActorType != admin.ActorAPIKey || e.Role != "owner" || e.IP == "" || e.At.IsZero() {
					t.Errorf("entry without who, from where or when: %+v", e)
				}
			}
			for _, want := range []string{"client.create", "client.update", "client.disable", "client.enable", "client.rotate_secret"} {
				if !slices.Contains(actions, want) {
					t.Errorf("no %s in %v", want, actions)
				}
			}
			var upd store.AuditEntry
			for _, e := range entries {
				if e.Action == "client.update" && e.Changes["name"] != nil {
					upd = e
				}
			}
			if ch, _ := upd.Changes["name"].(map[string]any); ch["from"] != "Example Air" || ch["to"] != "Example Airways" {
				t.Errorf("update changes: %v", upd.Changes)
			}
		})

		t.Run("delete", func(t *testing.T) {
			if resp := ts.call(http.MethodDelete, p+"/clients/air", ts.owner, nil); resp.Status != http.StatusNoContent {
				t.Fatalf("delete: %d %s", resp.Status, resp.Body)
			}
			if resp := ts.call(http.MethodGet, p+"/clients/air", ts.owner, nil); resp.Status != http.StatusNotFound || resp.errorCode(t) != admin.CodeNotFound {
				t.Errorf("after delete: %d", resp.Status)
			}
			if ts.token("air", secret) != "invalid_client" {
				t.Error("a deleted client authenticates")
			}
		})
	})
}

// KYC-VS API keys through the admin API: made by the same code as the
// command line's (they authenticate at the KYC-VS API), shown once, listed
// without their secret, revoked once, each change audited without the key.
func TestAPIKeysAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		p := admin.APIPrefix
		keys := kycvsapi.NewAPIKeys(ts.st, []byte(testSecret))
		for _, id := range []string{"air", "rail"} {
			if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"client_id": id, "name": id, "redirect_uris": []string{"https://" + id + ".example/cb"}}); resp.Status != http.StatusCreated {
				t.Fatalf("client %s: %d %s", id, resp.Status, resp.Body)
			}
		}
		viewer, clientAdmin, registrar := ts.adminKey(admin.RoleViewer), ts.adminKey(admin.RoleClientAdmin), ts.adminKey(admin.RoleRegistryAdmin)
		type list struct {
			Items []admin.APIKeyJSON `json:"items"`
		}
		var l list
		if resp := ts.call(http.MethodGet, p+"/clients/air/api-keys", viewer, nil); resp.Status != http.StatusOK || string(resp.Body) != `{"items":[]}` {
			t.Fatalf("no keys yet: %d %s", resp.Status, resp.Body)
		}

		for _, k := range []string{viewer, registrar} {
			if resp := ts.call(http.MethodPost, p+"/clients/air/api-keys", k, nil); resp.Status != http.StatusForbidden || resp.errorCode(t) != admin.CodeForbidden {
				t.Errorf("create without clients:write: %d %s", resp.Status, resp.Body)
			}
		}
		var made admin.APIKeyJSON
		resp := ts.call(http.MethodPost, p+"/clients/air/api-keys", clientAdmin, nil)
		resp.json(t, &made)
		if resp.Status != http.StatusCreated || made.ClientID != "air" || made.RevokedAt != nil || made.CreatedAt.IsZero() ||
			!strings.HasPrefix(made.APIKey, made.ID+"_") || !strings.HasPrefix(made.ID, "kycvs_") || len(made.ID) != len("kycvs_")+16 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		full := made.APIKey
		rec, client, err := keys.Authenticate(ctx, full)
		if err != nil || rec.ID != made.ID || client.ID != "air" {
			t.Fatalf("the new key does not authenticate at the KYC-VS API: %v", err)
		}
		var second admin.APIKeyJSON
		ts.call(http.MethodPost, p+"/clients/air/api-keys", ts.owner, "{}").json(t, &second)
		var railKey admin.APIKeyJSON
		ts.call(http.MethodPost, p+"/clients/rail/api-keys", ts.owner, nil).json(t, &railKey)
		if second.ID == made.ID || second.APIKey == full || railKey.ClientID != "rail" {
			t.Fatalf("second key %+v, rail key %+v", second, railKey)
		}

		resp = ts.call(http.MethodGet, p+"/clients/air/api-keys", viewer, nil)
		resp.json(t, &l)
		if resp.Status != http.StatusOK || len(l.Items) != 2 || l.Items[0].ID != made.ID || l.Items[1].ID != second.ID {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		if strings.Contains(string(resp.Body), "api_key") || strings.Contains(string(resp.Body), full[len(made.ID):]) {
			t.Errorf("a listing shows a key: %s", resp.Body)
		}

		// Revoke: only through the key's own client, only once.
		if resp := ts.call(http.MethodPost, p+"/clients/rail/api-keys/"+made.ID+"/revoke", ts.owner, nil); resp.Status != http.StatusNotFound || resp.errorCode(t) != admin.CodeNotFound {
			t.Errorf("revoke through another client: %d %s", resp.Status, resp.Body)
		}
		if _, _, err := keys.Authenticate(ctx, full); err != nil {
			t.Fatalf("revoking through another client stopped the key: %v", err)
		}
		if resp := ts.call(http.MethodPost, p+"/clients/air/api-keys/"+made.ID+"/revoke", viewer, nil); resp.Status != http.StatusForbidden {
			t.Errorf("a viewer revoked: %d %s", resp.Status, resp.Body)
		}
		var revoked admin.APIKeyJSON
		resp = ts.call(http.MethodPost, p+"/clients/air/api-keys/"+made.ID+"/revoke", clientAdmin, nil)
		resp.json(t, &revoked)
		if resp.Status != http.StatusOK || revoked.ID != made.ID || revoked.RevokedAt == nil || revoked.APIKey != "" {
			t.Fatalf("revoke: %d %s", resp.Status, resp.Body)
		}
		if _, _, err := keys.Authenticate(ctx, full); !errors.Is(err, kycvsapi.ErrInvalidAPIKey) {
			t.Errorf("a revoked key authenticates: %v", err)
		}
		if _, _, err := keys.Authenticate(ctx, second.APIKey); err != nil {
			t.Errorf("revoking one key stopped another: %v", err)
		}
		for range 2 {
			if resp := ts.call(http.MethodPost, p+"/clients/air/api-keys/"+made.ID+"/revoke", clientAdmin, nil); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeAPIKeyRevoked {
				t.Errorf("revoke twice: %d %s", resp.Status, resp.Body)
			}
		}
		ts.call(http.MethodGet, p+"/clients/air/api-keys", viewer, nil).json(t, &l)
		if len(l.Items) != 2 || l.Items[0].RevokedAt == nil || !l.Items[0].RevokedAt.Equal(*revoked.RevokedAt) || l.Items[1].RevokedAt != nil {
			t.Errorf("list after revoke: %+v", l.Items)
		}

		// The audit log: one entry per change, naming the key by its ID,
		// never holding a key or its hash.
		stored, err := ts.st.GetAPIKey(ctx, second.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range ts.audit("client", "air") {
			if !strings.HasPrefix(e.Action, "api_key.") {
				continue
			}
			actions = append(actions, e.Action+" "+fmt.Sprint(e.Changes["api_key_id"]))
			b, _ := json.Marshal(e)
			for _, secret := range []string{full, second.APIKey, full[len(made.ID)+1:], fmt.Sprintf("%x", stored.Hash)} {
				if strings.Contains(string(b), secret) {
					t.Errorf("a key in the audit log: %s", b)
				}
			}
			if e.ActorType != admin.ActorAPIKey || e.IP == "" {
				t.Errorf("entry without who or from where: %+v", e)
			}
		}
		slices.Sort(actions) // the test clock stands still: entries share a time
		want := []string{"api_key.create " + made.ID, "api_key.create " + second.ID, "api_key.revoke " + made.ID}
		if slices.Sort(want); !slices.Equal(actions, want) {
			t.Errorf("audit: %q, want %q", actions, want)
		}

		// A client's keys go with it.
		if resp := ts.call(http.MethodDelete, p+"/clients/air", ts.owner, nil); resp.Status != http.StatusNoContent {
			t.Fatalf("delete: %d", resp.Status)
		}
		if resp := ts.call(http.MethodGet, p+"/clients/air/api-keys", viewer, nil); resp.Status != http.StatusNotFound || resp.errorCode(t) != admin.CodeNotFound {
			t.Errorf("keys of a deleted client: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPost, p+"/clients/air/api-keys/"+second.ID+"/revoke", ts.owner, nil); resp.Status != http.StatusNotFound {
			t.Errorf("revoke a deleted client's key: %d %s", resp.Status, resp.Body)
		}
	})
}

func TestRegistryAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix
		registrar := ts.adminKey(admin.RoleRegistryAdmin)
		asha := map[string]any{"beneficiary_id": "B-1", "mobile": "98765 43210", "name": " Asha  Verma", "year_of_birth": 1985,
			"doses": []map[string]any{{"vaccine": "Covishield", "dose_number": 1, "total_doses": 2, "dose_date": "2021-05-10"}}}
		var b admin.BeneficiaryJSON
		resp := ts.call(http.MethodPost, p+"/beneficiaries", registrar, asha)
		resp.json(t, &b)
		if resp.Status != http.StatusCreated || b.Mobile != "+919876543210" || b.Name != "Asha Verma" || b.VaccinationStatus != 1 || len(b.Doses) != 1 {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPost, p+"/beneficiaries", registrar, asha); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeAlreadyExists {
			t.Errorf("duplicate: %d %s", resp.Status, resp.Body)
		}
		twin := map[string]any{"beneficiary_id": "B-9", "mobile": "9876543210", "name": "ASHA VERMA", "year_of_birth": 1990}
		if resp := ts.call(http.MethodPost, p+"/beneficiaries", registrar, twin); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeSameName {
			t.Errorf("same name on one mobile: %d %s", resp.Status, resp.Body)
		}
		resp = ts.call(http.MethodPost, p+"/beneficiaries", registrar, map[string]any{"beneficiary_id": "", "mobile": "12", "name": "", "year_of_birth": 1800,
			"doses": []map[string]any{{"vaccine": "", "dose_number": 0, "total_doses": 2, "dose_date": "2021-02-30"}}})
		var e struct {
			Details []string `json:"details"`
		}
		resp.json(t, &e)
		if resp.Status != http.StatusUnprocessableEntity || len(e.Details) < 6 {
			t.Errorf("invalid beneficiary: %d %s", resp.Status, resp.Body)
		}

		// Update: the second dose makes her fully vaccinated.
		asha["doses"] = append(asha["doses"].([]map[string]any), map[string]any{"vaccine": "Covishield", "dose_number": 2, "total_doses": 2, "dose_date": "2021-08-02"})
		delete(asha, "beneficiary_id")
		resp = ts.call(http.MethodPut, p+"/beneficiaries/B-1", registrar, asha)
		resp.json(t, &b)
		if resp.Status != http.StatusOK || b.VaccinationStatus != 2 {
			t.Fatalf("update: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPut, p+"/beneficiaries/B-404", registrar, asha); resp.Status != http.StatusNotFound {
			t.Errorf("update unknown: %d", resp.Status)
		}
		var list struct {
			Items []admin.BeneficiaryJSON `json:"items"`
		}
		ts.call(http.MethodGet, p+"/beneficiaries?mobile=%2B919876543210", ts.owner, nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != "B-1" {
			t.Errorf("search: %+v", list)
		}
		if resp := ts.call(http.MethodGet, p+"/beneficiaries/B-1", ts.owner, nil); resp.Status != http.StatusOK {
			t.Errorf("show: %d", resp.Status)
		}

		t.Run("import", func(t *testing.T) {
			good := "beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n" +
				"B-1,9876543210,Asha Verma,1985,Covishield,1,2,2021-05-10\n" +
				"B-2,9876500000,Ravi Kumar,1990,,,,\n"
			var res struct{ Created, Updated, Doses int }
			resp := ts.call(http.MethodPost, p+"/beneficiaries/import", registrar, good, "text/csv")
			resp.json(t, &res)
			if resp.Status != http.StatusOK || res.Created != 1 || res.Updated != 1 || res.Doses != 1 {
				t.Fatalf("import: %d %s", resp.Status, resp.Body)
			}
			bad := "beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n" +
				"B-3,9876500001,New Person,1990,Covaxin,1,2,2021-06-01\n" +
				"B-4,12,Bad Mobile,1990,Covaxin,1,2,2021-06-01\n"
			resp = ts.call(http.MethodPost, p+"/beneficiaries/import", registrar, bad, "text/csv")
			var e struct {
				Details []string `json:"details"`
			}
			resp.json(t, &e)
			if resp.Status != http.StatusUnprocessableEntity || resp.errorCode(t) != admin.CodeInvalidCSV || len(e.Details) != 1 || !strings.HasPrefix(e.Details[0], "line 3: mobile") {
				t.Errorf("bad import: %d %s", resp.Status, resp.Body)
			}
			if _, err := ts.st.GetBeneficiary(context.Background(), "B-3"); err == nil {
				t.Error("a failed import applied a row")
			}
			entries := ts.audit("registry", "")
			if len(entries) != 1 || entries[0].Changes["created"] != float64(1) || len(entries[0].Changes["sha256"].(string)) != 64 {
				t.Errorf("import audit: %+v", entries)
			}
		})

		t.Run("delete", func(t *testing.T) {
			if resp := ts.call(http.MethodDelete, p+"/beneficiaries/B-2", registrar, nil); resp.Status != http.StatusNoContent {
				t.Fatalf("delete: %d", resp.Status)
			}
			if resp := ts.call(http.MethodDelete, p+"/beneficiaries/B-2", registrar, nil); resp.Status != http.StatusNotFound {
				t.Errorf("delete twice: %d", resp.Status)
			}
		})

		// Reads of personal data and every change are audited; no full
		// mobile number is in the log.
		all, _, _ := ts.st.ListAuditEntries(context.Background(), store.AuditFilter{Limit: 1000})
		var actions []string
		for _, e := range all {
			actions = append(actions, e.Action)
			b, _ := json.Marshal(e)
			if strings.Contains(string(b), "9876543210") {
				t.Errorf("a full mobile number in the audit log: %s", b)
			}
		}
		for _, want := range []string{"beneficiary.create", "beneficiary.update", "beneficiary.read", "beneficiary.search", "beneficiary.delete", "registry.import"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %s in %v", want, actions)
			}
		}
	})
}

func TestDisclosuresAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		p := admin.APIPrefix
		base := ts.clock.Now().Add(-48 * time.Hour)
		st := func(v int) *int { return &v }
		for i, d := range []store.Disclosure{
			{ClientID: "air", BeneficiaryID: "B1", Channel: "authorize", VaccinationStatus: st(2)},
			{ClientID: "air", BeneficiaryID: "B2", Channel: "authorize", VaccinationStatus: st(1)},
			{ClientID: "rail", BeneficiaryID: "B1", Channel: "kycvs-api", VaccinationStatus: st(2)},
			{ClientID: "=cmd", BeneficiaryID: "B3", Channel: "authorize"},
		} {
			d.ID, d.Subject, d.RequestID = fmt.Sprintf("d%d", i), "sub", fmt.Sprintf("r%d", i)
			d.Claims = store.StringList{"vaccination_status"}
			d.CreatedAt = base.Add(time.Duration(i) * time.Hour)
			if err := ts.st.CreateDisclosure(ctx, &d); err != nil {
				t.Fatal(err)
			}
		}
		type page struct {
			Items      []admin.DisclosureJSON `json:"items"`
			NextCursor string                 `json:"next_cursor"`
		}
		ids := func(q string) []string {
			var pg page
			resp := ts.call(http.MethodGet, p+"/disclosures?"+q, ts.owner, nil)
			if resp.Status != http.StatusOK {
				t.Fatalf("%s: %d %s", q, resp.Status, resp.Body)
			}
			resp.json(t, &pg)
			var out []string
			for _, d := range pg.Items {
				out = append(out, d.ID)
			}
			return out
		}
		day := base.Format(time.DateOnly)
		for _, tc := range []struct{ q, want string }{
			{"", "d3 d2 d1 d0"},
			{"client_id=air", "d1 d0"},
			{"beneficiary_id=B1", "d2 d0"},
			{"status=2", "d2 d0"},
			{"status=none", "d3"},
			{"since=" + url.QueryEscape(base.Add(time.Hour).Format(time.RFC3339)) + "&until=" + url.QueryEscape(base.Add(3*time.Hour).Format(time.RFC3339)), "d2 d1"},
			{"until=" + day, strings.TrimSpace(map[bool]string{true: "d3 d2 d1 d0", false: ""}[true])},
		} {
			if tc.q == "until="+day && base.Add(3*time.Hour).Format(time.DateOnly) != day {
				continue // the rows span two dates
			}
			if got := strings.Join(ids(tc.q), " "); got != tc.want {
				t.Errorf("%q: %s, want %s", tc.q, got, tc.want)
			}
		}
		var pg page
		ts.call(http.MethodGet, p+"/disclosures?limit=3", ts.owner, nil).json(t, &pg)
		if len(pg.Items) != 3 || pg.NextCursor == "" {
			t.Fatalf("first page: %+v", pg)
		}
		if got := ids("limit=3&cursor=" + pg.NextCursor); !slices.Equal(got, []string{"d0"}) {
			t.Errorf("second page: %v", got)
		}

		resp := ts.call(http.MethodGet, p+"/disclosures.csv?client_id=air", ts.owner, nil)
		lines := strings.Split(strings.TrimSpace(string(resp.Body)), "\n")
		if resp.Status != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") || len(lines) != 3 ||
			lines[0] != "id,created_at,client_id,beneficiary_id,subject,claims,vaccination_status,channel,request_id,fully_vaccinated" || !strings.HasPrefix(lines[1], "d1,") {
			t.Errorf("export: %d %q", resp.Status, lines)
		}
		resp = ts.call(http.MethodGet, p+"/disclosures.csv?status=none", ts.owner, nil)
		if !strings.Contains(string(resp.Body), ",'=cmd,") {
			t.Errorf("a formula reached the CSV: %s", resp.Body)
		}
		var actions []string
		for _, e := range ts.audit("disclosures", "") {
			actions = append(actions, e.Action)
		}
		if !slices.Contains(actions, "disclosure.query") || !slices.Contains(actions, "disclosure.export") {
			t.Errorf("audit: %v", actions)
		}
	})
}

func TestKeysAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix
		var list struct {
			Items []admin.KeyJSON `json:"items"`
		}
		ts.call(http.MethodGet, p+"/keys", ts.owner, nil).json(t, &list)
		if len(list.Items) != 2 {
			t.Fatalf("keys: %+v", list)
		}
		var oldRS string
		for _, k := range list.Items {
			if k.State != "signing" || !k.Published {
				t.Errorf("key %+v", k)
			}
			if k.Alg == oauth.RS256 {
				oldRS = k.KID
			}
		}
		var k admin.KeyJSON
		resp := ts.call(http.MethodPost, p+"/keys/rotate", ts.owner, map[string]any{"alg": "RS256"})
		resp.json(t, &k)
		if resp.Status != http.StatusCreated || k.State != "scheduled" || k.ActivatesAt == nil || !k.ActivatesAt.Equal(ts.clock.Now().Add(oauth.DefaultActivationDelay)) {
			t.Fatalf("rotate: %d %s", resp.Status, resp.Body)
		}
		if ts.keys.Current(oauth.RS256).KID != oldRS || ts.keys.ByKID(k.KID) == nil {
			t.Error("a scheduled key signs at once, or is not published")
		}
		ts.clock.Advance(oauth.DefaultActivationDelay)
		if ts.keys.Current(oauth.RS256).KID != k.KID {
			t.Error("the scheduled key does not sign after its activation")
		}
		ts.call(http.MethodGet, p+"/keys", ts.owner, nil).json(t, &list)
		for _, key := range list.Items {
			if key.KID == oldRS && (key.State != "retiring" || !key.Published || key.PublishUntil == nil) {
				t.Errorf("old key after activation: %+v", key)
			}
		}
		// Retire the new one immediately: the last RS256 key that is not
		// retired cannot go.
		if resp := ts.call(http.MethodPost, p+"/keys/"+k.KID+"/retire", ts.owner, nil); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeLastKey {
			t.Errorf("retire the last key: %d %s", resp.Status, resp.Body)
		}
		var next admin.KeyJSON
		ts.call(http.MethodPost, p+"/keys/rotate", ts.owner, map[string]any{"alg": "RS256", "immediate": true}).json(t, &next)
		if next.State != "signing" || ts.keys.Current(oauth.RS256).KID != next.KID {
			t.Errorf("immediate rotation: %+v", next)
		}
		resp = ts.call(http.MethodPost, p+"/keys/"+k.KID+"/retire", ts.owner, map[string]any{"withdraw": true})
		resp.json(t, &k)
		if resp.Status != http.StatusOK || k.Published || k.State != "retired" || ts.keys.ByKID(k.KID) != nil {
			t.Errorf("withdraw: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPost, p+"/keys/"+k.KID+"/retire", ts.owner, nil); resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeKeyRetired {
			t.Errorf("retire twice: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPost, p+"/keys/rotate", ts.owner, map[string]any{"alg": "HS256"}); resp.Status != http.StatusUnprocessableEntity {
			t.Errorf("rotate HS256: %d", resp.Status)
		}
		var actions []string
		for _, e := range ts.audit("key", "") {
			actions = append(actions, e.Action)
		}
		if strings.Count(strings.Join(actions, " "), "key.rotate") != 2 || !slices.Contains(actions, "key.retire") {
			t.Errorf("audit: %v", actions)
		}
	})
}

func TestAuditAndStatsAPI(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	p := admin.APIPrefix
	viewer := ts.adminKey(admin.RoleViewer)
	ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"client_id": "air", "name": "Air", "redirect_uris": []string{"https://air.example/cb"}})
	ts.clock.Advance(time.Second)
	ts.call(http.MethodPost, p+"/clients/air/disable", ts.owner, nil)
	var page struct {
		Items      []admin.AuditJSON `json:"items"`
		NextCursor string            `json:"next_cursor"`
	}
	ts.call(http.MethodGet, p+"/audit?action=client.&target_id=air", viewer, nil).json(t, &page)
	if len(page.Items) != 2 || page.Items[0].Action != "client.disable" || page.Items[1].Action != "client.create" {
		t.Fatalf("audit: %+v", page.Items)
	}
	ts.call(http.MethodGet, p+"/audit?limit=1", viewer, nil).json(t, &page)
	if len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("audit page: %+v", page)
	}
	ctx := context.Background()
	st := func(v int) *int { return &v }
	for i, s := range []*int{st(2), st(2), st(1), nil} {
		d := store.Disclosure{ID: fmt.Sprint(i), ClientID: "air", BeneficiaryID: "B", Subject: "s", Channel: "authorize", RequestID: fmt.Sprint(i), VaccinationStatus: s, CreatedAt: ts.clock.Now().Add(-time.Minute)}
		if err := ts.st.CreateDisclosure(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	var d admin.Dashboard
	ts.call(http.MethodGet, p+"/stats", viewer, nil).json(t, &d)
	if d.Last30Days.Verifications != 4 || len(d.Last30Days.ByClient) != 1 || d.Last30Days.ByClient[0].ByStatus["2"] != 2 || d.Last30Days.ByClient[0].Name != "Air" {
		t.Errorf("stats: %+v", d.Last30Days)
	}
}

// Bad input on every route: a JSON error with a stable code, never a 500
// (call checks both against the document).
func TestBadInput(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	p := admin.APIPrefix
	ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"client_id": "air", "name": "Air", "redirect_uris": []string{"https://air.example/cb"}})
	ts.call(http.MethodPost, p+"/beneficiaries", ts.owner, map[string]any{"beneficiary_id": "B-1", "mobile": "9876543210", "name": "Asha", "year_of_birth": 1985})
	huge := `{"name":"` + strings.Repeat("x", 300<<10) + `"}`
	for _, tc := range []struct {
		name, method, path string
		body               any
		ctype              string
		status             int
		code               string
	}{
		{"unknown route", http.MethodGet, p + "/nope", nil, "", 404, admin.CodeNotFound},
		{"wrong method", http.MethodPut, p + "/clients", nil, "", 405, admin.CodeMethodNotAllowed},
		{"list clients: bad limit", http.MethodGet, p + "/clients?limit=0", nil, "", 400, admin.CodeInvalidRequest},
		{"list clients: bad cursor", http.MethodGet, p + "/clients?cursor=x!", nil, "", 400, admin.CodeInvalidRequest},
		{"create client: not JSON", http.MethodPost, p + "/clients", "name=x", "application/json", 400, admin.CodeInvalidRequest},
		{"create client: form media type", http.MethodPost, p + "/clients", `{"name":"x"}`, "application/x-www-form-urlencoded", 415, admin.CodeUnsupportedMedia},
		{"create client: unknown field", http.MethodPost, p + "/clients", `{"name":"x","redirect_uris":["https://a.example/cb"],"colour":"red"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: wrong type", http.MethodPost, p + "/clients", `{"name":7}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: duplicate key", http.MethodPost, p + "/clients", `{"name":"Air","redirect_uris":["https://a.example/cb"],"name":"Rail"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: key in another case", http.MethodPost, p + "/clients", `{"Name":"Air","redirect_uris":["https://a.example/cb"]}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: duplicate key in jwks", http.MethodPost, p + "/clients", `{"name":"Air","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[],"keys":[]}}`, "application/json", 400, admin.CodeInvalidRequest},
		{"update client: scopes twice", http.MethodPatch, p + "/clients/air", `{"scopes":["openid"],"scopes":["openid","profile"]}`, "application/json", 400, admin.CodeInvalidRequest},
		{"update beneficiary: dose key in another case", http.MethodPut, p + "/beneficiaries/B-1", `{"mobile":"9876543210","name":"Asha","year_of_birth":1985,"doses":[{"Vaccine":"V","dose_number":1,"total_doses":2,"dose_date":"2021-01-01"}]}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: two objects", http.MethodPost, p + "/clients", `{"name":"x"}{"name":"y"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: array", http.MethodPost, p + "/clients", `[]`, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: empty", http.MethodPost, p + "/clients", ``, "application/json", 400, admin.CodeInvalidRequest},
		{"create client: too large", http.MethodPost, p + "/clients", huge, "application/json", 413, admin.CodeBodyTooLarge},
		{"create client: invalid", http.MethodPost, p + "/clients", map[string]any{"name": "", "redirect_uris": []string{"http://evil.example/cb#x"}}, "", 422, admin.CodeValidation},
		{"create client: bad ID", http.MethodPost, p + "/clients", map[string]any{"client_id": "a b/c", "name": "x", "redirect_uris": []string{"https://a.example/cb"}}, "", 422, admin.CodeValidation},
		{"show client: unknown", http.MethodGet, p + "/clients/nope", nil, "", 404, admin.CodeNotFound},
		{"show client: long ID", http.MethodGet, p + "/clients/" + strings.Repeat("a", 200), nil, "", 404, admin.CodeNotFound},
		{"update client: change ID", http.MethodPatch, p + "/clients/air", map[string]any{"client_id": "other"}, "", 422, admin.CodeValidation},
		{"update client: null body", http.MethodPatch, p + "/clients/air", "null", "application/json", 400, admin.CodeInvalidRequest},
		{"update client: unknown", http.MethodPatch, p + "/clients/nope", map[string]any{"name": "x"}, "", 404, admin.CodeNotFound},
		{"delete client: unknown", http.MethodDelete, p + "/clients/nope", nil, "", 404, admin.CodeNotFound},
		{"disable: body with fields", http.MethodPost, p + "/clients/air/disable", map[string]any{"why": "x"}, "", 400, admin.CodeInvalidRequest},
		{"enable: unknown", http.MethodPost, p + "/clients/nope/enable", nil, "", 404, admin.CodeNotFound},
		{"rotate secret: negative grace", http.MethodPost, p + "/clients/air/rotate-secret", map[string]any{"grace_period_seconds": -1}, "", 422, admin.CodeValidation},
		{"rotate secret: string grace", http.MethodPost, p + "/clients/air/rotate-secret", `{"grace_period_seconds":"1d"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"rotate secret: unknown", http.MethodPost, p + "/clients/nope/rotate-secret", nil, "", 404, admin.CodeNotFound},
		{"list API keys: unknown client", http.MethodGet, p + "/clients/nope/api-keys", nil, "", 404, admin.CodeNotFound},
		{"list API keys: long client ID", http.MethodGet, p + "/clients/" + strings.Repeat("a", 200) + "/api-keys", nil, "", 404, admin.CodeNotFound},
		{"create API key: unknown client", http.MethodPost, p + "/clients/nope/api-keys", nil, "", 404, admin.CodeNotFound},
		{"create API key: body with fields", http.MethodPost, p + "/clients/air/api-keys", map[string]any{"name": "x"}, "", 400, admin.CodeInvalidRequest},
		{"create API key: form media type", http.MethodPost, p + "/clients/air/api-keys", `{}`, "application/x-www-form-urlencoded", 415, admin.CodeUnsupportedMedia},
		{"create API key: not JSON", http.MethodPost, p + "/clients/air/api-keys", "x", "application/json", 400, admin.CodeInvalidRequest},
		{"revoke API key: unknown client", http.MethodPost, p + "/clients/nope/api-keys/kycvs_0000000000000000/revoke", nil, "", 404, admin.CodeNotFound},
		{"revoke API key: unknown key", http.MethodPost, p + "/clients/air/api-keys/kycvs_0000000000000000/revoke", nil, "", 404, admin.CodeNotFound},
		{"revoke API key: not a key ID", http.MethodPost, p + "/clients/air/api-keys/%00%ff/revoke", nil, "", 404, admin.CodeNotFound},
		{"revoke API key: long key ID", http.MethodPost, p + "/clients/air/api-keys/" + strings.Repeat("k", 200) + "/revoke", nil, "", 404, admin.CodeNotFound},
		{"revoke API key: body with fields", http.MethodPost, p + "/clients/air/api-keys/kycvs_0000000000000000/revoke", map[string]any{"why": "x"}, "", 400, admin.CodeInvalidRequest},
		{"revoke API key: DELETE", http.MethodDelete, p + "/clients/air/api-keys/kycvs_0000000000000000", nil, "", 404, admin.CodeNotFound},
		{"search beneficiaries: no mobile", http.MethodGet, p + "/beneficiaries", nil, "", 400, admin.CodeInvalidRequest},
		{"search beneficiaries: bad mobile", http.MethodGet, p + "/beneficiaries?mobile=abc", nil, "", 400, admin.CodeInvalidRequest},
		{"create beneficiary: invalid", http.MethodPost, p + "/beneficiaries", map[string]any{"beneficiary_id": "B-2", "mobile": "1", "name": "x", "year_of_birth": 3000}, "", 422, admin.CodeValidation},
		{"create beneficiary: dose as string", http.MethodPost, p + "/beneficiaries", `{"beneficiary_id":"B","doses":"x"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"show beneficiary: unknown", http.MethodGet, p + "/beneficiaries/nope", nil, "", 404, admin.CodeNotFound},
		{"update beneficiary: change ID", http.MethodPut, p + "/beneficiaries/B-1", map[string]any{"beneficiary_id": "B-2", "mobile": "9876543210", "name": "Asha", "year_of_birth": 1985}, "", 422, admin.CodeValidation},
		{"update beneficiary: invalid", http.MethodPut, p + "/beneficiaries/B-1", map[string]any{"mobile": "9876543210", "name": "Asha", "year_of_birth": 1985, "doses": []map[string]any{{"vaccine": "V", "dose_number": 11, "total_doses": 2, "dose_date": "2021-01-01"}}}, "", 422, admin.CodeValidation},
		{"delete beneficiary: unknown", http.MethodDelete, p + "/beneficiaries/nope", nil, "", 404, admin.CodeNotFound},
		{"import: JSON", http.MethodPost, p + "/beneficiaries/import", `{}`, "application/json", 415, admin.CodeUnsupportedMedia},
		{"import: no header", http.MethodPost, p + "/beneficiaries/import", "B-1,9876543210,Asha,1985,,,,\n", "text/csv", 422, admin.CodeInvalidCSV},
		{"import: empty", http.MethodPost, p + "/beneficiaries/import", "", "text/csv", 422, admin.CodeInvalidCSV},
		{"import: binary", http.MethodPost, p + "/beneficiaries/import", "\x00\xff\xfe", "text/csv", 422, admin.CodeInvalidCSV},
		{"disclosures: bad status", http.MethodGet, p + "/disclosures?status=3", nil, "", 400, admin.CodeInvalidRequest},
		{"disclosures: bad time", http.MethodGet, p + "/disclosures?since=yesterday", nil, "", 400, admin.CodeInvalidRequest},
		{"disclosures: bad cursor", http.MethodGet, p + "/disclosures?cursor=bm9wZQ", nil, "", 400, admin.CodeInvalidRequest},
		{"disclosures: bad limit", http.MethodGet, p + "/disclosures?limit=5000", nil, "", 400, admin.CodeInvalidRequest},
		{"export: bad until", http.MethodGet, p + "/disclosures.csv?until=31-12-2026", nil, "", 400, admin.CodeInvalidRequest},
		{"rotate key: no alg", http.MethodPost, p + "/keys/rotate", map[string]any{}, "", 422, admin.CodeValidation},
		{"rotate key: no body", http.MethodPost, p + "/keys/rotate", nil, "", 400, admin.CodeInvalidRequest},
		{"rotate key: bad immediate", http.MethodPost, p + "/keys/rotate", `{"alg":"RS256","immediate":"yes"}`, "application/json", 400, admin.CodeInvalidRequest},
		{"retire key: unknown", http.MethodPost, p + "/keys/nope/retire", nil, "", 404, admin.CodeNotFound},
		{"retire key: bad body", http.MethodPost, p + "/keys/nope/retire", `{"withdraw":1}`, "application/json", 400, admin.CodeInvalidRequest},
		{"audit: bad since", http.MethodGet, p + "/audit?since=1", nil, "", 400, admin.CodeInvalidRequest},
		{"audit: bad cursor", http.MethodGet, p + "/audit?cursor=x", nil, "", 400, admin.CodeInvalidRequest},
		{"stats: unknown route below", http.MethodGet, p + "/stats/today", nil, "", 404, admin.CodeNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp response
			if tc.ctype != "" {
				resp = ts.call(tc.method, tc.path, ts.owner, tc.body, tc.ctype)
			} else {
				resp = ts.call(tc.method, tc.path, ts.owner, tc.body)
			}
			if resp.Status != tc.status || resp.errorCode(t) != tc.code {
				t.Errorf("%d %s, want %d %s", resp.Status, resp.Body, tc.status, tc.code)
			}
		})
	}
}

// A registry CSV larger than any form reaches the importer whole.
func TestImportLargerThanForms(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	var b strings.Builder
	b.WriteString("beneficiary_id,mobile,name,year_of_birth,vaccine,dose_number,total_doses,dose_date\n")
	for i := range 1200 {
		fmt.Fprintf(&b, "BULK-%05d,98%08d,Person Number %d,1980,Covishield,1,2,2021-05-10\n", i, i, i)
	}
	if b.Len() <= 80<<10 { // larger than the forms' 64 KiB
		t.Fatalf("only %d bytes", b.Len())
	}
	resp := ts.call(http.MethodPost, admin.APIPrefix+"/beneficiaries/import", ts.owner, b.String(), "text/csv")
	var res struct{ Created int }
	resp.json(t, &res)
	if resp.Status != http.StatusOK || res.Created != 1200 {
		t.Fatalf("import of %d bytes: %d %s", b.Len(), resp.Status, resp.Body)
	}
}

// An admin ends a person's sessions: every browser session of theirs goes,
// each client with a backchannel_logout_uri that signed them in within one
// gets a logout token queued, and the audit log says so. Viewers cannot.
func TestEndSessionsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		p := admin.APIPrefix
		ts.call(http.MethodPost, p+"/beneficiaries", ts.owner, map[string]any{"beneficiary_id": "B-1", "mobile": "9876543210", "name": "Asha", "year_of_birth": 1985})
		if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{"client_id": "air", "name": "Air", "redirect_uris": []string{"https://air.example/cb"},
			"backchannel_logout_uri": "https://air.example/bc"}); resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		now := ts.clock.Now()
		for _, sid := range []string{"s1", "s2"} {
			if err := ts.st.CreateSession(ctx, &store.Session{ID: "session-" + sid, BeneficiaryID: "B-1", Mobile: "+919876543210", Name: "Asha",
				AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := ts.st.RecordRPSession(ctx, &store.RPSession{SID: sid, ClientID: "air", Subject: "sub", BeneficiaryID: "B-1",
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		if resp := ts.call(http.MethodPost, p+"/beneficiaries/B-1/end-sessions", ts.adminKey(admin.RoleViewer), nil); resp.Status != http.StatusForbidden {
			t.Fatalf("viewer: %d", resp.Status)
		}
		resp := ts.call(http.MethodPost, p+"/beneficiaries/B-1/end-sessions", ts.owner, nil)
		var ended admin.EndedSessions
		resp.json(t, &ended)
		if resp.Status != http.StatusOK || ended.Sessions != 2 || ended.LogoutTokens != 2 {
			t.Fatalf("end sessions: %d %s", resp.Status, resp.Body)
		}
		if _, err := ts.st.GetSession(ctx, "session-s1", now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the session survived: %v", err)
		}
		if q, err := ts.st.LogoutDeliveries(ctx); err != nil || len(q) != 2 {
			t.Fatalf("queued %+v %v", q, err)
		}
		if resp := ts.call(http.MethodPost, p+"/beneficiaries/B-1/end-sessions", ts.owner, nil); resp.Status != http.StatusOK ||
			!strings.Contains(string(resp.Body), `"sessions_ended":0`) {
			t.Fatalf("again: %d %s", resp.Status, resp.Body)
		}
		if resp := ts.call(http.MethodPost, p+"/beneficiaries/nobody/end-sessions", ts.owner, nil); resp.Status != http.StatusNotFound {
			t.Fatalf("unknown: %d %s", resp.Status, resp.Body)
		}
		entries, _, err := ts.st.ListAuditEntries(ctx, store.AuditFilter{Action: "beneficiary.end_sessions", Limit: 10})
		if err != nil || len(entries) != 2 || entries[len(entries)-1].TargetID != "B-1" {
			t.Fatalf("audit %+v %v", entries, err)
		}
	})
}
