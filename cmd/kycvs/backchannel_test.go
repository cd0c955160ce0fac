package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	josev4 "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// backchannelRP is a relying party's backchannel_logout_uri that is down
// (503) for the first `down` requests, then accepts, and hands every
// accepted logout_token to tokens.
type backchannelRP struct {
	mu       sync.Mutex
	down     int
	requests int
	tokens   chan string
}

func newBackchannelRP(t *testing.T, down int) (*backchannelRP, string) {
	rp := &backchannelRP{down: down, tokens: make(chan string, 8)}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return rp, srv.URL + "/backchannel-logout"
}

func (rp *backchannelRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.requests++
	if rp.requests <= rp.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rp.tokens <- r.PostFormValue("logout_token")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (rp *backchannelRP) count() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.requests
}

// next waits for the next accepted logout token.
func (rp *backchannelRP) next(t *testing.T) string {
	t.Helper()
	select {
	case tok := <-rp.tokens:
		return tok
	case <-time.After(20 * time.Second):
		t.Fatalf("no logout token after %d requests", rp.count())
		return ""
	}
}

// logoutClaims validates a logout token the way Back-Channel Logout 1.0
// 2.6 tells a relying party to: the signature against the provider's
// JWKS found through discovery, typ, iss, aud, iat and exp, the logout
// event, sub or sid, and no nonce.
func (r *rp) logoutClaims(token string) map[string]any {
	r.t.Helper()
	ctx := context.Background()
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := r.provider.Claims(&disc); err != nil {
		r.t.Fatal(err)
	}
	payload, err := oidc.NewRemoteKeySet(ctx, disc.JWKSURI).VerifySignature(ctx, token)
	if err != nil {
		r.t.Fatalf("logout token signature: %v", err)
	}
	sig, err := josev4.ParseSigned(token, []josev4.SignatureAlgorithm{josev4.RS256, josev4.ES256})
	if err != nil {
		r.t.Fatal(err)
	}
	if typ, _ := sig.Signatures[0].Protected.ExtraHeaders[josev4.HeaderType].(string); typ != "logout+jwt" {
		r.t.Fatalf("typ %q", typ)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		r.t.Fatal(err)
	}
	now := float64(time.Now().Unix())
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	events, _ := c["events"].(map[string]any)
	_, isLogout := events["http://schemas.openid.net/event/backchannel-logout"].(map[string]any)
	if c["iss"] != disc.Issuer || c["aud"] != r.conf.ClientID || iat > now+5 || exp < now || exp-iat > 300 || !isLogout ||
		c["nonce"] != nil || (c["sub"] == nil && c["sid"] == nil) || c["jti"] == nil {
		r.t.Fatalf("logout token claims %v", c)
	}
	return c
}

// backchannelServer is a server whose logout deliveries retry within
// tens of milliseconds and may reach the loopback relying party.
func backchannelServer(t *testing.T, dialect string) *testServer {
	return newTestServer(t, dialect, func(c *serveConfig) {
		c.BackchannelTimeout = 5 * time.Second
		c.BackchannelAllowPrivate = true
		c.backchannel = oauth.LogoutDeliveryConfig{Retries: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}, Poll: 50 * time.Millisecond}
	})
}

