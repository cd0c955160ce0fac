package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	josev4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// tokenRequest posts to the token endpoint with Basic auth (or none).
func tokenRequest(t *testing.T, ts *testServer, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("status %d, not JSON: %s", resp.StatusCode, body)
	}
	return resp.StatusCode, m
}

func userinfoStatus(t *testing.T, ts *testServer, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCodeReuseRevokesTokens(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		v := r.finish(a, back)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
			"redirect_uri": {r.conf.RedirectURL}, "code_verifier": {a.verifier}}
		status, body := tokenRequest(t, ts, id, secret, form)
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("reused code: %d %v", status, body)
		}
		if got := userinfoStatus(t, ts, v.Token.AccessToken); got != http.StatusUnauthorized {
			t.Fatalf("access token from a reused code still works: %d", got)
		}
	})
}

// Exchanges racing with one code: exactly one gets tokens, whatever each
// read of the code found (the conditional UPDATE that uses the code
// decides), and the code has one access token. The others get
// invalid_grant, whether they read the code after it was used or lost the
// UPDATE.
func TestConcurrentCodeExchange(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		r := ts.newRP(id, secret)
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
			"redirect_uri": {r.conf.RedirectURL}, "code_verifier": {a.verifier}}
		statuses := raceRequests(t, 8, "racing exchange", func() int {
			status, _ := tokenRequest(t, ts, id, secret, form)
			return status
		})
		if ok := countStatus(statuses, http.StatusOK); ok != 1 {
			t.Errorf("%d exchanges of one code got tokens, want exactly 1 (%v)", ok, statuses)
		}
		if refused := countStatus(statuses, http.StatusBadRequest); refused != len(statuses)-1 {
			t.Errorf("%d exchanges refused with invalid_grant's 400, want %d (%v)", refused, len(statuses)-1, statuses)
		}
		db, _ := ts.store().DB()
		var issued int
		if err := db.QueryRow(`SELECT count(*) FROM oauth_tokens WHERE kind = 'access'`).Scan(&issued); err != nil {
			t.Fatal(err)
		}
		if issued != 1 {
			t.Errorf("%d access tokens for one code, want 1", issued)
		}
	})
}

