package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	josev4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// clientKey is a private_key_jwt client's signing key, as the client
// holds it.
type clientKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

func newClientKey(t *testing.T, kid string) *clientKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &clientKey{priv: k, kid: kid}
}

// jwks renders the public halves of keys as a JWK Set.
func jwks(t *testing.T, keys ...*clientKey) string {
	t.Helper()
	var set josev4.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, josev4.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: "ES256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sign makes a compact JWS of claims with extra protected headers.
func (k *clientKey) sign(t *testing.T, claims map[string]any, headers map[josev4.HeaderKey]any) string {
	t.Helper()
	opts := &josev4.SignerOptions{}
	if k.kid != "" {
		opts = opts.WithHeader("kid", k.kid)
	}
	for h, v := range headers {
		opts = opts.WithHeader(h, v)
	}
	signer, err := josev4.NewSigner(josev4.SigningKey{Algorithm: josev4.ES256, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// assertion is a client assertion (RFC 7523) for clientID with aud.
func (k *clientKey) assertion(t *testing.T, clientID, aud string) string {
	return k.sign(t, map[string]any{
		"iss": clientID, "sub": clientID, "aud": aud, "jti": randomString(),
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(),
	}, nil)
}

func assertionForm(assertion string) url.Values {
	return url.Values{
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
}

// postForm POSTs form to u, with HTTP Basic when id is set, and returns the
// status and the JSON body.
func postForm(t *testing.T, u string, form url.Values, basicID, basicSecret string, header http.Header) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp.StatusCode, m, resp.Header
}

// parForm is a complete authorization request for the PAR endpoint.
func parForm(clientID string, a authorization) url.Values {
	return url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid vaccination_status"},
		"redirect_uri": {"http://127.0.0.1:9/callback"}, "state": {a.state}, "nonce": {a.nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(a.verifier)}, "code_challenge_method": {"S256"},
	}
}

// newAuthorization starts an authorization the RP will push.
func newAuthorization() authorization {
	return authorization{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
}

// push sends a pushed authorization request and returns the browser's URL.
func (ts *testServer) push(t *testing.T, clientID string, form url.Values, basicID, basicSecret string) string {
	t.Helper()
	status, body, _ := postForm(t, ts.URL+oauth.PathPAR, form, basicID, basicSecret, nil)
	if status != http.StatusCreated {
		t.Fatalf("PAR: %d %v", status, body)
	}
	uri, _ := body["request_uri"].(string)
	if !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || body["expires_in"] != float64(60) {
		t.Fatalf("PAR answer: %v", body)
	}
	return ts.URL + oauth.PathAuth + "?" + url.Values{"client_id": {clientID}, "request_uri": {uri}}.Encode()
}

// A client that must push gets its code only through PAR; the pushed
// request is the whole request, used once.
func TestPushedAuthorizationRequests(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{RequirePAR: true})
		r := ts.newRP(id, secret)

		// Not pushed: refused to the client's redirect URI.
		back := ts.newBrowser().Get(r.authorize().URL)
		if u, _ := url.Parse(back.Location); u == nil || u.Query().Get("error") != "invalid_request" || !strings.Contains(u.Query().Get("error_description"), "push") {
			t.Fatalf("unpushed request: %d %s", back.Status, back.Location)
		}

		a := newAuthorization()
		form := parForm(id, a)
		a.URL = ts.push(t, id, form, id, secret)
		// A parameter added in the browser is not part of the request:
		// prompt=none would otherwise answer login_required at once.
		b := ts.newBrowser()
		v := r.finish(a, b.signIn(authorization{URL: a.URL + "&prompt=none"}, "9999900001", "Asha Verma"))
		if v.Status != 2 {
			t.Fatalf("vaccination_status %d", v.Status)
		}

		// Used once: the same request_uri again is refused.
		again := ts.newBrowser().Get(a.URL)
		if again.Status != http.StatusBadRequest || again.Location != "" {
			t.Fatalf("reused request_uri: %d %s", again.Status, again.Location)
		}

		// Expired: a pushed request waits 60 seconds at most.
		a2 := newAuthorization()
		u2 := ts.push(t, id, parForm(id, a2), id, secret)
		db, _ := ts.store().DB()
		q := `UPDATE oauth_tokens SET expires_at = ? WHERE kind = 'par' AND active = ?`
		if dialect == "postgres" {
			q = `UPDATE oauth_tokens SET expires_at = $1 WHERE kind = 'par' AND active = $2`
		}
		if _, err := db.Exec(q, time.Now().Add(-time.Second).UTC(), true); err != nil {
			t.Fatal(err)
		}
		if p := ts.newBrowser().Get(u2); p.Status != http.StatusBadRequest || p.Location != "" {
			t.Fatalf("expired request_uri: %d %s", p.Status, p.Location)
		}

		// Another client cannot use it.
		a3 := newAuthorization()
		u3 := ts.push(t, id, parForm(id, a3), id, secret)
		other, _ := ts.client(oauth.ClientSpec{})
		if p := ts.newBrowser().Get(strings.Replace(u3, "client_id="+id, "client_id="+other, 1)); p.Status == http.StatusOK || strings.Contains(p.Location, "code=") {
			t.Fatalf("request_uri of another client: %d %s", p.Status, p.Location)
		}
	})
}

func TestPushedAuthorizationRequestRefusals(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	a := newAuthorization()
	cases := []struct {
		name         string
		change       func(url.Values)
		user, secret string
		status       int
		error        string
	}{
		{"wrong secret", nil, id, "wrong", http.StatusUnauthorized, "invalid_client"},
		{"no authentication", nil, "", "", http.StatusUnauthorized, "invalid_client"},
		{"unregistered redirect URI", func(f url.Values) { f.Set("redirect_uri", "http://127.0.0.1:10/callback") }, id, secret, http.StatusBadRequest, "invalid_request"},
		{"plain PKCE", func(f url.Values) { f.Set("code_challenge_method", "plain") }, id, secret, http.StatusBadRequest, "invalid_request"},
		{"request_uri inside", func(f url.Values) { f.Set("request_uri", "urn:ietf:params:oauth:request_uri:x") }, id, secret, http.StatusBadRequest, "invalid_request"},
		{"unknown scope", func(f url.Values) { f.Set("scope", "openid admin") }, id, secret, http.StatusBadRequest, "invalid_scope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := parForm(id, a)
			if c.change != nil {
				c.change(f)
			}
			status, body, _ := postForm(t, ts.URL+oauth.PathPAR, f, c.user, c.secret, nil)
			if status != c.status || body["error"] != c.error {
				t.Fatalf("got %d %v, want %d %s", status, body, c.status, c.error)
			}
		})
	}
}