// A person signs in at a relying party (a go-oidc client) and signs out
// through the end_session_endpoint: the relying party's back-channel
// endpoint, down for the first two deliveries, receives a logout token
// whose sid and sub are its ID token's.
func TestBackchannelLogoutAtSignOut(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := backchannelServer(t, dialect)
		bc, uri := newBackchannelRP(t, 2)
		id, secret := ts.client(oauth.ClientSpec{BackchannelLogoutURI: uri, BackchannelLogoutSessionRequired: true})
		r := ts.newRP(id, secret)

		var disc struct {
			Supported        bool `json:"backchannel_logout_supported"`
			SessionSupported bool `json:"backchannel_logout_session_supported"`
		}
		if err := r.provider.Claims(&disc); err != nil || !disc.Supported || !disc.SessionSupported {
			t.Fatalf("discovery: %+v %v", disc, err)
		}

		b := ts.newBrowser()
		a := r.authorize()
		v := r.finish(a, b.signIn(a, "9999900001", "Asha Verma"))
		sid, _ := v.Claims["sid"].(string)
		if len(sid) < 40 {
			t.Fatalf("ID token sid %q", sid)
		}
		// A second authorization in the same browser session names the
		// same session.
		a2 := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		v2 := r.finish(a2, b.redirected(b.Get(a2.URL)))
		if v2.Claims["sid"] != sid {
			t.Fatalf("sid changed within the session: %v, %v", v2.Claims["sid"], sid)
		}
		// Another person's session has another sid.
		other := ts.newBrowser()
		a3 := r.authorize()
		v3 := r.finish(a3, other.signIn(a3, "9999900002", "Ravi Kumar"))
		if v3.Claims["sid"] == sid || v3.Claims["sid"] == nil {
			t.Fatalf("two sessions, sid %v and %v", v3.Claims["sid"], sid)
		}

		raw, _ := v.Token.Extra("id_token").(string)
		if p := b.Get(ts.URL + oauth.PathEndSession + "?" + url.Values{"id_token_hint": {raw}}.Encode()); p.Status != http.StatusOK {
			t.Fatalf("end session: %d", p.Status)
		}
		c := r.logoutClaims(bc.next(t))
		if c["sid"] != sid || c["sub"] != v.IDToken.Subject {
			t.Fatalf("logout token sid %v sub %v; ID token sid %s sub %s", c["sid"], c["sub"], sid, v.IDToken.Subject)
		}
		if n := bc.count(); n != 3 {
			t.Fatalf("%d requests for one logout, want 2 refused and 1 accepted", n)
		}
		// The other person stays signed in: no token names their session.
		time.Sleep(300 * time.Millisecond)
		select {
		case tok := <-bc.tokens:
			t.Fatalf("a second logout token: %v", r.logoutClaims(tok))
		default:
		}
		rows, err := ts.store().LogoutDeliveries(context.Background())
		if err != nil || len(rows) != 0 {
			t.Fatalf("queue after delivery: %+v %v", rows, err)
		}
	})
}

// An admin disabling a client (here from the command line, another
// process) tells it of every sign-in it holds; the server's worker
// delivers what the command queued.
func TestBackchannelLogoutWhenClientDisabled(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := backchannelServer(t, dialect)
		bc, uri := newBackchannelRP(t, 0)
		id, secret := ts.client(oauth.ClientSpec{BackchannelLogoutURI: uri})
		r := ts.newRP(id, secret)
		subs := map[string]string{}
		for _, person := range []struct{ mobile, name string }{{"9999900001", "Asha Verma"}, {"9999900002", "Ravi Kumar"}} {
			b := ts.newBrowser()
			a := r.authorize()
			v := r.finish(a, b.signIn(a, person.mobile, person.name))
			subs[v.Claims["sid"].(string)] = v.IDToken.Subject
		}
		if _, err := kycvs(t, "clients", "disable", id, "--database-url", ts.cfg.DatabaseURL, "--secret", testSecret); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			c := r.logoutClaims(bc.next(t))
			sid, _ := c["sid"].(string)
			if subs[sid] == "" || c["sub"] != subs[sid] {
				t.Fatalf("logout token %v; sign-ins %v", c, subs)
			}
			delete(subs, sid)
		}

		t.Run("registered from the CLI, bad addresses refused", func(t *testing.T) {
			db := []string{"--database-url", ts.cfg.DatabaseURL, "--secret", testSecret}
			out, err := kycvs(t, append([]string{"clients", "create", "--name", "CLI Air", "--redirect-uri", "https://cli.example/cb",
				"--backchannel-logout-uri", "https://cli.example/bc", "--backchannel-logout-session-required", "--json"}, db...)...)
			var got struct {
				ID       string `json:"client_id"`
				URI      string `json:"backchannel_logout_uri"`
				Required bool   `json:"backchannel_logout_session_required"`
			}
			if err != nil || json.Unmarshal([]byte(out), &got) != nil || got.URI != "https://cli.example/bc" || !got.Required {
				t.Fatalf("clients create: %v %s", err, out)
			}
			for _, bad := range []string{"http://cli.example/bc", "https://cli.example/bc#x", "https://u:p@cli.example/bc", "bc"} {
				_, err := kycvs(t, append([]string{"clients", "update", got.ID, "--backchannel-logout-uri", bad}, db...)...)
				if err == nil || !strings.Contains(err.Error(), "backchannel logout URI") {
					t.Errorf("%q: %v", bad, err)
				}
			}
			if _, err := kycvs(t, append([]string{"clients", "update", got.ID, "--backchannel-logout-uri", ""}, db...)...); err != nil {
				t.Fatal(err)
			}
			if c, err := ts.store().GetClient(context.Background(), got.ID); err != nil || c.BackchannelLogoutURI != "" || !c.BackchannelLogoutSessionRequired {
				t.Fatalf("after removing the URI: %+v %v", c, err)
			}
		})
	})
}

