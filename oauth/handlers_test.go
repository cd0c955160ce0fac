package oauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/oauth"
)

// answer is one response of the provider, its JSON body decoded when it
// has one.
type answer struct {
	code   int
	header http.Header
	body   string
	json   map[string]any
}

// oauthError is the error code of an OAuth error response (RFC 6749 5.2).
func (a answer) oauthError() string { s, _ := a.json["error"].(string); return s }

func (tp *testProvider) do(r *http.Request) answer {
	w := httptest.NewRecorder()
	tp.engine.ServeHTTP(w, r)
	a := answer{code: w.Code, header: w.Header(), body: w.Body.String()}
	_ = json.Unmarshal(w.Body.Bytes(), &a.json)
	return a
}

func (tp *testProvider) get(path string) answer {
	return tp.do(httptest.NewRequest(http.MethodGet, path, nil))
}

// post sends form to path, authenticated as clientID with secret by HTTP
// Basic unless clientID is "".
func (tp *testProvider) post(path string, form url.Values, clientID, secret string) answer {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		r.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	return tp.do(r)
}

// exchange redeems g at the token endpoint as fuzzConfidential.
func (tp *testProvider) exchange(g grant) answer {
	return tp.post(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {g.code},
		"redirect_uri": {fuzzRedirect}, "code_verifier": {g.verifier}}, fuzzConfidential, tp.secret)
}

// Discovery names every endpoint under the issuer (clients use nothing
// else to find them), and the JWKS publishes public keys only.
func TestDiscoveryAndJWKS(t *testing.T) {
	tp := newTestProvider(t)
	d := tp.get(oauth.PathDiscovery)
	if d.code != http.StatusOK {
		t.Fatalf("discovery: %d %s", d.code, d.body)
	}
	for field, path := range map[string]string{
		"authorization_endpoint": oauth.PathAuth, "token_endpoint": oauth.PathToken, "jwks_uri": oauth.PathJWKS,
		"userinfo_endpoint": oauth.PathUserinfo, "revocation_endpoint": oauth.PathRevoke,
		"introspection_endpoint": oauth.PathIntrospect, "end_session_endpoint": oauth.PathEndSession,
	} {
		if got := d.json[field]; got != benchIssuer+path {
			t.Errorf("%s = %v, want %s", field, got, benchIssuer+path)
		}
	}
	if d.json["issuer"] != benchIssuer {
		t.Errorf("issuer = %v", d.json["issuer"])
	}
	for field, want := range map[string]string{"scopes_supported": "vaccination_status", "code_challenge_methods_supported": "S256"} {
		if list, _ := d.json[field].([]any); !slices.Contains(list, any(want)) {
			t.Errorf("%s = %v, lacks %s", field, d.json[field], want)
		}
	}

	j := tp.get(oauth.PathJWKS)
	keys, _ := j.json["keys"].([]any)
	if j.code != http.StatusOK || len(keys) == 0 {
		t.Fatalf("JWKS: %d %s", j.code, j.body)
	}
	for _, k := range keys {
		key, _ := k.(map[string]any)
		if key["kid"] == "" || key["kid"] == nil {
			t.Errorf("a key without kid: %v", key)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := key[private]; ok {
				t.Errorf("key %v publishes its private %q", key["kid"], private)
			}
		}
	}
}

// The authorization endpoint refuses a request it cannot trust on the
// error page, never by redirecting to an unvalidated URI; once client and
// redirect URI are known, the error goes to the relying party with its
// OAuth code (RFC 6749 4.1.2.1).
func TestAuthorizeRefusals(t *testing.T) {
	tp := newTestProvider(t)
	valid := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {fuzzConfidential}, "redirect_uri": {fuzzRedirect},
			"scope": {"openid vaccination_status"}, "state": {"state-0123456789"}, "nonce": {"nonce-0123456789"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	}
	tests := []struct {
		name   string
		change func(url.Values)
		// wantRedirect is the error sent to the request's redirect URI;
		// "" means the error page, no redirect.
		wantRedirect string
	}{
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }, ""},
		{"unregistered redirect URI", func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }, ""},
		{"redirect URI with a different path", func(q url.Values) { q.Set("redirect_uri", fuzzRedirect+"/x") }, ""},
		// PKCE is required of public clients (RFC 7636), and only S256.
		{"public client without PKCE", func(q url.Values) {
			q.Set("client_id", fuzzPublic)
			q.Set("redirect_uri", fuzzPublicRedirect)
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}, "invalid_request"},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"unknown scope", func(q url.Values) { q.Set("scope", "openid admin") }, "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := valid()
			tc.change(q)
			a := tp.get(oauth.PathAuth + "?" + q.Encode())
			loc := a.header.Get("Location")
			if tc.wantRedirect == "" {
				if loc != "" || a.code < 400 || a.code >= 500 {
					t.Fatalf("want the error page, got %d Location %q", a.code, loc)
				}
				return
			}
			u, err := url.Parse(loc)
			if err != nil || !strings.HasPrefix(loc, q.Get("redirect_uri")+"?") {
				t.Fatalf("want a redirect to %s, got %d Location %q", q.Get("redirect_uri"), a.code, loc)
			}
			if got := u.Query().Get("error"); got != tc.wantRedirect {
				t.Errorf("error = %q, want %q (%s)", got, tc.wantRedirect, loc)
			}
			if u.Query().Get("state") != "state-0123456789" {
				t.Errorf("state not returned: %s", loc)
			}
		})
	}
}

