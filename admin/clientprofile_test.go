package admin_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/admin"
)

// A private_key_jwt client has no secret: rotating one is refused with
// words that say so, not that the client is public, in the API and the
// console.
func TestRotateSecretOfKeyClient(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	p := admin.APIPrefix
	if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
		"client_id": "gov", "name": "Gov Air", "redirect_uris": []string{"https://gov.example/cb"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://gov.example/jwks",
	}); resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	resp := ts.call(http.MethodPost, p+"/clients/gov/rotate-secret", ts.owner, nil)
	if resp.Status != http.StatusConflict || resp.errorCode(t) != admin.CodeKeyClient ||
		!strings.Contains(string(resp.Body), "authenticates with private_key_jwt and has no secret") || strings.Contains(string(resp.Body), "public") {
		t.Errorf("API: %d %s", resp.Status, resp.Body)
	}

	ts.addUser("9999900010", admin.RoleOwner)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	page := b.Get("/admin/clients/gov")
	got := b.Submit(page, "/admin/clients/gov/rotate-secret", url.Values{"grace_period_seconds": {"0"}})
	if !strings.Contains(got.Body, "This client authenticates with private_key_jwt and has no secret") || strings.Contains(got.Body, "A public client") {
		t.Errorf("console: %d %s", got.Status, got.Body)
	}
}

// Every field of the high-assurance settings (profile, PAR, DPoP,
// back-channel logout, post-logout redirect URIs) set through the admin
// API is read back as set, changed one by one, and read back again.
func TestClientProfileFieldsAPI(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		p := admin.APIPrefix
		resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
			"client_id": "gov", "name": "Gov Air", "redirect_uris": []string{"https://gov.example/cb"},
			"profile": "fapi2", "jwks_uri": "https://gov.example/jwks",
			"post_logout_redirect_uris": []string{"https://gov.example/bye"},
			"backchannel_logout_uri":    "https://gov.example/bc", "backchannel_logout_session_required": true,
		})
		if resp.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", resp.Status, resp.Body)
		}
		read := func() admin.ClientJSON {
			t.Helper()
			var c admin.ClientJSON
			ts.call(http.MethodGet, p+"/clients/gov", ts.owner, nil).json(t, &c)
			return c
		}
		c := read()
		if c.Profile != "fapi2" || !c.RequirePAR || !c.DPoPBoundAccessTokens || c.TokenEndpointAuthMethod != "private_key_jwt" ||
			c.JWKSURI != "https://gov.example/jwks" || c.ClientSecret != "" ||
			!slices.Equal(c.PostLogoutRedirectURIs, []string{"https://gov.example/bye"}) ||
			c.BackchannelLogoutURI != "https://gov.example/bc" || !c.BackchannelLogoutSessionRequired {
			t.Fatalf("read after create: %+v", c)
		}
		for _, step := range []struct {
			name   string
			change map[string]any
			check  func(admin.ClientJSON) bool
		}{
			{"profile off", map[string]any{"profile": ""}, func(c admin.ClientJSON) bool {
				// What the profile implied stays as stored, now set on its own.
				return c.Profile == "" && c.RequirePAR && c.DPoPBoundAccessTokens
			}},
			{"PAR off", map[string]any{"require_pushed_authorization_requests": false}, func(c admin.ClientJSON) bool { return !c.RequirePAR }},
			{"DPoP off", map[string]any{"dpop_bound_access_tokens": false}, func(c admin.ClientJSON) bool { return !c.DPoPBoundAccessTokens }},
			{"PAR on", map[string]any{"require_pushed_authorization_requests": true}, func(c admin.ClientJSON) bool { return c.RequirePAR && c.Profile == "" }},
			{"back-channel URI", map[string]any{"backchannel_logout_uri": "https://gov.example/bc2"}, func(c admin.ClientJSON) bool { return c.BackchannelLogoutURI == "https://gov.example/bc2" }},
			{"sid not required", map[string]any{"backchannel_logout_session_required": false}, func(c admin.ClientJSON) bool { return !c.BackchannelLogoutSessionRequired }},
			{"post-logout URIs", map[string]any{"post_logout_redirect_uris": []string{"https://gov.example/a", "https://gov.example/b"}}, func(c admin.ClientJSON) bool {
				return slices.Equal(c.PostLogoutRedirectURIs, []string{"https://gov.example/a", "https://gov.example/b"})
			}},
			{"no back-channel URI", map[string]any{"backchannel_logout_uri": ""}, func(c admin.ClientJSON) bool { return c.BackchannelLogoutURI == "" }},
			{"profile on", map[string]any{"profile": "fapi2"}, func(c admin.ClientJSON) bool {
				return c.Profile == "fapi2" && c.RequirePAR && c.DPoPBoundAccessTokens
			}},
		} {
			resp := ts.call(http.MethodPatch, p+"/clients/gov", ts.owner, step.change)
			var answered admin.ClientJSON
			resp.json(t, &answered)
			if resp.Status != http.StatusOK || !step.check(answered) || !step.check(read()) {
				t.Errorf("%s: %d %s; read back %+v", step.name, resp.Status, resp.Body, read())
			}
		}
	})
}