// --require-par holds every client to PAR, and discovery says so.
func TestRequirePARServerWide(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.RequirePAR = true })
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	back := ts.newBrowser().Get(r.authorize().URL)
	if u, _ := url.Parse(back.Location); u == nil || u.Query().Get("error") != "invalid_request" {
		t.Fatalf("unpushed request: %d %s", back.Status, back.Location)
	}
	var meta map[string]any
	if err := r.provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	if meta["require_pushed_authorization_requests"] != true || meta["pushed_authorization_request_endpoint"] != ts.URL+oauth.PathPAR {
		t.Fatalf("discovery: %v %v", meta["require_pushed_authorization_requests"], meta["pushed_authorization_request_endpoint"])
	}
}

// jwksServer is a client's https key set endpoint.
type jwksServer struct {
	*httptest.Server
	body  atomic.Value // string
	delay atomic.Int64 // nanoseconds
	hits  atomic.Int64
}

func newJWKSServer(t *testing.T, body string) *jwksServer {
	s := &jwksServer{}
	s.body.Store(body)
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if d := time.Duration(s.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		io.WriteString(w, s.body.Load().(string))
	}))
	t.Cleanup(s.Close)
	return s
}

// trusting lets kycvs fetch from s: its certificate and its loopback
// address.
func (s *jwksServer) trusting(c *serveConfig) {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	c.jwksFetch = oauth.JWKSFetchConfig{AllowPrivateAddresses: true, RootCAs: pool}
	c.JWKSFetchTimeout = time.Second
}

