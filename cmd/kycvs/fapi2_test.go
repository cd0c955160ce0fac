package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	josev4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// The fapi2 profile end to end: PAR with private_key_jwt and DPoP, the
// code bound to the key, a 60-second code, and every shortcut refused with
// the error the profile names.
func TestFAPI2Profile(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, func(c *serveConfig) { c.DPoPNonce = true })
		key, dpopKey := newClientKey(t, "sig-1"), newClientKey(t, "")
		// https, as FAPI 2.0 requires of a web client's redirect URIs; the
		// test browser stops at the redirect and never fetches it.
		const callback = "https://gov-air.example/callback"
		id, secret := ts.client(oauth.ClientSpec{Profile: oauth.ProfileFAPI2, JWKS: jwks(t, key), RedirectURIs: []string{callback}})
		if secret != "" {
			t.Fatal("a fapi2 client got a secret")
		}
		parURL, tokenURL := ts.URL+oauth.PathPAR, ts.URL+oauth.PathToken
		withAssertion := func(f url.Values, aud string) url.Values {
			for k, v := range assertionForm(key.assertion(t, id, aud)) {
				f[k] = v
			}
			if f.Has("redirect_uri") {
				f.Set("redirect_uri", callback)
			}
			return f
		}

		// Refusals at the authorization and PAR endpoints.
		r := ts.newRP(id, "")
		r.conf.RedirectURL = callback
		if back := ts.newBrowser().Get(r.authorize().URL); !strings.Contains(back.Location, "error=invalid_request") {
			t.Fatalf("not pushed: %d %s", back.Status, back.Location)
		}
		noPKCE := withAssertion(parForm(id, newAuthorization()), ts.URL)
		noPKCE.Del("code_challenge")
		noPKCE.Del("code_challenge_method")
		if status, body, _ := postForm(t, parURL, noPKCE, "", "", nil); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Fatalf("PAR without PKCE: %d %v", status, body)
		}
		if status, body, _ := postForm(t, parURL, parForm(id, newAuthorization()), id, "a-secret", nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("PAR with a secret: %d %v", status, body)
		}
		rs256 := withPAR(assertionForm(signRS256(t, id, ts.URL)), id)
		if status, body, _ := postForm(t, parURL, rs256, "", "", nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("PAR with an RS256 assertion: %d %v", status, body)
		}

		// The flow: PAR with a DPoP proof (nonce first), sign-in, token.
		a := newAuthorization()
		push := withAssertion(parForm(id, a), ts.URL)
		status, body, h := postForm(t, parURL, push, "", "", dpopHeader(dpopKey.dpopProof(t, "POST", parURL, "", "")))
		if status != http.StatusBadRequest || body["error"] != "use_dpop_nonce" {
			t.Fatalf("PAR without a nonce: %d %v", status, body)
		}
		nonce := h.Get("DPoP-Nonce")
		push = withAssertion(parForm(id, a), ts.URL)
		status, body, _ = postForm(t, parURL, push, "", "", dpopHeader(dpopKey.dpopProof(t, "POST", parURL, "", nonce)))
		if status != http.StatusCreated {
			t.Fatalf("PAR: %d %v", status, body)
		}
		a.URL = ts.URL + oauth.PathAuth + "?" + url.Values{"client_id": {id}, "request_uri": {body["request_uri"].(string)}}.Encode()
		back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
		if back.Query().Get("iss") != ts.URL || back.Query().Get("state") != a.state {
			t.Fatalf("authorization response: %s", back)
		}
		code := back.Query().Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {a.verifier}, "redirect_uri": {callback}}

		if status, body, _ := postForm(t, tokenURL, withAssertion(cloneForm(form), ts.URL), "", "", nil); status != http.StatusBadRequest || body["error"] != "invalid_dpop_proof" {
			t.Fatalf("token without DPoP: %d %v", status, body)
		}
		other := newClientKey(t, "")
		if status, body, _ := postForm(t, tokenURL, withAssertion(cloneForm(form), ts.URL), "", "", dpopHeader(other.dpopProof(t, "POST", tokenURL, "", nonce))); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("token with a key other than the pushed one: %d %v", status, body)
		}
		// The code lives 60 seconds, though --code-ttl says 5 minutes.
		db, _ := ts.store().DB()
		var life float64
		q := `SELECT expires_at, requested_at FROM oauth_tokens WHERE kind = 'code' AND client_id = ?`
		if dialect == "postgres" {
			q = strings.Replace(q, "?", "$1", 1)
		}
		var exp, req time.Time
		if err := db.QueryRow(q, id).Scan(&exp, &req); err != nil {
			t.Fatal(err)
		}
		if life = exp.Sub(req).Seconds(); life > 61 {
			t.Fatalf("a fapi2 code lives %.0f s", life)
		}
		status, body, _ = postForm(t, tokenURL, withAssertion(cloneForm(form), ts.URL), "", "", dpopHeader(dpopKey.dpopProof(t, "POST", tokenURL, "", nonce)))
		if status != http.StatusOK || body["token_type"] != "DPoP" || body["id_token"] == nil {
			t.Fatalf("token: %d %v", status, body)
		}
		at := body["access_token"].(string)
		if status, challenge, _ := ts.userinfo(t, "DPoP "+at, dpopKey.dpopProof(t, "GET", ts.URL+oauth.PathUserinfo, at, "")); status != http.StatusOK {
			t.Fatalf("userinfo: %d %s", status, challenge)
		}
	})
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// signRS256 makes an RS256 assertion with a fresh key: the algorithm is
// refused before any key is looked at.
func signRS256(t *testing.T, clientID, aud string) string {
	t.Helper()
	k := testRSAKey(t)
	signer, err := josev4.NewSigner(josev4.SigningKey{Algorithm: josev4.RS256, Key: k}, (&josev4.SignerOptions{}).WithHeader("kid", "sig-1"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": randomString(), "exp": time.Now().Add(time.Minute).Unix()})
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := obj.CompactSerialize()
	return s
}

// The CLI makes fapi2 clients and refuses what the profile forbids.
func TestCLIFAPI2Client(t *testing.T) {
	t.Setenv("KYCVS_DATABASE_URL", storetest.URL(t, "sqlite"))
	t.Setenv("KYCVS_SECRET", testSecret)
	if _, err := kycvs(t, "migrate", "up"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, []byte(jwks(t, newClientKey(t, "k1"))), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := kycvs(t, "clients", "create", "--name", "Gov Air", "--redirect-uri", "https://gov-air.example/cb", "--profile", "fapi2", "--jwks", file, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var c clientJSON
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if c.Profile != "fapi2" || !c.RequirePAR || !c.DPoPBoundAccessTokens || c.TokenEndpointAuthMethod != "private_key_jwt" || c.ClientSecret != "" || len(c.JWKS) == 0 {
		t.Fatalf("fapi2 client: %s", out)
	}
	// Its redirect URIs are https, even on localhost (FAPI 2.0 Security
	// Profile 5.3.2.2), at creation and at every update.
	const httpsOnly = "must be https for profile fapi2"
	if _, err := kycvs(t, "clients", "create", "--name", "X", "--redirect-uri", "http://localhost:9002/cb", "--profile", "fapi2", "--jwks", file); err == nil || !strings.Contains(err.Error(), httpsOnly) {
		t.Errorf("create with an http loopback redirect URI: %v", err)
	}
	if _, err := kycvs(t, "clients", "update", c.ClientID, "--redirect-uri", "http://localhost:9002/cb"); err == nil || !strings.Contains(err.Error(), httpsOnly) {
		t.Errorf("update to an http loopback redirect URI: %v", err)
	}
	dev, err := kycvs(t, "clients", "create", "--name", "Dev", "--redirect-uri", "http://localhost:9002/cb", "--token-endpoint-auth-method", "private_key_jwt", "--jwks", file, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var devClient clientJSON
	json.Unmarshal([]byte(dev), &devClient)
	if _, err := kycvs(t, "clients", "update", devClient.ClientID, "--profile", "fapi2"); err == nil || !strings.Contains(err.Error(), httpsOnly) {
		t.Errorf("an http loopback client made fapi2: %v", err)
	}
	// It has no secret to rotate, and is told why in words that are true.
	if _, err := kycvs(t, "clients", "rotate-secret", c.ClientID); err == nil || !strings.Contains(err.Error(), "authenticates with private_key_jwt and has no secret") {
		t.Errorf("rotate-secret of a private_key_jwt client: %v", err)
	}
	for name, args := range map[string][]string{
		"public":          {"--public", "--jwks", file},
		"no keys":         {},
		"secret auth":     {"--token-endpoint-auth-method", "client_secret_basic", "--jwks", file},
		"RS256":           {"--token-endpoint-auth-signing-alg", "RS256", "--jwks", file},
		"http jwks_uri":   {"--jwks-uri", "http://gov-air.example/jwks"},
		"unknown profile": {"--profile", "fapi3", "--jwks", file},
	} {
		all := append([]string{"clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--profile", "fapi2"}, args...)
		if _, err := kycvs(t, all...); err == nil || !strings.Contains(err.Error(), "invalid client") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A private key in the set is refused: only public keys are registered.
	priv := newClientKey(t, "k2")
	b, _ := json.Marshal(josev4.JSONWebKeySet{Keys: []josev4.JSONWebKey{{Key: priv.priv, KeyID: "k2"}}})
	os.WriteFile(file, b, 0o600)
	if _, err := kycvs(t, "clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb", "--profile", "fapi2", "--jwks", file); err == nil || !strings.Contains(err.Error(), "private") {
		t.Errorf("private key registered: %v", err)
	}
}

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// A fapi2 client's refresh token is not rotated (FAPI 2.0 Security Profile
// 5.3.2.1): a refresh answers with the same refresh token, which keeps
// working, so a client that lost an answer can simply retry; each new
// access token is DPoP-bound to the refresh request's key and retires the
// one before; a revocation ends the refresh token at once. A client
// without the profile still gets a new refresh token each time.
func TestFAPI2RefreshTokenKept(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		const callback = "https://gov-air.example/callback"
		key, dpopKey := newClientKey(t, "sig-1"), newClientKey(t, "")
		scopes := []string{"openid", "vaccination_status", "offline_access"}
		id, _ := ts.client(oauth.ClientSpec{Profile: oauth.ProfileFAPI2, JWKS: jwks(t, key), RedirectURIs: []string{callback}, Scopes: scopes})
		tokenURL, userinfoURL := ts.URL+oauth.PathToken, ts.URL+oauth.PathUserinfo
		signed := func(f url.Values) url.Values {
			for k, v := range assertionForm(key.assertion(t, id, ts.URL)) {
				f[k] = v
			}
			return f
		}
		a := newAuthorization()
		push := signed(parForm(id, a))
		push.Set("redirect_uri", callback)
		push.Set("scope", strings.Join(scopes, " "))
		push.Set("prompt", "consent")
		status, body, _ := postForm(t, ts.URL+oauth.PathPAR, push, "", "", dpopHeader(dpopKey.dpopProof(t, "POST", ts.URL+oauth.PathPAR, "", "")))
		if status != http.StatusCreated {
			t.Fatalf("PAR: %d %v", status, body)
		}
		a.URL = ts.URL + oauth.PathAuth + "?" + url.Values{"client_id": {id}, "request_uri": {body["request_uri"].(string)}}.Encode()
		code := ts.newBrowser().signIn(a, "9999900001", "Asha Verma").Query().Get("code")
		status, body, _ = postForm(t, tokenURL, signed(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {a.verifier}, "redirect_uri": {callback}}),
			"", "", dpopHeader(dpopKey.dpopProof(t, "POST", tokenURL, "", "")))
		refreshToken, _ := body["refresh_token"].(string)
		if status != http.StatusOK || refreshToken == "" {
			t.Fatalf("token: %d %v", status, body)
		}
		firstAT := body["access_token"].(string)

		refresh := func(k *clientKey) (int, map[string]any) {
			t.Helper()
			status, body, _ := postForm(t, tokenURL, signed(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}),
				"", "", dpopHeader(k.dpopProof(t, "POST", tokenURL, "", "")))
			return status, body
		}
		userinfo := func(at string, k *clientKey) int {
			t.Helper()
			status, _, _ := ts.userinfo(t, "DPoP "+at, k.dpopProof(t, "GET", userinfoURL, at, ""))
			return status
		}
		var lastAT string
		for i := range 3 {
			// The answer of the first refresh is "lost": the client retries
			// with the same token, as FAPI 2.0 says it must be able to.
			status, body := refresh(dpopKey)
			if status != http.StatusOK || body["refresh_token"] != refreshToken || body["token_type"] != "DPoP" || body["id_token"] == nil ||
				body["expires_in"] == nil || body["expires_in"].(float64) <= 0 {
				t.Fatalf("refresh %d: %d %v", i+1, status, body)
			}
			at := body["access_token"].(string)
			if userinfo(at, dpopKey) != http.StatusOK {
				t.Fatalf("refresh %d: the new access token at userinfo", i+1)
			}
			if userinfo(at, newClientKey(t, "")) != http.StatusUnauthorized {
				t.Fatalf("refresh %d: the new access token works with another key's proof", i+1)
			}
			for _, old := range []string{firstAT, lastAT} {
				if old != "" && userinfo(old, dpopKey) != http.StatusUnauthorized {
					t.Fatalf("refresh %d: an earlier access token still works", i+1)
				}
			}
			lastAT = at
		}
		// The refresh token of a confidential client is bound to its
		// authentication, so the client may move to a new DPoP key; the
		// access token follows the proof.
		moved := newClientKey(t, "")
		status, body = refresh(moved)
		if status != http.StatusOK || body["refresh_token"] != refreshToken || userinfo(body["access_token"].(string), moved) != http.StatusOK {
			t.Fatalf("refresh with a new DPoP key: %d %v", status, body)
		}
		// Revoked: the next refresh is refused.
		revoke := signed(url.Values{"token": {refreshToken}, "token_type_hint": {"refresh_token"}})
		if status, body, _ := postForm(t, ts.URL+oauth.PathRevoke, revoke, "", "", nil); status != http.StatusOK {
			t.Fatalf("revoke: %d %v", status, body)
		}
		if status, body := refresh(dpopKey); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh after revocation: %d %v", status, body)
		}

		// Without the profile, refresh tokens rotate as before.
		plain, secret := ts.client(oauth.ClientSpec{Scopes: scopes})
		r := ts.newRP(plain, secret, scopes...)
		pa := r.authorize(oauth2.SetAuthURLParam("prompt", "consent"))
		v := r.finish(pa, ts.newBrowser().signIn(pa, "9999900001", "Asha Verma"))
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v.Token.RefreshToken}}
		status, body, _ = postForm(t, tokenURL, form, plain, secret, nil)
		if status != http.StatusOK || body["refresh_token"] == v.Token.RefreshToken || body["refresh_token"] == nil {
			t.Fatalf("a client without the profile: %d %v", status, body)
		}
		if status, body, _ := postForm(t, tokenURL, form, plain, secret, nil); status == http.StatusOK {
			t.Fatalf("a rotated refresh token still works: %v", body)
		}
	})
}
