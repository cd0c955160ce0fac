package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
)

// The token endpoint answers browsers only from the origins of the
// client's redirect URIs, so the button can redeem a code as a public
// client and no other page can (CORS).
func TestTokenEndpointCORS(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	const site = "http://127.0.0.1:9"
	id, _ := ts.client(oauth.ClientSpec{Public: true, RedirectURIs: []string{site + "/callback", "http://127.0.0.1:7777/other"}})
	r := ts.newRP(id, "")

	// redeem posts the token request a page on origin would send.
	redeem := func(a authorization, code, origin string) (*http.Response, map[string]any) {
		t.Helper()
		form := url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "client_id": {id},
			"redirect_uri": {site + "/callback"}, "code_verifier": {a.verifier},
		}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}
	code := func() (authorization, string) {
		a := r.authorize()
		back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		return a, back.Query().Get("code")
	}

	t.Run("a registered origin gets the tokens and its own origin back", func(t *testing.T) {
		for _, origin := range []string{site, "http://127.0.0.1:7777"} {
			a, c := code()
			resp, body := redeem(a, c, origin)
			if resp.StatusCode != http.StatusOK || body["id_token"] == nil {
				t.Fatalf("%s: %d %v", origin, resp.StatusCode, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Fatalf("Access-Control-Allow-Origin = %q, want %q", got, origin)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials allowed")
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Fatalf("Vary = %q", resp.Header.Get("Vary"))
			}
		}
	})
	t.Run("an error is readable by the registered origin too", func(t *testing.T) {
		a, _ := code()
		resp, body := redeem(a, "not-a-code", site)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || resp.Header.Get("Access-Control-Allow-Origin") != site {
			t.Fatalf("%d %v %q", resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("any other origin is refused before the code is spent", func(t *testing.T) {
		a, c := code()
		for _, origin := range []string{"https://evil.example", "http://127.0.0.1:10", "null", "*"} {
			resp, body := redeem(a, c, origin)
			if resp.StatusCode != http.StatusForbidden || body["id_token"] != nil || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: %d %v %q", origin, resp.StatusCode, body, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
		// The refused requests did not use the code up.
		if resp, body := redeem(a, c, site); resp.StatusCode != http.StatusOK || body["id_token"] == nil {
			t.Fatalf("after the refusals: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("an unknown client is refused", func(t *testing.T) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"nobody"}}
		req, _ := http.NewRequest(http.MethodPost, ts.URL+oauth.PathToken, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", site)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	})
	t.Run("servers send no Origin and are not affected", func(t *testing.T) {
		a, c := code()
		resp, body := redeem(a, c, "")
		if resp.StatusCode != http.StatusOK || body["id_token"] == nil || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d %v", resp.StatusCode, body)
		}
	})
	t.Run("no preflight for client credentials in a header", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodOptions, ts.URL+oauth.PathToken, nil)
		req.Header.Set("Origin", site)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
			t.Fatalf("preflight answered: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// A single-page app using DPoP (oidc-client-ts can) redeems its code and
// refreshes from the browser: the token endpoint answers the preflight the
// DPoP header causes, for the origins of public clients' redirect URIs
// only, and exposes DPoP-Nonce so the app can read the nonce it is asked
// for (RFC 9449 8) and the next one.
func TestTokenEndpointCORSForDPoP(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.DPoPNonce = true })
	const site = "http://127.0.0.1:9"
	scopes := []string{"openid", "vaccination_status", "offline_access"}
	id, _ := ts.client(oauth.ClientSpec{Public: true, RedirectURIs: []string{site + "/callback"}, Scopes: scopes})
	ts.client(oauth.ClientSpec{RedirectURIs: []string{"http://127.0.0.1:8/callback"}})
	tokenURL := ts.URL + oauth.PathToken

	preflight := func(origin, headers string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, tokenURL, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	t.Run("preflight", func(t *testing.T) {
		resp := preflight(site, "dpop, content-type")
		allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != site ||
			!strings.Contains(allowed, "dpop") || !strings.Contains(allowed, "content-type") || strings.Contains(allowed, "authorization") ||
			resp.Header.Get("Access-Control-Allow-Methods") != "POST" || resp.Header.Get("Access-Control-Allow-Credentials") != "" ||
			!strings.Contains(resp.Header.Get("Vary"), "Origin") {
			t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
		for name, origin := range map[string]string{
			"another origin": "https://evil.example",
			// A confidential client's page has no business at the token
			// endpoint from a browser.
			"a confidential client's origin": "http://127.0.0.1:8",
		} {
			if resp := preflight(origin, "dpop, content-type"); resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Headers") != "" {
				t.Errorf("%s: %d %v", name, resp.StatusCode, resp.Header)
			}
		}
		if resp := preflight(site, "dpop, authorization"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("Authorization asked for: %d %v", resp.StatusCode, resp.Header)
		}
	})

	// The requests a browser then sends, with Origin and a DPoP proof.
	key := newClientKey(t, "")
	fromPage := func(form url.Values, nonce string) (int, map[string]any, http.Header) {
		t.Helper()
		h := dpopHeader(key.dpopProof(t, "POST", tokenURL, "", nonce))
		h.Set("Origin", site)
		return postForm(t, tokenURL, form, "", "", h)
	}
	readable := func(step string, h http.Header) {
		t.Helper()
		if h.Get("Access-Control-Allow-Origin") != site || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "DPoP-Nonce") || h.Get("DPoP-Nonce") == "" {
			t.Errorf("%s: the page cannot read DPoP-Nonce: %v", step, h)
		}
	}
	r := ts.newRP(id, "", scopes...)
	r.conf.RedirectURL = site + "/callback"
	a := r.authorize(oauth2.SetAuthURLParam("prompt", "consent"))
	code := ts.newBrowser().signIn(a, "9999900001", "Asha Verma").Query().Get("code")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {id}, "redirect_uri": {site + "/callback"}, "code_verifier": {a.verifier}}
	status, body, h := fromPage(form, "")
	if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" {
		t.Fatalf("without a nonce: %d %v", status, body)
	}
	readable("the nonce challenge", h)
	status, body, h = fromPage(form, h.Get("DPoP-Nonce"))
	if status != http.StatusOK || body["token_type"] != "DPoP" || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, body)
	}
	readable("the exchange", h)
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {id}}
	status, body, h = fromPage(refresh, h.Get("DPoP-Nonce"))
	if status != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("refresh: %d %v", status, body)
	}
	readable("the refresh", h)
}

// kycvs's pages refuse to be framed; the button never frames them.
func TestLoginPagesRefuseFraming(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	a := ts.newRP(id, secret).authorize()
	login := ts.newBrowser().Get(a.URL)
	if !strings.Contains(login.URL.Path, "/login/") {
		t.Fatalf("want the login page, got %s", login.URL)
	}
	resp, err := http.Get(login.URL.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Frame-Options"); got != "DENY" {
		t.Errorf("X-Frame-Options = %q", got)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	// The popup reports a close through its opener link, which this would cut.
	if coop := resp.Header.Get("Cross-Origin-Opener-Policy"); coop != "" {
		t.Errorf("Cross-Origin-Opener-Policy = %q: the button's popup needs its opener", coop)
	}
}
