package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// registrationCall sends a request to the registration endpoints with a
// bearer token ("" for none) and a JSON body (nil for none).
func (ts *testServer) registrationCall(method, url, token string, body any) (int, map[string]any, http.Header) {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			b, _ = json.Marshal(body)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			ts.t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// airline is the metadata of a confidential verifying entity.
func airline(name string) map[string]any {
	return map[string]any{
		"client_name":   name,
		"redirect_uris": []string{"http://127.0.0.1:9/callback"},
		"scope":         "openid vaccination_status",
		"grant_types":   []string{"authorization_code"},
		"contacts":      []string{"it@air.example"},
		// Unknown metadata is ignored (RFC 7591 2).
		"software_id": "air-booking", "tos_uri": "https://air.example/tos",
	}
}

// The whole self-service path on each database: an admin issues initial
// access tokens from the command line and the admin API, a verifying
// entity registers with one and verifies a person through go-oidc with the
// client it got, reads, replaces and deletes its registration with its
// registration access token; every refusal on the way; all of it audited.
func TestDynamicRegistrationEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		endpoint := ts.URL + oauth.PathRegister

		// Discovery names the endpoint.
		p, err := oidc.NewProvider(ctx, ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		var disc struct {
			Registration string `json:"registration_endpoint"`
		}
		if err := p.Claims(&disc); err != nil || disc.Registration != endpoint {
			t.Fatalf("registration_endpoint = %q (%v), want %q", disc.Registration, err, endpoint)
		}

		// An admin issues a token for two registrations on the command
		// line, and a single-use one through the admin API.
		t.Setenv("KYCVS_DATABASE_URL", ts.cfg.DatabaseURL)
		t.Setenv("KYCVS_SECRET", testSecret)
		out, err := kycvs(t, "clients", "initial-token", "create", "--uses", "2", "--expires", "1h", "--name", "Air India onboarding", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var cliToken initialTokenJSON
		if err := json.Unmarshal([]byte(out), &cliToken); err != nil || !strings.HasPrefix(cliToken.InitialAccessToken, "kycvsiat_") || cliToken.State != "active" {
			t.Fatalf("initial-token create: %s %v", out, err)
		}
		svc := cliService(ts.store(), testSecret, nil)
		key, _, err := svc.CreateAdminKey(ctx, admin.CLIActor("test", "host"), "onboarding", admin.RoleClientAdmin)
		if err != nil {
			t.Fatal(err)
		}
		status, body := ts.adminCall(http.MethodPost, "/initial-tokens", key, map[string]any{"name": "Rail", "expires_in_seconds": 600})
		var apiToken admin.InitialTokenJSON
		json.Unmarshal(body, &apiToken)
		if status != http.StatusCreated || apiToken.MaxUses != 1 || apiToken.InitialAccessToken == "" {
			t.Fatalf("API create: %d %s", status, body)
		}

		// Register, then verify a person with the new client.
		status, reg, hdr := ts.registrationCall(http.MethodPost, endpoint, cliToken.InitialAccessToken, airline("Air India"))
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		if hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", hdr.Get("Cache-Control"))
		}
		id, _ := reg["client_id"].(string)
		secret, _ := reg["client_secret"].(string)
		regToken, _ := reg["registration_access_token"].(string)
		if id == "" || secret == "" || regToken == "" || reg["registration_client_uri"] != endpoint+"/"+id ||
			reg["client_secret_expires_at"] != float64(0) || reg["client_id_issued_at"] == nil ||
			reg["token_endpoint_auth_method"] != "client_secret_basic" || reg["subject_type"] != "pairwise" ||
			reg["scope"] != "openid vaccination_status" || reg["client_name"] != "Air India" {
			t.Fatalf("registration response: %v", reg)
		}
		if _, ok := reg["software_id"]; ok {
			t.Error("unknown metadata came back as registered")
		}
		r := ts.newRP(id, secret)
		a := r.authorize()
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
		if v.Status != 2 {
			t.Fatalf("vaccination_status = %d", v.Status)
		}

		// Read and replace with the registration access token.
		clientURI := endpoint + "/" + id
		status, got, _ := ts.registrationCall(http.MethodGet, clientURI, regToken, nil)
		if status != http.StatusOK || got["client_id"] != id || got["client_name"] != "Air India" || got["client_secret"] != nil ||
			got["registration_access_token"] == nil || got["registration_access_token"] == regToken || got["registration_client_uri"] != clientURI {
			t.Fatalf("read: %d %v", status, got)
		}
		regTokens := []string{regToken} // every one made, for the audit check
		regToken = got["registration_access_token"].(string)
		regTokens = append(regTokens, regToken)
		update := airline("Air India Express")
		update["client_id"] = id
		update["scope"] = "openid vaccination_status profile"
		update["backchannel_logout_uri"] = "https://air.example/kycvs/logout"
		update["backchannel_logout_session_required"] = true
		update["client_secret"] = secret // may be sent; must then be the client's (RFC 7592 2.2)
		status, got, _ = ts.registrationCall(http.MethodPut, clientURI, regToken, update)
		if status != http.StatusOK || got["client_name"] != "Air India Express" || got["scope"] != "openid vaccination_status profile" ||
			got["backchannel_logout_uri"] != "https://air.example/kycvs/logout" || got["backchannel_logout_session_required"] != true ||
			got["registration_access_token"] == nil || got["registration_access_token"] == regToken {
			t.Fatalf("replace: %d %v", status, got)
		}
		regToken = got["registration_access_token"].(string)
		regTokens = append(regTokens, regToken)
		if c, _ := ts.store().GetClient(ctx, id); c.Name != "Air India Express" || len(c.RegistrationTokenHash) == 0 || c.BackchannelLogoutURI != "https://air.example/kycvs/logout" {
			t.Fatalf("stored after replace: %+v", c)
		}
		// A replacement is validated as a whole, as the admin's update is.
		bad := airline("Air India Express")
		bad["client_id"] = id
		bad["redirect_uris"] = []string{"http://air.example/callback"}
		if status, got, _ := ts.registrationCall(http.MethodPut, clientURI, regToken, bad); status != http.StatusBadRequest || got["error"] != "invalid_redirect_uri" {
			t.Errorf("replace with a bad redirect URI: %d %v", status, got)
		}
		chosen := airline("Air India Express")
		chosen["client_id"], chosen["client_secret"] = id, "my-own-secret"
		if status, got, _ := ts.registrationCall(http.MethodPut, clientURI, regToken, chosen); status != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
			t.Errorf("replace with a secret of its choosing: %d %v", status, got)
		}
		other := airline("Other")
		other["client_id"] = "someone-else"
		if status, got, _ := ts.registrationCall(http.MethodPut, clientURI, regToken, other); status != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
			t.Errorf("replace naming another client_id: %d %v", status, got)
		}

		// A wrong token, an unknown client and an admin-made client all
		// get the same 401: the endpoint never tells whether a client exists.
		adminMade, _ := ts.client(oauth.ClientSpec{})
		for name, call := range map[string][2]string{
			"wrong token":      {clientURI, regToken + "x"},
			"no token":         {clientURI, ""},
			"unknown client":   {endpoint + "/no-such-client", regToken},
			"another's client": {endpoint + "/" + adminMade, regToken},
			"initial token":    {clientURI, cliToken.InitialAccessToken},
			"client secret":    {clientURI, secret},
		} {
			for _, method := range []string{http.MethodGet, http.MethodDelete} {
				status, got, hdr := ts.registrationCall(method, call[0], call[1], nil)
				if status != http.StatusUnauthorized || got["error"] != "invalid_token" || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("%s %s: %d %v", name, method, status, got)
				}
			}
		}

		// Every refusal at registration, with the API's single-use token,
		// which a refused registration does not use up.
		refusals := []struct {
			name   string
			change func(m map[string]any)
			code   string
		}{
			{"http redirect URI", func(m map[string]any) { m["redirect_uris"] = []string{"http://air.example/callback"} }, "invalid_redirect_uri"},
			{"redirect URI with fragment", func(m map[string]any) { m["redirect_uris"] = []string{"https://air.example/cb#x"} }, "invalid_redirect_uri"},
			{"no redirect URI", func(m map[string]any) { delete(m, "redirect_uris") }, "invalid_redirect_uri"},
			{"no name", func(m map[string]any) { delete(m, "client_name") }, "invalid_client_metadata"},
			{"unknown scope", func(m map[string]any) { m["scope"] = "openid admin" }, "invalid_client_metadata"},
			{"implicit grant", func(m map[string]any) { m["grant_types"] = []string{"implicit"} }, "invalid_client_metadata"},
			{"client credentials", func(m map[string]any) { m["grant_types"] = []string{"authorization_code", "client_credentials"} }, "invalid_client_metadata"},
			{"token response", func(m map[string]any) { m["response_types"] = []string{"code", "id_token token"} }, "invalid_client_metadata"},
			{"public subject", func(m map[string]any) { m["subject_type"] = "public" }, "invalid_client_metadata"},
			{"unknown auth method", func(m map[string]any) { m["token_endpoint_auth_method"] = "tls_client_auth" }, "invalid_client_metadata"},
			{"private_key_jwt without keys", func(m map[string]any) { m["token_endpoint_auth_method"] = "private_key_jwt" }, "invalid_client_metadata"},
			{"secret client with keys", func(m map[string]any) { m["jwks_uri"] = "https://air.example/jwks" }, "invalid_client_metadata"},
			{"unknown alg", func(m map[string]any) { m["id_token_signed_response_alg"] = "none" }, "invalid_client_metadata"},
			{"http logo", func(m map[string]any) { m["logo_uri"] = "http://air.example/logo.png" }, "invalid_client_metadata"},
			{"another host's sector", func(m map[string]any) { m["sector_identifier_uri"] = "https://other-airline.example/sector.json" }, "invalid_client_metadata"},
			{"http back-channel logout", func(m map[string]any) { m["backchannel_logout_uri"] = "http://air.example/logout" }, "invalid_client_metadata"},
			{"bad contact", func(m map[string]any) { m["contacts"] = []string{"not an address"} }, "invalid_client_metadata"},
			{"wrong type", func(m map[string]any) { m["redirect_uris"] = "https://air.example/cb" }, "invalid_client_metadata"},
		}
		for _, rc := range refusals {
			m := airline("Rail")
			rc.change(m)
			status, got, _ := ts.registrationCall(http.MethodPost, endpoint, apiToken.InitialAccessToken, m)
			if status != http.StatusBadRequest || got["error"] != rc.code || got["error_description"] == "" {
				t.Errorf("%s: %d %v, want 400 %s", rc.name, status, got, rc.code)
			}
		}
		for name, body := range map[string][]byte{"not JSON": []byte("client_name=x"), "an array": []byte(`[{}]`), "empty": {}} {
			if status, got, _ := ts.registrationCall(http.MethodPost, endpoint, apiToken.InitialAccessToken, body); status != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
				t.Errorf("%s: %d %v", name, status, got)
			}
		}
		// The command line refuses the same value with the same words: one
		// set of rules.
		_, cliErr := kycvs(t, "clients", "create", "--name", "Rail", "--redirect-uri", "http://127.0.0.1:9/callback", "--logo-uri", "http://air.example/logo.png")
		m := airline("Rail")
		m["logo_uri"] = "http://air.example/logo.png"
		_, got, _ = ts.registrationCall(http.MethodPost, endpoint, apiToken.InitialAccessToken, m)
		if cliErr == nil || !strings.Contains(cliErr.Error(), got["error_description"].(string)) {
			t.Errorf("the CLI says %v, registration says %v", cliErr, got["error_description"])
		}

		// A public client: no secret; the API's token is still unused.
		pub := airline("Rail")
		pub["token_endpoint_auth_method"] = "none"
		status, got, _ = ts.registrationCall(http.MethodPost, endpoint, apiToken.InitialAccessToken, pub)
		if status != http.StatusCreated || got["client_secret"] != nil || got["client_secret_expires_at"] != nil || got["token_endpoint_auth_method"] != "none" {
			t.Fatalf("public registration: %d %v", status, got)
		}
		pubID := got["client_id"].(string)
		if c, _ := ts.store().GetClient(ctx, pubID); !c.Public || c.RegisteredWith != apiToken.ID {
			t.Fatalf("stored public client: %+v", c)
		}
		if out, err := kycvs(t, "clients", "show", pubID); err != nil || !strings.Contains(out, apiToken.ID) {
			t.Errorf("clients show: %q %v", out, err)
		}

		// Tokens that do not register: used up, expired, revoked, none,
		// malformed.
		status, got, _ = ts.registrationCall(http.MethodPost, endpoint, apiToken.InitialAccessToken, airline("Rail 2"))
		if status != http.StatusUnauthorized || got["error"] != "invalid_token" {
			t.Errorf("used-up token: %d %v", status, got)
		}
		expiring, _, err := svc.CreateInitialToken(ctx, admin.CLIActor("test", "host"), "", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.store().UpdateInitialAccessToken(ctx, expiring[:len("kycvsiat_")+16], func(t *store.InitialAccessToken) error {
			t.ExpiresAt = time.Now().Add(-time.Second)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		revoked, rec, err := svc.CreateInitialToken(ctx, admin.CLIActor("test", "host"), "", 5, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := kycvs(t, "clients", "initial-token", "revoke", rec.ID); err != nil || !strings.Contains(out, "revoked") {
			t.Fatalf("revoke: %q %v", out, err)
		}
		for name, tok := range map[string]string{"expired": expiring, "revoked": revoked, "none": "", "malformed": "kycvsiat_nonsense",
			"wrong secret": cliToken.InitialAccessToken[:len(cliToken.InitialAccessToken)-2] + "AA", "admin key": key} {
			status, got, hdr := ts.registrationCall(http.MethodPost, endpoint, tok, airline("Rail 3"))
			if status != http.StatusUnauthorized || got["error"] != "invalid_token" || hdr.Get("WWW-Authenticate") == "" {
				t.Errorf("%s token: %d %v", name, status, got)
			}
		}
		out, _ = kycvs(t, "clients", "initial-token", "list")
		for _, want := range []string{"Air India onboarding", "1/2", "used up", "revoked", "expired"} {
			if !strings.Contains(out, want) {
				t.Errorf("initial-token list lacks %q:\n%s", want, out)
			}
		}

		// Delete: the client and its tokens go, the registration access
		// token stops working.
		status, _, _ = ts.registrationCall(http.MethodDelete, clientURI, regToken, nil)
		if status != http.StatusNoContent {
			t.Fatalf("delete: %d", status)
		}
		if status, got, _ := ts.registrationCall(http.MethodGet, clientURI, regToken, nil); status != http.StatusUnauthorized || got["error"] != "invalid_token" {
			t.Errorf("read after delete: %d %v", status, got)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(v.Token)); err == nil {
			t.Error("the deleted client's access token still works at userinfo")
		}
		var re *oauth2.RetrieveError
		if _, err := r.conf.Exchange(ctx, "whatever", oauth2.VerifierOption(a.verifier)); !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("the deleted client at the token endpoint: %v", err)
		}

		// All of it is in the audit log, never a token or a secret.
		entries, _, err := ts.store().ListAuditEntries(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries {
			actions = append(actions, e.ActorType+" "+e.Action)
			b, _ := json.Marshal(e)
			for _, s := range append([]string{cliToken.InitialAccessToken, apiToken.InitialAccessToken, secret}, regTokens...) {
				if strings.Contains(string(b), s) {
					t.Errorf("a token or secret in the audit log: %s", b)
				}
			}
		}
		for _, want := range []string{"cli initial_token.create", "api_key initial_token.create", "cli initial_token.revoke",
			"initial_token client.register", "client client.update", "client client.delete"} {
			if !slices.Contains(actions, want) {
				t.Errorf("no %q in the audit log: %v", want, actions)
			}
		}
	})
}

// The registration endpoints' limits: bodies over MaxBodyBytes and
// requests over the per-IP limit are refused before anything is read.
func TestDynamicRegistrationLimits(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.RegistrationIPLimit = 3 })
	endpoint := ts.URL + oauth.PathRegister
	tok, _, err := cliService(ts.store(), testSecret, nil).CreateInitialToken(context.Background(), admin.CLIActor("test", "host"), "", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	huge := airline("Big")
	huge["client_name"] = strings.Repeat("x", 40<<10)
	if status, got, _ := ts.registrationCall(http.MethodPost, endpoint, tok, huge); status != http.StatusRequestEntityTooLarge || got["error"] != "invalid_client_metadata" {
		t.Errorf("large body: %d %v", status, got)
	}
	req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(`{"client_name":"x"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("form body: %v %v", resp, err)
	}
	if status, _, _ := ts.registrationCall(http.MethodGet, endpoint+"/x", "y", nil); status != http.StatusUnauthorized {
		t.Errorf("third request in the hour: %d", status)
	}
	status, got, hdr := ts.registrationCall(http.MethodGet, endpoint+"/x", "y", nil)
	if status != http.StatusTooManyRequests || got["error"] != "too_many_requests" || hdr.Get("Retry-After") == "" {
		t.Errorf("fourth request in the hour: %d %v %v", status, got, hdr)
	}
}

// A registered client an operator made fapi2 cannot replace its redirect
// URIs with http ones, loopback included (FAPI 2.0 Security Profile
// 5.3.2.2): the replacement is invalid_redirect_uri, as at registration.
func TestDynamicRegistrationFAPI2RedirectURIs(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	ctx := context.Background()
	svc := cliService(ts.store(), testSecret, nil)
	initial, _, err := svc.CreateInitialToken(ctx, admin.CLIActor("test", "host"), "", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	m := airline("Gov Air")
	m["redirect_uris"] = []string{"https://gov.example/cb"}
	m["token_endpoint_auth_method"] = "private_key_jwt"
	m["jwks_uri"] = "https://gov.example/jwks"
	status, reg, _ := ts.registrationCall(http.MethodPost, ts.URL+oauth.PathRegister, initial, m)
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	id, regToken := reg["client_id"].(string), reg["registration_access_token"].(string)
	if _, _, err := svc.UpdateClient(ctx, admin.CLIActor("test", "host"), id, func(s *oauth.ClientSpec) error {
		s.Profile = oauth.ProfileFAPI2
		return nil
	}, false); err != nil {
		t.Fatal(err)
	}
	m["client_id"] = id
	m["redirect_uris"] = []string{"http://localhost:9002/cb"}
	status, got, _ := ts.registrationCall(http.MethodPut, reg["registration_client_uri"].(string), regToken, m)
	if status != http.StatusBadRequest || got["error"] != "invalid_redirect_uri" || !strings.Contains(got["error_description"].(string), "must be https for profile fapi2") {
		t.Fatalf("replace with an http loopback redirect URI: %d %v", status, got)
	}
	if c, _ := ts.store().GetClient(ctx, id); c.Profile != oauth.ProfileFAPI2 || c.RedirectURIs[0] != "https://gov.example/cb" {
		t.Errorf("stored: %+v", c)
	}
}

// The registration access token is replaced at every successful read and
// replacement (RFC 7592 3: each answer carries one, and kycvs keeps only
// its hash): the answer's token works, the one presented is refused with
// 401 invalid_token at once, and of requests racing with one token only
// one succeeds, so never two tokens work.
func TestRegistrationAccessTokenRotation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		ctx := context.Background()
		svc := cliService(ts.store(), testSecret, nil)
		initial, _, err := svc.CreateInitialToken(ctx, admin.CLIActor("test", "host"), "", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		status, reg, _ := ts.registrationCall(http.MethodPost, ts.URL+oauth.PathRegister, initial, airline("Air India"))
		if status != http.StatusCreated {
			t.Fatalf("register: %d %v", status, reg)
		}
		id, clientURI, token := reg["client_id"].(string), reg["registration_client_uri"].(string), reg["registration_access_token"].(string)
		refused := func(step, old string) {
			t.Helper()
			for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
				body := map[string]any(nil)
				if method == http.MethodPut {
					body = airline("Air India")
					body["client_id"] = id
				}
				status, got, hdr := ts.registrationCall(method, clientURI, old, body)
				if status != http.StatusUnauthorized || got["error"] != "invalid_token" || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
					t.Errorf("after %s, the old token at %s: %d %v", step, method, status, got)
				}
			}
		}
		next := func(step string, got map[string]any, old string) string {
			t.Helper()
			tok, _ := got["registration_access_token"].(string)
			if !strings.HasPrefix(tok, "kycvsrat_") || tok == old || got["registration_client_uri"] != clientURI {
				t.Fatalf("%s: %v", step, got)
			}
			return tok
		}

		status, got, _ := ts.registrationCall(http.MethodGet, clientURI, token, nil)
		if status != http.StatusOK {
			t.Fatalf("read: %d %v", status, got)
		}
		old := token
		token = next("read", got, old)
		refused("a read", old)

		update := airline("Air India Express")
		update["client_id"] = id
		status, got, _ = ts.registrationCall(http.MethodPut, clientURI, token, update)
		if status != http.StatusOK || got["client_name"] != "Air India Express" {
			t.Fatalf("replace: %d %v", status, got)
		}
		old = token
		token = next("replace", got, old)
		refused("a replacement", old)

		// A refused replacement keeps the token.
		bad := airline("Air India Express")
		bad["client_id"] = id
		bad["scope"] = "openid admin"
		if status, got, _ := ts.registrationCall(http.MethodPut, clientURI, token, bad); status != http.StatusBadRequest {
			t.Fatalf("bad replacement: %d %v", status, got)
		}

		// Eight reads race with one token: one wins, and only its token works.
		const racers = 8
		var wg sync.WaitGroup
		statuses := make([]int, racers)
		answers := make([]map[string]any, racers)
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], answers[i], _ = ts.registrationCall(http.MethodGet, clientURI, token, nil)
			}()
		}
		wg.Wait()
		var winners []string
		for i, s := range statuses {
			switch s {
			case http.StatusOK:
				winners = append(winners, answers[i]["registration_access_token"].(string))
			case http.StatusUnauthorized:
			default:
				t.Errorf("racing read: %d %v", s, answers[i])
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d racing reads succeeded with one token", len(winners))
		}
		refused("the race", token)
		if status, got, _ := ts.registrationCall(http.MethodGet, clientURI, winners[0], nil); status != http.StatusOK {
			t.Fatalf("the winner's token: %d %v", status, got)
		}
		// Every rotation is in the audit log as the client's own.
		n := 0
		entries, _, _ := ts.store().ListAuditEntries(ctx, store.AuditFilter{Limit: 1000})
		for _, e := range entries {
			if e.Action == "client.registration_token.rotate" && e.ActorType == admin.ActorClient && e.TargetID == id {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d rotations audited on reads, want 3", n)
		}
	})
}