// An admin ending a person's sessions from the command line signs them
// out at kycvs (prompt=none now needs a login) and the relying party is
// told by the server's worker.
func TestBackchannelLogoutWhenAdminEndsSessions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := backchannelServer(t, dialect)
		bc, uri := newBackchannelRP(t, 0)
		id, secret := ts.client(oauth.ClientSpec{BackchannelLogoutURI: uri})
		r := ts.newRP(id, secret)
		b := ts.newBrowser()
		a := r.authorize()
		v := r.finish(a, b.signIn(a, "9999900001", "Asha Verma"))
		beneficiary := ""
		for _, p := range claims.DemoRegistry() {
			if p.Mobile == "+919999900001" && p.Name == "Asha Verma" {
				beneficiary = p.ID
			}
		}
		out, err := kycvs(t, "registry", "end-sessions", beneficiary, "--database-url", ts.cfg.DatabaseURL, "--json")
		var ended struct {
			Sessions int `json:"sessions_ended"`
			Queued   int `json:"logout_tokens_queued"`
		}
		if err != nil || json.Unmarshal([]byte(out), &ended) != nil || ended.Sessions != 1 || ended.Queued != 1 {
			t.Fatalf("end-sessions: %v %s", err, out)
		}
		c := r.logoutClaims(bc.next(t))
		if c["sid"] != v.Claims["sid"] || c["sub"] != v.IDToken.Subject {
			t.Fatalf("logout token %v", c)
		}
		silent := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		if back := b.redirected(b.Get(silent.URL)); back.Query().Get("error") != "login_required" {
			t.Fatalf("prompt=none after the sessions ended: %s", back)
		}
		if _, err := kycvs(t, "registry", "end-sessions", "nobody", "--database-url", ts.cfg.DatabaseURL); err == nil || !strings.Contains(err.Error(), "no beneficiary") {
			t.Fatalf("unknown beneficiary: %v", err)
		}
	})
}

// Provider.EndGrant, what the person's "Withdraw" calls: the client's
// refresh and access tokens stop working at once, the client is told by a
// logout token, the browser session no longer shares with it silently, and
// another client's grant is untouched.
func TestEndGrant(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := backchannelServer(t, dialect)
		ctx := context.Background()
		bc, uri := newBackchannelRP(t, 1)
		id, secret := ts.client(oauth.ClientSpec{Scopes: offlineScopes, BackchannelLogoutURI: uri})
		r := ts.newRP(id, secret, offlineScopes...)
		b := ts.newBrowser()
		a := r.authorize()
		v := r.finish(a, b.signIn(a, "9999900001", "Asha Verma"))
		otherID, otherSecret, other := refreshGrant(t, ts)

		beneficiary := ""
		for _, p := range claims.DemoRegistry() {
			if p.Mobile == "+919999900001" && p.Name == "Asha Verma" {
				beneficiary = p.ID
			}
		}
		revoked, err := ts.srv.provider.EndGrant(ctx, id, beneficiary)
		if err != nil || revoked < 2 {
			t.Fatalf("EndGrant: %d %v", revoked, err)
		}
		if status, body := refresh(t, ts, id, secret, v.Token.RefreshToken); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh after withdrawal: %d %v", status, body)
		}
		if got := userinfoStatus(t, ts, v.Token.AccessToken); got != http.StatusUnauthorized {
			t.Fatalf("userinfo after withdrawal: %d", got)
		}
		c := r.logoutClaims(bc.next(t))
		if c["sid"] != v.Claims["sid"] || c["sub"] != v.IDToken.Subject {
			t.Fatalf("logout token %v", c)
		}
		silent := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		if back := b.redirected(b.Get(silent.URL)); back.Query().Get("error") != "consent_required" {
			t.Fatalf("prompt=none after the withdrawal: %s", back)
		}
		if status, body := refresh(t, ts, otherID, otherSecret, other.Token.RefreshToken); status != http.StatusOK {
			t.Fatalf("another client's grant: %d %v", status, body)
		}
		if n, err := ts.srv.provider.EndGrant(ctx, id, beneficiary); err != nil || n != 0 {
			t.Fatalf("a second withdrawal: %d %v", n, err)
		}
		if _, err := ts.srv.provider.EndGrant(ctx, "no-such-client", beneficiary); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown client: %v", err)
		}
	})
}