// The token endpoint: a client that fails to authenticate is
// invalid_client (401), one that sends no credentials at all
// invalid_request (400; fosite's answer, where RFC 6749 5.2 names
// invalid_client); a code is good once, and only with its verifier.
func TestTokenErrors(t *testing.T) {
	tp := newTestProvider(t)
	t.Run("client authentication", func(t *testing.T) {
		g := issueCode(t, tp.engine, tp.st, fuzzConfidential, fuzzRedirect)
		form := url.Values{"grant_type": {"authorization_code"}, "code": {g.code}, "redirect_uri": {fuzzRedirect}, "code_verifier": {g.verifier}}
		if a := tp.post(oauth.PathToken, form, "", ""); a.code != http.StatusBadRequest || a.oauthError() != "invalid_request" {
			t.Errorf("no credentials: %d %s", a.code, a.body)
		}
		for _, c := range []struct{ name, id, secret string }{
			{"wrong secret", fuzzConfidential, tp.secret + "x"},
			{"unknown client", "nobody", tp.secret},
		} {
			if a := tp.post(oauth.PathToken, form, c.id, c.secret); a.code != http.StatusUnauthorized || a.oauthError() != "invalid_client" {
				t.Errorf("%s: %d %s", c.name, a.code, a.body)
			}
		}
		// The refused attempts did not use the code up.
		if a := tp.exchange(g); a.code != http.StatusOK {
			t.Errorf("the code after refused clients: %d %s", a.code, a.body)
		}
	})
	t.Run("a code is good once", func(t *testing.T) {
		g := issueCode(t, tp.engine, tp.st, fuzzConfidential, fuzzRedirect)
		first := tp.exchange(g)
		if first.code != http.StatusOK || first.json["id_token"] == nil || first.json["access_token"] == nil {
			t.Fatalf("first exchange: %d %s", first.code, first.body)
		}
		if a := tp.exchange(g); a.code != http.StatusBadRequest || a.oauthError() != "invalid_grant" {
			t.Errorf("reused code: %d %s", a.code, a.body)
		}
	})
	t.Run("the code needs its verifier", func(t *testing.T) {
		g := issueCode(t, tp.engine, tp.st, fuzzConfidential, fuzzRedirect)
		right := g.verifier
		g.verifier = strings.Repeat("v", 43)
		if a := tp.exchange(g); a.code != http.StatusBadRequest || a.oauthError() != "invalid_grant" {
			t.Errorf("wrong verifier: %d %s", a.code, a.body)
		}
		// The refused exchange used up neither the code nor its challenge.
		g.verifier = right
		if a := tp.exchange(g); a.code != http.StatusOK || a.json["id_token"] == nil {
			t.Errorf("the right verifier after a wrong one: %d %s", a.code, a.body)
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		if a := tp.exchange(grant{code: "no-such-code", verifier: strings.Repeat("v", 43)}); a.code != http.StatusBadRequest || a.oauthError() != "invalid_grant" {
			t.Errorf("unknown code: %d %s", a.code, a.body)
		}
	})
}

// Userinfo answers a valid access token only; anything else is 401 with
// a Bearer challenge (RFC 6750 3).
func TestUserinfoNeedsAToken(t *testing.T) {
	tp := newTestProvider(t)
	withToken := func(token string) answer {
		r := httptest.NewRequest(http.MethodGet, oauth.PathUserinfo, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return tp.do(r)
	}
	if a := withToken(""); a.code != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q %s", a.code, a.header.Get("WWW-Authenticate"), a.body)
	}
	bad := withToken("not-a-token")
	if bad.code != http.StatusUnauthorized || !strings.Contains(bad.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("bad token: %d %q %s", bad.code, bad.header.Get("WWW-Authenticate"), bad.body)
	}
	tok := tp.exchange(issueCode(t, tp.engine, tp.st, fuzzConfidential, fuzzRedirect))
	access, _ := tok.json["access_token"].(string)
	if a := withToken(access); a.code != http.StatusOK || a.json["vaccination_status"] != float64(2) {
		t.Errorf("valid token: %d %s", a.code, a.body)
	}
}

// Revocation and introspection are for the client that authenticates
// (RFC 7009 2.1, RFC 7662 2.1); an unknown token is no error to it. The
// refusals' codes are fosite's: revocation without credentials is
// invalid_request like the token endpoint, introspection answers 401
// request_unauthorized.
func TestRevokeAndIntrospectAuthenticateTheClient(t *testing.T) {
	tp := newTestProvider(t)
	form := url.Values{"token": {"not-a-token"}}
	tests := []struct {
		name, path, id, secret string
		wantCode               int
		wantError              string
	}{
		{"revoke without credentials", oauth.PathRevoke, "", "", http.StatusBadRequest, "invalid_request"},
		{"revoke with a wrong secret", oauth.PathRevoke, fuzzConfidential, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"introspect without credentials", oauth.PathIntrospect, "", "", http.StatusUnauthorized, "request_unauthorized"},
		{"introspect with a wrong secret", oauth.PathIntrospect, fuzzConfidential, "wrong", http.StatusUnauthorized, "request_unauthorized"},
	}
	for _, tc := range tests {
		if a := tp.post(tc.path, form, tc.id, tc.secret); a.code != tc.wantCode || a.oauthError() != tc.wantError {
			t.Errorf("%s: %d %s, want %d %s", tc.name, a.code, a.body, tc.wantCode, tc.wantError)
		}
	}
	if a := tp.post(oauth.PathRevoke, form, fuzzConfidential, tp.secret); a.code != http.StatusOK {
		t.Errorf("revoking an unknown token: %d %s", a.code, a.body)
	}
	if a := tp.post(oauth.PathIntrospect, form, fuzzConfidential, tp.secret); a.code != http.StatusOK || a.json["active"] != false {
		t.Errorf("introspecting an unknown token: %d %s", a.code, a.body)
	}
}
