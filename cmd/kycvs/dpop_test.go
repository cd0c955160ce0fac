package main

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	josev4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// dpopProof makes a DPoP proof (RFC 9449 4.2) with k for a request.
func (k *clientKey) dpopProof(t *testing.T, method, u, accessToken, nonce string) string {
	t.Helper()
	c := map[string]any{"jti": randomString(), "htm": method, "htu": u, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if nonce != "" {
		c["nonce"] = nonce
	}
	return (&clientKey{priv: k.priv}).sign(t, c, map[josev4.HeaderKey]any{
		"typ": "dpop+jwt",
		"jwk": josev4.JSONWebKey{Key: k.priv.Public()},
	})
}

// jkt is the key's RFC 7638 thumbprint.
func (k *clientKey) jkt(t *testing.T) string {
	t.Helper()
	tp, err := (&josev4.JSONWebKey{Key: k.priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func dpopHeader(proof string) http.Header { return http.Header{"Dpop": {proof}} }

// codeFor signs a person in and returns the code and its verifier.
func (ts *testServer) codeFor(t *testing.T, r *rp, opts ...oauth2.AuthCodeOption) (string, string) {
	t.Helper()
	a := r.authorize(opts...)
	back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", back)
	}
	return code, a.verifier
}

// userinfo calls /userinfo with an Authorization header and optional proof.
func (ts *testServer) userinfo(t *testing.T, authorization, proof string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+oauth.PathUserinfo, nil)
	req.Header.Set("Authorization", authorization)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header
}

// DPoP from dpop_jkt at authorize to userinfo, with every refusal on the
// way: no proof, no nonce, the wrong key, the token as a bearer token, a
// replayed proof.
func TestDPoP(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *serveConfig) { c.DPoPNonce = true })
		id, secret := ts.client(oauth.ClientSpec{DPoPBoundAccessTokens: true})
		key, other := newClientKey(t, ""), newClientKey(t, "")
		r := ts.newRP(id, secret)
		code, verifier := ts.codeFor(t, r, oauth2.SetAuthURLParam("dpop_jkt", key.jkt(t)))
		tokenURL := ts.URL + oauth.PathToken
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {r.conf.RedirectURL}}

		status, body, _ := postForm(t, tokenURL, form, id, secret, nil)
		if status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
			t.Fatalf("no proof: %d %v", status, body)
		}
		status, body, h := postForm(t, tokenURL, form, id, secret, dpopHeader(key.dpopProof(t, "POST", tokenURL, "", "")))
		nonce := h.Get("DPoP-Nonce")
		if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" || nonce == "" {
			t.Fatalf("no nonce: %d %v %q", status, body, nonce)
		}
		status, body, _ = postForm(t, tokenURL, form, id, secret, dpopHeader(other.dpopProof(t, "POST", tokenURL, "", nonce)))
		if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("key other than dpop_jkt: %d %v", status, body)
		}
		status, body, _ = postForm(t, tokenURL, form, id, secret, dpopHeader(key.dpopProof(t, "GET", tokenURL, "", nonce)))
		if status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
			t.Fatalf("wrong htm: %d %v", status, body)
		}
		status, body, _ = postForm(t, tokenURL, form, id, secret, dpopHeader(key.dpopProof(t, "POST", tokenURL, "", nonce)))
		if status != http.StatusOK || body["token_type"] != "DPoP" {
			t.Fatalf("token: %d %v", status, body)
		}
		at := body["access_token"].(string)

		// Introspection names the key (RFC 9449 6.2).
		f := url.Values{"token": {at}}
		if _, ib, _ := postForm(t, ts.URL+oauth.PathIntrospect, f, id, secret, nil); ib["active"] != true || ib["token_type"] != "DPoP" ||
			ib["cnf"].(map[string]any)["jkt"] != key.jkt(t) {
			t.Fatalf("introspection: %v", ib)
		}

		ui := ts.URL + oauth.PathUserinfo
		cases := []struct {
			name, authorization, proof, want string
		}{
			{"as a bearer token", "Bearer " + at, "", "invalid_token"},
			{"no proof", "DPoP " + at, "", "invalid_dpop_proof"},
			{"proof by another key", "DPoP " + at, other.dpopProof(t, "GET", ui, at, ""), "invalid_token"},
			{"proof for another token", "DPoP " + at, key.dpopProof(t, "GET", ui, "other-token", ""), "invalid_dpop_proof"},
			{"proof for another URL", "DPoP " + at, key.dpopProof(t, "GET", ts.URL+"/elsewhere", at, ""), "invalid_dpop_proof"},
			{"proof with a made-up nonce", "DPoP " + at, key.dpopProof(t, "GET", ui, at, "bm90LWEtbm9uY2U"), "use_dpop_nonce"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, challenge, _ := ts.userinfo(t, c.authorization, c.proof)
				if status != http.StatusUnauthorized || !strings.Contains(challenge, `error="`+c.want+`"`) || !strings.HasPrefix(challenge, "DPoP ") {
					t.Fatalf("got %d %q, want 401 %s", status, challenge, c.want)
				}
			})
		}
		proof := key.dpopProof(t, "GET", ui, at, "")
		if status, challenge, _ := ts.userinfo(t, "DPoP "+at, proof); status != http.StatusOK {
			t.Fatalf("userinfo with DPoP: %d %s", status, challenge)
		}
		if status, challenge, _ := ts.userinfo(t, "DPoP "+at, proof); status != http.StatusUnauthorized || !strings.Contains(challenge, "invalid_dpop_proof") {
			t.Fatalf("replayed proof: %d %s", status, challenge)
		}
	})
}