// The console's client form sets the same fields and shows them again
// as set when the client is opened.
func TestClientProfileFieldsConsole(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleOwner)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	form := b.Get("/admin/clients/new")
	created := b.Submit(form, "/admin/clients", url.Values{"client_id": {"gov"}, "name": {"Gov Air"}, "redirect_uris": {"https://gov.example/cb"},
		"scopes": {"openid", "vaccination_status"}, "profile": {"fapi2"}, "jwks_uri": {"https://gov.example/jwks"},
		"post_logout_redirect_uris": {"https://gov.example/bye"},
		"backchannel_logout_uri":    {"https://gov.example/bc"}, "backchannel_logout_session_required": {"on"}})
	if created.RedirectedBy != http.StatusSeeOther || created.Status != http.StatusOK || created.URL.Path != "/admin/clients/gov" || strings.Contains(created.Body, "Please correct") {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	shown := func(body string) map[string]bool {
		return map[string]bool{
			"profile":         strings.Contains(body, `<option value="fapi2" selected>`),
			"PAR":             strings.Contains(body, `name="require_pushed_authorization_requests" checked`),
			"DPoP":            strings.Contains(body, `name="dpop_bound_access_tokens" checked`),
			"sid":             strings.Contains(body, `name="backchannel_logout_session_required" checked`),
			"back-channel":    strings.Contains(body, `name="backchannel_logout_uri" value="https://gov.example/bc"`),
			"post-logout":     strings.Contains(body, ">https://gov.example/bye</textarea>"),
			"private_key_jwt": strings.Contains(body, `<option value="private_key_jwt" selected>`),
		}
	}
	page := b.Get("/admin/clients/gov")
	for field, ok := range shown(page.Body) {
		if !ok {
			t.Errorf("after create, the form does not show %s as set", field)
		}
	}
	// Clear each one: the form shows them cleared.
	updated := b.Submit(page, "/admin/clients/gov", url.Values{"name": {"Gov Air"}, "redirect_uris": {"https://gov.example/cb"},
		"scopes": {"openid", "vaccination_status"}, "token_endpoint_auth_method": {"private_key_jwt"}, "jwks_uri": {"https://gov.example/jwks"}})
	if strings.Contains(updated.Body, "Please correct") {
		t.Fatalf("update: %s", updated.Body)
	}
	page = b.Get("/admin/clients/gov")
	for field, ok := range shown(page.Body) {
		if ok && field != "private_key_jwt" {
			t.Errorf("after clearing, the form still shows %s as set", field)
		}
	}
	c, err := ts.st.GetClient(t.Context(), "gov")
	if err != nil || c.Profile != "" || c.RequirePushedAuthorizationRequests || c.DPoPBoundAccessTokens || c.BackchannelLogoutURI != "" ||
		c.BackchannelLogoutSessionRequired || len(c.PostLogoutRedirectURIs) != 0 {
		t.Errorf("stored after clearing: %+v %v", c, err)
	}
}