// A person signs out of a browser session in which two clients signed
// them in, one with an offline_access grant. Both are told (Back-Channel
// Logout 1.0 2.3); the offline grant's refresh token survives the logout
// (2.7: refresh tokens issued with offline_access normally should not be
// revoked), and when the person later withdraws that grant, its client is
// told again, with the same sid and sub. The other client held no grant
// beyond the session and is not told twice.
func TestBackchannelLogoutKeepsOfflineGrant(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := backchannelServer(t, dialect)
		ctx := context.Background()
		offBC, offURI := newBackchannelRP(t, 0)
		onBC, onURI := newBackchannelRP(t, 0)
		offID, offSecret := ts.client(oauth.ClientSpec{Scopes: offlineScopes, BackchannelLogoutURI: offURI})
		onID, onSecret := ts.client(oauth.ClientSpec{BackchannelLogoutURI: onURI})
		offRP, onRP := ts.newRP(offID, offSecret, offlineScopes...), ts.newRP(onID, onSecret)
		b := ts.newBrowser()
		a := offRP.authorize()
		off := offRP.finish(a, b.signIn(a, "9999900001", "Asha Verma"))
		if off.Token.RefreshToken == "" {
			t.Fatal("no refresh token for the offline_access grant")
		}
		a2 := onRP.authorize()
		p := b.Get(a2.URL)
		if !strings.Contains(p.Body, `value="share"`) {
			t.Fatalf("second client's consent screen: %d %s", p.Status, p.Body)
		}
		on := onRP.finish(a2, b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"share"}})))
		if on.Token.RefreshToken != "" {
			t.Fatal("a refresh token without offline_access")
		}

		raw, _ := off.Token.Extra("id_token").(string)
		if p := b.Get(ts.URL + oauth.PathEndSession + "?" + url.Values{"id_token_hint": {raw}}.Encode()); p.Status != http.StatusOK {
			t.Fatalf("end session: %d", p.Status)
		}
		for name, told := range map[string]struct {
			bc *backchannelRP
			rp *rp
			v  verified
		}{"offline": {offBC, offRP, off}, "online": {onBC, onRP, on}} {
			c := told.rp.logoutClaims(told.bc.next(t))
			if c["sid"] != off.Claims["sid"] || c["sub"] != told.v.IDToken.Subject {
				t.Fatalf("%s client's logout token: %v", name, c)
			}
		}
		status, body := refresh(t, ts, offID, offSecret, off.Token.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("the offline grant's refresh token after logout: %d %v", status, body)
		}
		next := body["refresh_token"].(string)

		// The person withdraws the offline grant (their page's Withdraw).
		beneficiary := ""
		for _, p := range claims.DemoRegistry() {
			if p.Mobile == "+919999900001" && p.Name == "Asha Verma" {
				beneficiary = p.ID
			}
		}
		if _, err := ts.srv.provider.EndGrant(ctx, offID, beneficiary); err != nil {
			t.Fatal(err)
		}
		c := offRP.logoutClaims(offBC.next(t))
		if c["sid"] != off.Claims["sid"] || c["sub"] != off.IDToken.Subject {
			t.Fatalf("logout token at withdrawal: %v", c)
		}
		if status, body := refresh(t, ts, offID, offSecret, next); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh after withdrawal: %d %v", status, body)
		}
		if _, err := ts.srv.provider.EndGrant(ctx, onID, beneficiary); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		select {
		case tok := <-onBC.tokens:
			t.Fatalf("the online client told twice: %v", onRP.logoutClaims(tok))
		default:
		}
	})
}