// A plain bearer token sent with the DPoP scheme is refused too, and
// discovery publishes the algorithms.
func TestDPoPBearerTokenAsDPoP(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	v := r.finish(r.authorizeAndSignIn(ts))
	key := newClientKey(t, "")
	status, challenge, _ := ts.userinfo(t, "DPoP "+v.Token.AccessToken, key.dpopProof(t, "GET", ts.URL+oauth.PathUserinfo, v.Token.AccessToken, ""))
	if status != http.StatusUnauthorized || !strings.Contains(challenge, "invalid_token") {
		t.Fatalf("bearer token as DPoP: %d %s", status, challenge)
	}
	var meta map[string]any
	if err := r.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if algs, _ := meta["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 || algs[0] != "ES256" {
		t.Fatalf("dpop_signing_alg_values_supported: %v", meta["dpop_signing_alg_values_supported"])
	}
}

func (r *rp) authorizeAndSignIn(ts *testServer) (authorization, *url.URL) {
	a := r.authorize()
	return a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
}

// A proof is used once, whichever process sees it first.
func TestDPoPProofReplayAcrossProcesses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		one := newTestServer(t, dialect, nil)
		two := newTestServer(t, dialect, func(c *serveConfig) { c.DatabaseURL, c.Issuer = one.cfg.DatabaseURL, one.URL })
		id, secret := one.client(oauth.ClientSpec{DPoPBoundAccessTokens: true})
		key := newClientKey(t, "")
		code, verifier := one.codeFor(t, one.newRP(id, secret))
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:9/callback"}}
		status, body, _ := postForm(t, one.URL+oauth.PathToken, form, id, secret, dpopHeader(key.dpopProof(t, "POST", one.URL+oauth.PathToken, "", "")))
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, body)
		}
		at := body["access_token"].(string)
		// Both processes share the issuer, so one proof fits both.
		proof := key.dpopProof(t, "GET", one.URL+oauth.PathUserinfo, at, "")
		if status, challenge, _ := one.userinfo(t, "DPoP "+at, proof); status != http.StatusOK {
			t.Fatalf("first process: %d %s", status, challenge)
		}
		if status, challenge, _ := two.userinfo(t, "DPoP "+at, proof); status != http.StatusUnauthorized || !strings.Contains(challenge, "invalid_dpop_proof") {
			t.Fatalf("second process accepted a replayed proof: %d %s", status, challenge)
		}
	})
}

// A public client's refresh token is bound to the DPoP key it was issued
// with (RFC 9449 5).
func TestDPoPPublicClientRefresh(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{Public: true, Scopes: []string{"openid", claims.ScopeVaccinationStatus, claims.ScopeOfflineAccess}})
	r := ts.newRP(id, "", "openid", claims.ScopeVaccinationStatus, claims.ScopeOfflineAccess)
	key, other := newClientKey(t, ""), newClientKey(t, "")
	code, verifier := ts.codeFor(t, r, oauth2.SetAuthURLParam("prompt", "consent"))
	tokenURL := ts.URL + oauth.PathToken
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {id}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {r.conf.RedirectURL}}
	status, body, _ := postForm(t, tokenURL, form, "", "", dpopHeader(key.dpopProof(t, "POST", tokenURL, "", "")))
	rt, _ := body["refresh_token"].(string)
	if status != http.StatusOK || rt == "" {
		t.Fatalf("token: %d %v", status, body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "client_id": {id}, "refresh_token": {rt}}
	if status, body, _ := postForm(t, tokenURL, refresh, "", "", nil); status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
		t.Fatalf("refresh without proof: %d %v", status, body)
	}
	if status, body, _ := postForm(t, tokenURL, refresh, "", "", dpopHeader(other.dpopProof(t, "POST", tokenURL, "", ""))); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh with another key: %d %v", status, body)
	}
	if status, body, _ := postForm(t, tokenURL, refresh, "", "", dpopHeader(key.dpopProof(t, "POST", tokenURL, "", ""))); status != http.StatusOK || body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key: %d %v", status, body)
	}
}