// private_key_jwt at the token endpoint through x/oauth2, after PAR with
// an assertion.
func TestPrivateKeyJWT(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		key := newClientKey(t, "k1")
		id, secret := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks(t, key)})
		if secret != "" {
			t.Fatal("a private_key_jwt client got a secret")
		}
		r := ts.newRP(id, "")
		r.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		a := newAuthorization()
		form := parForm(id, a)
		for k, v := range assertionForm(key.assertion(t, id, ts.URL)) {
			form[k] = v
		}
		a.URL = ts.push(t, id, form, "", "")
		back := ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar")
		tok, err := r.conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(a.verifier),
			oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
			oauth2.SetAuthURLParam("client_assertion", key.assertion(t, id, ts.URL+oauth.PathToken)))
		if err != nil {
			t.Fatalf("exchange with private_key_jwt: %v", err)
		}
		// Introspection and revocation take assertions too.
		f := assertionForm(key.assertion(t, id, ts.URL+oauth.PathIntrospect))
		f.Set("token", tok.AccessToken)
		if status, body, _ := postForm(t, ts.URL+oauth.PathIntrospect, f, "", "", nil); status != 200 || body["active"] != true || body["client_id"] != id {
			t.Fatalf("introspection: %d %v", status, body)
		}
		f = assertionForm(key.assertion(t, id, ts.URL))
		f.Set("token", tok.AccessToken)
		if status, body, _ := postForm(t, ts.URL+oauth.PathRevoke, f, "", "", nil); status != 200 {
			t.Fatalf("revocation: %d %v", status, body)
		}
		f = assertionForm(key.assertion(t, id, ts.URL))
		f.Set("token", tok.AccessToken)
		if _, body, _ := postForm(t, ts.URL+oauth.PathIntrospect, f, "", "", nil); body["active"] != false {
			t.Fatalf("revoked token still active: %v", body)
		}
	})
}

func TestPrivateKeyJWTRefusals(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	key, stranger := newClientKey(t, "k1"), newClientKey(t, "k9")
	id, _ := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks(t, key)})
	secretID, secret := ts.client(oauth.ClientSpec{})
	now := time.Now()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": id, "sub": id, "aud": ts.URL, "jti": randomString(), "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	used := key.assertion(t, id, ts.URL)
	if status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(used), id), "", "", nil); status != http.StatusCreated {
		t.Fatalf("first use: %d %v", status, body)
	}
	cases := []struct {
		name      string
		assertion string
	}{
		{"replayed jti", used},
		{"unknown kid", stranger.sign(t, claims(nil), nil)},
		{"registered kid, other key", (&clientKey{priv: stranger.priv, kid: "k1"}).sign(t, claims(nil), nil)},
		{"wrong audience", key.sign(t, claims(func(c map[string]any) { c["aud"] = "https://elsewhere.example" }), nil)},
		{"token endpoint audience at PAR", key.sign(t, claims(func(c map[string]any) { c["aud"] = ts.URL + oauth.PathToken }), nil)},
		{"expired", key.sign(t, claims(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), nil)},
		{"no exp", key.sign(t, claims(func(c map[string]any) { delete(c, "exp") }), nil)},
		{"exp a day ahead", key.sign(t, claims(func(c map[string]any) { c["exp"] = now.Add(24 * time.Hour).Unix() }), nil)},
		{"no jti", key.sign(t, claims(func(c map[string]any) { delete(c, "jti") }), nil)},
		{"iss is not the client", key.sign(t, claims(func(c map[string]any) { c["iss"] = "someone" }), nil)},
		{"client with a secret", key.sign(t, claims(func(c map[string]any) { c["iss"], c["sub"] = secretID, secretID }), nil)},
		{"not a JWT", "not-a-jwt"},
		{"unsigned", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(c.assertion), ""), "", "", nil)
			if status != http.StatusUnauthorized && status != http.StatusBadRequest || body["error"] != "invalid_client" && body["error"] != "invalid_request" {
				t.Fatalf("got %d %v", status, body)
			}
			if status == http.StatusCreated {
				t.Fatal("accepted")
			}
		})
	}
	// A private_key_jwt client cannot fall back to a secret, nor a secret
	// client to an assertion.
	if status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(url.Values{}, id), id, "anything", nil); status != http.StatusUnauthorized {
		t.Fatalf("private_key_jwt client with Basic: %d %v", status, body)
	}
	if status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(url.Values{}, secretID), secretID, secret, nil); status != http.StatusCreated {
		t.Fatalf("secret client: %d %v", status, body)
	}
}

// withPAR adds a valid authorization request to form.
func withPAR(form url.Values, clientID string) url.Values {
	for k, v := range parForm(clientID, newAuthorization()) {
		if k == "client_id" && clientID == "" {
			continue
		}
		form[k] = v
	}
	return form
}