func TestPKCERules(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	pubID, _ := ts.client(oauth.ClientSpec{Public: true})
	confID, confSecret := ts.client(oauth.ClientSpec{})
	base := func(clientID string, extra url.Values) string {
		q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:9/callback"},
			"scope": {"openid vaccination_status"}, "state": {"state-123456789"}, "nonce": {"nonce-123456789"}}
		for k, v := range extra {
			q[k] = v
		}
		return ts.URL + oauth.PathAuth + "?" + q.Encode()
	}
	for _, tc := range []struct {
		name      string
		client    string
		extra     url.Values
		wantError string
	}{
		{"public client without PKCE", pubID, nil, "invalid_request"},
		{"plain is refused", pubID, url.Values{"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"plain"}}, "invalid_request"},
		{"public client with S256", pubID, url.Values{"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}, ""},
		{"confidential client without PKCE", confID, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ts.newBrowser().Get(base(tc.client, tc.extra))
			if tc.wantError == "" {
				if !strings.Contains(p.URL.Path, "/login/") {
					t.Fatalf("want the login page, got %d %s %s", p.Status, p.Location, p.Body)
				}
				return
			}
			u, _ := url.Parse(p.Location)
			if u == nil || u.Query().Get("error") != tc.wantError {
				t.Fatalf("want error %s, got %d %s", tc.wantError, p.Status, p.Location)
			}
		})
	}
	t.Run("public client completes the flow with PKCE", func(t *testing.T) {
		r := ts.newRP(pubID, "")
		a := r.authorize()
		if v := r.finish(a, ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar")); v.Status != 1 {
			t.Fatalf("status %d", v.Status)
		}
	})
	t.Run("a wrong verifier fails the exchange", func(t *testing.T) {
		r := ts.newRP(confID, confSecret)
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar")
		_, err := r.conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
		if err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestAuthorizeBadRequests(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{})
	good := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"http://127.0.0.1:9/callback"},
		"scope": {"openid vaccination_status"}, "state": {"state-123456789"}}
	with := func(change func(url.Values)) string {
		q := url.Values{}
		for k, v := range good {
			q[k] = append([]string(nil), v...)
		}
		change(q)
		return ts.URL + oauth.PathAuth + "?" + q.Encode()
	}
	for _, tc := range []struct {
		name       string
		url        string
		wantError  string // redirected with this error
		wantStatus int    // or shown a page with this status, never redirected
	}{
		{"unregistered redirect URI", with(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }), "", 400},
		{"loopback with another port", with(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:10/callback") }), "", 400},
		{"unknown client", with(func(q url.Values) { q.Set("client_id", "nobody") }), "", 401},
		{"missing response_type", with(func(q url.Values) { q.Del("response_type") }), "unsupported_response_type", 0},
		{"token response type", with(func(q url.Values) { q.Set("response_type", "token") }), "unsupported_response_type", 0},
		{"scope not allowed", with(func(q url.Values) { q.Set("scope", "openid phone") }), "invalid_scope", 0},
		{"request object", with(func(q url.Values) { q.Set("request", "eyJhbGciOiJub25lIn0.e30.") }), "request_not_supported", 0},
		{"request_uri", with(func(q url.Values) { q.Set("request_uri", "https://evil.example/ro") }), "request_uri_not_supported", 0},
		{"bad prompt", with(func(q url.Values) { q.Set("prompt", "none login") }), "invalid_request", 0},
		{"bad claims parameter", with(func(q url.Values) { q.Set("claims", "{not json") }), "invalid_request", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ts.newBrowser().Get(tc.url)
			if tc.wantError != "" {
				u, _ := url.Parse(p.Location)
				if u == nil || !strings.HasPrefix(p.Location, "http://127.0.0.1:9/callback") || u.Query().Get("error") != tc.wantError || u.Query().Get("code") != "" {
					t.Fatalf("want redirect with error %s, got %d %q %s", tc.wantError, p.Status, p.Location, p.Body)
				}
				return
			}
			if p.Location != "" || p.Status != tc.wantStatus || !strings.Contains(p.Body, "<html") {
				t.Fatalf("want a %d page and no redirect, got %d %q", tc.wantStatus, p.Status, p.Location)
			}
		})
	}
	t.Run("what certification sends is accepted", func(t *testing.T) {
		// Unknown parameters, display, locales, acr_values, login_hint; scope order reversed.
		p := ts.newBrowser().Get(with(func(q url.Values) {
			q.Set("scope", "vaccination_status openid")
			q.Set("extra", "foobar")
			q.Set("display", "popup")
			q.Set("ui_locales", "se")
			q.Set("claims_locales", "se")
			q.Set("acr_values", "1 2")
			q.Set("login_hint", "9999900001")
		}))
		// login_hint pre-fills the mobile.
		if p.Status != http.StatusOK || !strings.Contains(p.Body, `value="&#43;919999900001"`) {
			t.Fatalf("got %d: %s", p.Status, p.Body)
		}
	})
	t.Run("authorization by POST", func(t *testing.T) {
		b := ts.newBrowser()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathAuth, strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p := b.Do(req)
		if p.Status != http.StatusOK || !strings.Contains(p.URL.Path, "/login/") {
			t.Fatalf("got %d %s", p.Status, p.URL)
		}
	})
}

func TestTokenEndpointClientAuth(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	postID, postSecret := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: "client_secret_post"})
	anyID, anySecret := ts.client(oauth.ClientSpec{})
	run := func(t *testing.T, id, secret string, style oauth2.AuthStyle) error {
		r := ts.newRP(id, secret)
		r.conf.Endpoint.AuthStyle = style
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900003", "Meera Nair")
		_, err := r.conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
		return err
	}
	if err := run(t, postID, postSecret, oauth2.AuthStyleInParams); err != nil {
		t.Fatalf("client_secret_post: %v", err)
	}
	if err := run(t, postID, postSecret, oauth2.AuthStyleInHeader); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("basic for a post client: %v", err)
	}
	if err := run(t, anyID, anySecret, oauth2.AuthStyleInHeader); err != nil {
		t.Fatalf("basic: %v", err)
	}
	if err := run(t, anyID, anySecret, oauth2.AuthStyleInParams); err != nil {
		t.Fatalf("post: %v", err)
	}
	if err := run(t, anyID, "wrong-secret", oauth2.AuthStyleInHeader); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestRefreshTokensBoundToClient(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		scopes := []string{"openid", "vaccination_status", "offline_access"}
		id, secret := ts.client(oauth.ClientSpec{Scopes: scopes})
		id2, secret2 := ts.client(oauth.ClientSpec{Scopes: scopes})
		r := ts.newRP(id, secret, scopes...)
		a := r.authorize()
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar"))
		if v.Token.RefreshToken == "" {
			t.Fatal("no refresh token with offline_access")
		}
		// The registry changes: the refreshed ID token tells the status of now.
		st := ts.store()
		b, _ := st.GetBeneficiary(context.Background(), "demo-ravi")
		b.Doses = append(b.Doses, b.Doses[0])
		b.Doses[1].DoseNumber, b.Doses[1].ID = 2, 0
		if _, err := st.ReplaceBeneficiaries(context.Background(), []store.Beneficiary{*b}); err != nil {
			t.Fatal(err)
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v.Token.RefreshToken}}
		if status, body := tokenRequest(t, ts, id2, secret2, form); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("another client used the refresh token: %d %v", status, body)
		}
		status, body := tokenRequest(t, ts, id, secret, form)
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		idt, err := r.verifier.Verify(context.Background(), body["id_token"].(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Status int `json:"vaccination_status"`
		}
		idt.Claims(&c)
		if c.Status != 2 || idt.Subject != v.IDToken.Subject {
			t.Fatalf("refreshed ID token: status %d sub %s", c.Status, idt.Subject)
		}
		// The old refresh token is spent; using it again revokes the family.
		if status, _ := tokenRequest(t, ts, id, secret, form); status != http.StatusBadRequest {
			t.Fatalf("reused refresh token: %d", status)
		}
	})
}