// A fapi2 client's redirect URIs are https, even on localhost (FAPI 2.0
// Security Profile 5.3.2.2): the admin API refuses http ones at creation,
// at an update, and when a client with one is made fapi2.
func TestFAPI2RedirectURIsAPI(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	p := admin.APIPrefix
	const httpsOnly = "must be https for profile fapi2"
	refused := func(name string, resp response) {
		t.Helper()
		if resp.Status != http.StatusUnprocessableEntity || resp.errorCode(t) != admin.CodeValidation || !strings.Contains(string(resp.Body), httpsOnly) {
			t.Errorf("%s: %d %s", name, resp.Status, resp.Body)
		}
	}
	refused("create", ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
		"client_id": "gov", "name": "Gov Air", "redirect_uris": []string{"http://localhost:9002/cb"},
		"profile": "fapi2", "jwks_uri": "https://gov.example/jwks"}))
	if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
		"client_id": "gov", "name": "Gov Air", "redirect_uris": []string{"https://gov.example/cb"},
		"profile": "fapi2", "jwks_uri": "https://gov.example/jwks"}); resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	refused("update", ts.call(http.MethodPatch, p+"/clients/gov", ts.owner, map[string]any{"redirect_uris": []string{"http://127.0.0.1:9002/cb"}}))
	if resp := ts.call(http.MethodPost, p+"/clients", ts.owner, map[string]any{
		"client_id": "dev", "name": "Dev", "redirect_uris": []string{"http://localhost:9002/cb"},
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://gov.example/jwks"}); resp.Status != http.StatusCreated {
		t.Fatalf("create a non-fapi2 client with a loopback URI: %d %s", resp.Status, resp.Body)
	}
	refused("made fapi2", ts.call(http.MethodPatch, p+"/clients/dev", ts.owner, map[string]any{"profile": "fapi2"}))
	if c, _ := ts.st.GetClient(t.Context(), "gov"); c.RedirectURIs[0] != "https://gov.example/cb" {
		t.Errorf("a refused update changed the client: %v", c.RedirectURIs)
	}
}

// The console refuses the same, with the same words.
func TestFAPI2RedirectURIsConsole(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	ts.addUser("9999900010", admin.RoleOwner)
	b := ts.browser()
	b.signIn(ts, "9999900010")
	form := b.Get("/admin/clients/new")
	fields := url.Values{"client_id": {"gov"}, "name": {"Gov Air"}, "redirect_uris": {"http://localhost:9002/cb"},
		"scopes": {"openid", "vaccination_status"}, "profile": {"fapi2"}, "jwks_uri": {"https://gov.example/jwks"}}
	got := b.Submit(form, "/admin/clients", fields)
	if !strings.Contains(got.Body, "Please correct") || !strings.Contains(got.Body, "must be https for profile fapi2") {
		t.Fatalf("create: %d %s", got.Status, got.Body)
	}
	fields.Set("redirect_uris", "https://gov.example/cb")
	if created := b.Submit(form, "/admin/clients", fields); created.RedirectedBy != http.StatusSeeOther || created.URL.Path != "/admin/clients/gov" {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	page := b.Get("/admin/clients/gov")
	fields.Del("client_id")
	fields.Set("redirect_uris", "http://127.0.0.1:9002/cb")
	got = b.Submit(page, "/admin/clients/gov", fields)
	if !strings.Contains(got.Body, "Please correct") || !strings.Contains(got.Body, "must be https for profile fapi2") {
		t.Errorf("update: %d %s", got.Status, got.Body)
	}
}