// A client assertion is used once, whichever process sees it first.
func TestClientAssertionReplayAcrossProcesses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		one := newTestServer(t, dialect, nil)
		two := newTestServer(t, dialect, func(c *serveConfig) {
			c.DatabaseURL, c.Issuer = one.cfg.DatabaseURL, one.URL
		})
		key := newClientKey(t, "k1")
		id, _ := one.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks(t, key)})
		assertion := key.assertion(t, id, one.URL)
		if status, body, _ := postForm(t, one.URL+oauth.PathPAR, withPAR(assertionForm(assertion), id), "", "", nil); status != http.StatusCreated {
			t.Fatalf("first process: %d %v", status, body)
		}
		status, body, _ := postForm(t, two.URL+oauth.PathPAR, withPAR(assertionForm(assertion), id), "", "", nil)
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" || !strings.Contains(body["error_description"].(string), "jti") {
			t.Fatalf("second process accepted a replay: %d %v", status, body)
		}
	})
}

// jwks_uri: fetched over https, cached, refreshed for an unknown kid, and
// refused when too large, too slow or on a private address.
func TestJWKSURI(t *testing.T) {
	k1, k2 := newClientKey(t, "k1"), newClientKey(t, "k2")
	srv := newJWKSServer(t, jwks(t, k1))
	ts := newTestServer(t, "sqlite", srv.trusting)
	id, _ := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: srv.URL + "/jwks"})
	pushWith := func(k *clientKey) (int, map[string]any) {
		status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(k.assertion(t, id, ts.URL)), id), "", "", nil)
		return status, body
	}
	for range 3 {
		if status, body := pushWith(k1); status != http.StatusCreated {
			t.Fatalf("k1: %d %v", status, body)
		}
	}
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("jwks_uri fetched %d times for 3 assertions, want 1 (cached)", n)
	}
	// The client rotates to k2: the unknown kid refreshes the set.
	srv.body.Store(jwks(t, k2))
	if status, body := pushWith(k2); status != http.StatusCreated {
		t.Fatalf("k2 after rotation: %d %v", status, body)
	}
	// A kid it never published: refused, and refetched at most once per
	// 10 seconds however often it is tried.
	hits := srv.hits.Load()
	for range 3 {
		if status, _ := pushWith(newClientKey(t, "k3")); status != http.StatusUnauthorized {
			t.Fatalf("unknown kid: %d", status)
		}
	}
	if n := srv.hits.Load() - hits; n > 1 {
		t.Fatalf("unknown kids caused %d fetches", n)
	}

	t.Run("oversized", func(t *testing.T) {
		big := newJWKSServer(t, `{"keys":[],"pad":"`+strings.Repeat("x", 70<<10)+`"}`)
		ts := newTestServer(t, "sqlite", big.trusting)
		id, _ := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: big.URL})
		status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(k1.assertion(t, id, ts.URL)), id), "", "", nil)
		if status != http.StatusUnauthorized || !strings.Contains(body["error_description"].(string), "jwks_uri") {
			t.Fatalf("oversized jwks_uri: %d %v", status, body)
		}
	})
	t.Run("slow", func(t *testing.T) {
		slow := newJWKSServer(t, jwks(t, k1))
		slow.delay.Store(int64(5 * time.Second))
		ts := newTestServer(t, "sqlite", slow.trusting)
		id, _ := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: slow.URL})
		start := time.Now()
		status, _, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(k1.assertion(t, id, ts.URL)), id), "", "", nil)
		if status != http.StatusUnauthorized || time.Since(start) > 3*time.Second {
			t.Fatalf("slow jwks_uri: %d after %s", status, time.Since(start))
		}
	})
	t.Run("private address", func(t *testing.T) {
		ts := newTestServer(t, "sqlite", func(c *serveConfig) {
			srv.trusting(c)
			c.jwksFetch.AllowPrivateAddresses = false
		})
		id, _ := ts.client(oauth.ClientSpec{TokenEndpointAuthMethod: oauth.AuthPrivateKeyJWT, JWKSURI: srv.URL})
		hits := srv.hits.Load()
		status, body, _ := postForm(t, ts.URL+oauth.PathPAR, withPAR(assertionForm(k2.assertion(t, id, ts.URL)), id), "", "", nil)
		if status != http.StatusUnauthorized || srv.hits.Load() != hits || strings.Contains(body["error_description"].(string), "127.0.0.1") {
			t.Fatalf("loopback jwks_uri: %d %v", status, body)
		}
	})
}