func TestUserinfoVariants(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{Scopes: []string{"openid", "vaccination_status", "profile", "phone"}, UserinfoSignedResponseAlg: "ES256", IDTokenSignedResponseAlg: "ES256"})
	r := ts.newRP(id, secret, "openid", "vaccination_status", "phone")
	r.verifier = r.provider.Verifier(&oidc.Config{ClientID: id, SupportedSigningAlgs: []string{"ES256"}})
	a := r.authorize(oauth2.SetAuthURLParam("claims", `{"userinfo":{"name":{"essential":true}},"id_token":{"name":null}}`))
	back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
	tok, err := r.conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := r.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("ES256 ID token: %v", err)
	}
	var idc map[string]any
	idt.Claims(&idc)
	if idc["name"] != "Asha Verma" {
		t.Fatalf("claims parameter name in ID token: %v", idc)
	}
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"GET with header", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return req
		}},
		{"POST with header", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathUserinfo, nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return req
		}},
		{"POST with form body", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathUserinfo, strings.NewReader("access_token="+url.QueryEscape(tok.AccessToken)))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwt" {
				t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			jws, err := josev4.ParseSigned(string(body), []josev4.SignatureAlgorithm{josev4.ES256})
			if err != nil {
				t.Fatal(err)
			}
			keys := fetchJWKS(t, ts)
			k := keys.Key(jws.Signatures[0].Header.KeyID)
			if len(k) != 1 {
				t.Fatal("userinfo signed by a key not in the JWKS")
			}
			payload, err := jws.Verify(k[0].Key)
			if err != nil {
				t.Fatal(err)
			}
			var c map[string]any
			json.Unmarshal(payload, &c)
			if c["sub"] != idt.Subject || c["vaccination_status"] != float64(2) || c["name"] != "Asha Verma" ||
				c["phone_number"] != "+919999900001" || c["phone_number_verified"] != true || c["aud"] != id || c["iss"] != ts.URL {
				t.Fatalf("signed userinfo: %v", c)
			}
		})
	}
	t.Run("bad tokens", func(t *testing.T) {
		for _, h := range []string{"", "Bearer nonsense", "Basic abc"} {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("%q: %d %q", h, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	})
}

// Userinfo answers with the person as the registry has them now, read
// with the access token: a dose added since the sign-in shows, a token
// row from before rows named their person is answered the same, and a
// person gone from the registry gets invalid_token, nothing disclosed.
func TestUserinfoReadsThePersonNow(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{Scopes: []string{"openid", "vaccination_status"}})
		r := ts.newRP(id, secret, "openid", "vaccination_status")
		a := r.authorize()
		v := r.finish(a, ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar"))
		if v.Userinfo["vaccination_status"] != float64(1) {
			t.Fatalf("userinfo after one dose of two: %v", v.Userinfo)
		}
		ctx := context.Background()
		st := ts.store()
		status := func() (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
			req.Header.Set("Authorization", "Bearer "+v.Token.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			return resp.StatusCode, body
		}

		b, err := st.GetBeneficiary(ctx, "demo-ravi")
		if err != nil {
			t.Fatal(err)
		}
		second := b.Doses[0]
		second.ID, second.DoseNumber = 0, 2
		b.Doses = append(b.Doses, second)
		if _, err := st.ReplaceBeneficiaries(ctx, []store.Beneficiary{*b}); err != nil {
			t.Fatal(err)
		}
		if code, body := status(); code != http.StatusOK || body["vaccination_status"] != float64(2) {
			t.Fatalf("after the second dose: %d %v, want 200 and status 2", code, body)
		}

		db, _ := st.DB()
		if _, err := db.Exec(`UPDATE oauth_tokens SET beneficiary_id = ''`); err != nil {
			t.Fatal(err)
		}
		if code, body := status(); code != http.StatusOK || body["vaccination_status"] != float64(2) || body["sub"] != v.IDToken.Subject {
			t.Fatalf("a token row naming no person: %d %v, want 200, status 2 and the same sub", code, body)
		}

		var before int
		db.QueryRow(`SELECT count(*) FROM disclosures`).Scan(&before)
		if err := st.DeleteBeneficiary(ctx, "demo-ravi"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE oauth_tokens SET beneficiary_id = 'demo-ravi'`); err != nil {
			t.Fatal(err)
		}
		if code, body := status(); code != http.StatusUnauthorized || body["error"] != "invalid_token" {
			t.Fatalf("the person gone: %d %v, want 401 invalid_token", code, body)
		}
		var after int
		db.QueryRow(`SELECT count(*) FROM disclosures`).Scan(&after)
		if after != before {
			t.Errorf("%d disclosures recorded for a person gone, want none", after-before)
		}
	})
}

func fetchJWKS(t *testing.T, ts *testServer) josev4.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(ts.URL + oauth.PathJWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set josev4.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestIntrospectionAndRevocation(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	id2, secret2 := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	a := r.authorize()
	v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
	introspect := func(cid, csecret string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathIntrospect, strings.NewReader("token="+url.QueryEscape(v.Token.AccessToken)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cid, csecret)
		_, body := doJSON(t, req)
		return body
	}
	if body := introspect(id, secret); body["active"] != true || body["client_id"] != id {
		t.Fatalf("own token: %v", body)
	}
	if body := introspect(id2, secret2); body["active"] != false || len(body) != 1 {
		t.Fatalf("another client's token: %v", body)
	}
	// Another client cannot revoke it; its owner can.
	revoke := func(cid, csecret string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathRevoke, strings.NewReader("token="+url.QueryEscape(v.Token.AccessToken)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(cid, csecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	revoke(id2, secret2)
	if got := userinfoStatus(t, ts, v.Token.AccessToken); got != 200 {
		t.Fatalf("another client revoked the token: %d", got)
	}
	if got := revoke(id, secret); got != 200 {
		t.Fatalf("revoke: %d", got)
	}
	if got := userinfoStatus(t, ts, v.Token.AccessToken); got != 401 {
		t.Fatalf("revoked token still works: %d", got)
	}
}

// raceRequests makes n requests with do at the same moment and returns
// their statuses; each must be 200 or 400 (an OAuth error such as
// invalid_grant), anything else is reported as what's answer.
func raceRequests(t *testing.T, n int, what string, do func() int) []int {
	t.Helper()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = do()
		})
	}
	close(start)
	wg.Wait()
	for _, s := range statuses {
		if s != http.StatusOK && s != http.StatusBadRequest {
			t.Errorf("%s answered %d", what, s)
		}
	}
	return statuses
}

// countStatus is how many of statuses are status.
func countStatus(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}
