package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// The whole verification through go-oidc, once per status value; also
// behind PgBouncer in transaction mode, where production runs.
func TestVerificationEndToEnd(t *testing.T) {
	storetest.ForEachPooled(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		people := []struct {
			mobile, name string
			status       int
		}{
			{"9999900001", "Asha Verma", 2},
			{"+91 99999 00001", "  arjun   VERMA ", 2}, // booster; case, spaces and format do not matter
			{"9999900002", "Ravi Kumar", 1},
			{"09999900003", "Meera Nair", 0},
		}
		subs := map[string]bool{}
		for _, p := range people {
			t.Run(p.name, func(t *testing.T) {
				r := ts.newRP(id, secret)
				a := r.authorize()
				back := ts.newBrowser().signIn(a, p.mobile, p.name)
				v := r.finish(a, back)
				if v.Status != p.status {
					t.Fatalf("ID token vaccination_status = %d, want %d", v.Status, p.status)
				}
				if got := v.Userinfo["vaccination_status"]; got != float64(p.status) {
					t.Fatalf("userinfo vaccination_status = %v, want %d", got, p.status)
				}
				if _, ok := v.Claims["auth_time"]; !ok {
					t.Fatal("ID token has no auth_time")
				}
				if amr, _ := json.Marshal(v.Claims["amr"]); string(amr) != `["otp","sms"]` {
					t.Fatalf("amr = %s", amr)
				}
				if _, ok := v.Claims["name"]; ok {
					t.Fatal("ID token carries name, which was not asked for")
				}
				if _, ok := v.Userinfo["phone_number"]; ok {
					t.Fatal("userinfo carries phone_number, which was not asked for")
				}
				if subs[v.IDToken.Subject] {
					t.Fatal("two people got one sub")
				}
				subs[v.IDToken.Subject] = true
			})
		}
		// Every disclosure is on record: code issuance and userinfo, per person.
		ds, err := ts.store().ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 2*len(people) {
			t.Fatalf("%d disclosures recorded, want %d", len(ds), 2*len(people))
		}
	})
}

// Pairwise subjects: two verifying entities see unrelated subs for one person.
func TestPairwiseSubjects(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id1, s1 := ts.client(oauth.ClientSpec{RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	id2, s2 := ts.client(oauth.ClientSpec{RedirectURIs: []string{"http://localhost:9/callback"}})
	r1 := ts.newRP(id1, s1)
	a1 := r1.authorize()
	v1 := r1.finish(a1, ts.newBrowser().signIn(a1, "9999900001", "Asha Verma"))
	r2 := ts.newRP(id2, s2)
	r2.conf.RedirectURL = "http://localhost:9/callback"
	a2 := r2.authorize()
	v2 := r2.finish(a2, ts.newBrowser().signIn(a2, "9999900001", "Asha Verma"))
	if v1.IDToken.Subject == v2.IDToken.Subject {
		t.Fatal("two sectors got the same sub")
	}
	// The same client sees the same sub again.
	a3 := r1.authorize()
	v3 := r1.finish(a3, ts.newBrowser().signIn(a3, "9999900001", "Asha Verma"))
	if v3.IDToken.Subject != v1.IDToken.Subject {
		t.Fatal("sub changed for the same client and person")
	}
}

func TestDiscovery(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	resp, err := http.Get(ts.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if m["issuer"] != ts.URL {
		t.Fatalf("issuer = %v", m["issuer"])
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "revocation_endpoint", "introspection_endpoint", "end_session_endpoint"} {
		if s, _ := m[k].(string); !strings.HasPrefix(s, ts.URL+"/") {
			t.Errorf("%s = %v", k, m[k])
		}
	}
	want := map[string][]string{
		"scopes_supported":                      {"openid", "vaccination_status", "profile", "phone", "offline_access"},
		"response_types_supported":              {"code"},
		"subject_types_supported":               {"pairwise"},
		"id_token_signing_alg_values_supported": {"RS256", "ES256"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      {"S256"},
	}
	for k, vals := range want {
		got, _ := json.Marshal(m[k])
		for _, v := range vals {
			if !strings.Contains(string(got), `"`+v+`"`) {
				t.Errorf("%s = %s, missing %s", k, got, v)
			}
		}
	}
	if strings.Contains(mustJSON(m["code_challenge_methods_supported"]), "plain") {
		t.Error("plain PKCE is advertised")
	}
	// JWKS: every key has a kid.
	jr, err := http.Get(m["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer jr.Body.Close()
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	json.NewDecoder(jr.Body).Decode(&jwks)
	if len(jwks.Keys) < 2 {
		t.Fatalf("JWKS has %d keys, want RSA and EC", len(jwks.Keys))
	}
	for _, k := range jwks.Keys {
		if k["kid"] == "" || k["kid"] == nil {
			t.Fatalf("key without kid: %v", k)
		}
		if _, private := k["d"]; private {
			t.Fatal("JWKS leaks a private key")
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Sessions and prompt handling, OIDC Core 3.1.2.1 and DESIGN.md.
func TestSessionsAndPrompt(t *testing.T) {
	clock := kycvstest.NewClock(time.Now())
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.now = clock.Now })
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)

	t.Run("prompt=none without a session is login_required", func(t *testing.T) {
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		back := ts.newBrowser().redirected(ts.newBrowser().Get(a.URL))
		if back.Query().Get("error") != "login_required" || back.Query().Get("state") != a.state {
			t.Fatalf("got %s", back)
		}
	})

	b := ts.newBrowser()
	a := r.authorize()
	first := r.finish(a, b.signIn(a, "9999900002", "Ravi Kumar"))
	firstAuth := first.Claims["auth_time"].(float64)

	t.Run("prompt=none with a session succeeds silently", func(t *testing.T) {
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		v := r.finish(a, b.redirected(b.Get(a.URL)))
		if v.IDToken.Subject != first.IDToken.Subject || v.Claims["auth_time"].(float64) != firstAuth {
			t.Fatalf("sub/auth_time changed: %v vs %v", v.Claims, first.Claims)
		}
	})
	t.Run("id_token_hint with prompt=none", func(t *testing.T) {
		raw, _ := first.Token.Extra("id_token").(string)
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", raw))
		v := r.finish(a, b.redirected(b.Get(a.URL)))
		if v.IDToken.Subject != first.IDToken.Subject {
			t.Fatal("sub changed")
		}
	})
	t.Run("same client again: the one-tap screen, never a silent re-share", func(t *testing.T) {
		a := r.authorize()
		p := b.Get(a.URL)
		for _, want := range []string{"Share as Ravi Kumar (", "Not you? Use another mobile or name"} {
			if !strings.Contains(p.Body, want) {
				t.Fatalf("want %q on the one-tap screen, got %d %s", want, p.Status, p.Body)
			}
		}
		v := r.finish(a, b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"share"}})))
		if v.IDToken.Subject != first.IDToken.Subject || v.Claims["auth_time"].(float64) != firstAuth {
			t.Fatalf("sub/auth_time changed: %v vs %v", v.Claims, first.Claims)
		}
	})
	t.Run("max_age=10000 needs no new sign-in", func(t *testing.T) {
		a := r.authorize(oauth2.SetAuthURLParam("max_age", "10000"))
		p := b.Get(a.URL)
		if strings.Contains(p.Body, `name="mobile"`) {
			t.Fatal("max_age=10000 asked for a new sign-in")
		}
		v := r.finish(a, b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"share"}})))
		if v.Claims["auth_time"].(float64) != firstAuth {
			t.Fatal("auth_time changed")
		}
	})
	t.Run("prompt=login asks for a new OTP", func(t *testing.T) {
		// auth_time has second resolution; fosite signs no ID token whose
		// auth_time is more than 5 seconds ahead of the real time.
		clock.Advance(time.Second)
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "login"))
		v := r.finish(a, b.signIn(a, "9999900002", "Ravi Kumar"))
		if v.Claims["auth_time"].(float64) <= firstAuth {
			t.Fatalf("auth_time %v not after %v", v.Claims["auth_time"], firstAuth)
		}
	})
	t.Run("max_age=0 asks for a new OTP", func(t *testing.T) {
		a := r.authorize(oauth2.SetAuthURLParam("max_age", "0"))
		p := b.Get(a.URL)
		if !strings.Contains(p.Body, `name="mobile"`) {
			t.Fatalf("want the mobile form, got %d %s", p.Status, p.Body)
		}
	})
	t.Run("another client needs consent; prompt=none says consent_required", func(t *testing.T) {
		id2, secret2 := ts.client(oauth.ClientSpec{Name: "Rail Co"})
		r2 := ts.newRP(id2, secret2)
		a := r2.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		back := b.redirected(b.Get(a.URL))
		if back.Query().Get("error") != "consent_required" {
			t.Fatalf("got %s", back)
		}
		a = r2.authorize()
		p := b.Get(a.URL)
		if !strings.Contains(p.Body, "Rail Co") || !strings.Contains(p.Body, `value="share"`) {
			t.Fatalf("want the consent screen naming the client, got %s", p.Body)
		}
		v := r2.finish(a, b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"share"}})))
		if v.Status != 1 {
			t.Fatalf("status %d", v.Status)
		}
		// Granted in this session: silent now.
		a = r2.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		r2.finish(a, b.redirected(b.Get(a.URL)))
	})
	t.Run("prompt=consent shows the consent screen; don't share is access_denied", func(t *testing.T) {
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "consent"))
		p := b.Get(a.URL)
		if !strings.Contains(p.Body, `value="deny"`) {
			t.Fatalf("want the consent screen, got %s", p.Body)
		}
		back := b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"deny"}}))
		if back.Query().Get("error") != "access_denied" || back.Query().Get("state") != a.state {
			t.Fatalf("got %s", back)
		}
	})
	t.Run("more claims need consent", func(t *testing.T) {
		id3, secret3 := ts.client(oauth.ClientSpec{Scopes: []string{"openid", "vaccination_status", "profile"}})
		r3 := ts.newRP(id3, secret3)
		a := r3.authorize()
		p := b.Get(a.URL)
		r3.finish(a, b.redirected(b.Submit(p, p.URL.Path+"/consent", url.Values{"decision": {"share"}})))
		r3.conf.Scopes = []string{"openid", "vaccination_status", "profile"}
		a = r3.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		back := b.redirected(b.Get(a.URL))
		if back.Query().Get("error") != "consent_required" {
			t.Fatalf("asking for profile too went through silently: %s", back)
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		p := b.Get(ts.URL + oauth.PathEndSession)
		if p.Status != http.StatusOK {
			t.Fatalf("logout: %d", p.Status)
		}
		a := r.authorize(oauth2.SetAuthURLParam("prompt", "none"))
		back := b.redirected(b.Get(a.URL))
		if back.Query().Get("error") != "login_required" {
			t.Fatalf("got %s", back)
		}
	})
}

// A person who cancels, or has no record, sends the RP access_denied.
func TestDeclineAndNoRecord(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	for _, tc := range []struct{ name, mobile, person string }{
		{"cancel on the OTP page", "9999900001", "Asha Verma"},
		{"no record for the name", "9999900001", "Nobody Here"},
		{"unregistered mobile", "9812345678", "Asha Verma"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ts.newBrowser()
			a := r.authorize()
			login := b.Get(a.URL)
			otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {tc.mobile}, "name": {tc.person}})
			e164, _ := claims.NormalizeMobile(tc.mobile)
			var last kycvstest.Page
			if tc.person == "Asha Verma" && tc.mobile == "9999900001" {
				last = b.Submit(otpPage, login.URL.Path+"/cancel", url.Values{})
			} else {
				nomatch := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP(e164)}})
				if nomatch.Status != http.StatusOK || !strings.Contains(nomatch.Body, `name="name"`) {
					t.Fatalf("want the no-match page, got %d %s", nomatch.Status, nomatch.Body)
				}
				last = b.Submit(nomatch, login.URL.Path+"/cancel", url.Values{})
			}
			back := b.redirected(last)
			if back.Query().Get("error") != "access_denied" || back.Query().Get("code") != "" {
				t.Fatalf("got %s", back)
			}
		})
	}
	t.Run("a corrected name succeeds without a new OTP", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize()
		login := b.Get(a.URL)
		otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900003"}, "name": {"Meera Nairr"}})
		nomatch := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900003")}})
		v := r.finish(a, b.redirected(b.Submit(nomatch, login.URL.Path+"/name", url.Values{"name": {"Meera Nair"}})))
		if v.Status != 0 {
			t.Fatalf("status %d", v.Status)
		}
	})
}

// The code is handed only to the browser that approved the sign-in. A
// right code answers the relying party at once, so a challenge seen in a
// log finishes nothing; where the answer goes through the resume URL
// (form_post), only the approving browser is answered there.
func TestResumeBoundToBrowser(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)

	t.Run("answered at once", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize()
		login := b.Get(a.URL)
		otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		approved := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900001")}})
		back := b.redirected(approved)
		leaked := oauth.ResumeURL(strings.TrimPrefix(login.URL.Path, "/login/"))
		if p := ts.newBrowser().Get(ts.URL + leaked); p.Status != http.StatusConflict || p.Location != "" {
			t.Fatalf("the resume URL after the answer: %d %q", p.Status, p.Location)
		}
		if v := r.finish(a, back); v.Status != 2 {
			t.Fatalf("status %d", v.Status)
		}
	})

	t.Run("form_post, through the resume URL", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize(oauth2.SetAuthURLParam("response_mode", "form_post"))
		login := b.Get(a.URL)
		otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
		b.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		approved := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+919999900001")}})
		if !strings.HasPrefix(approved.Location, oauth.PathResume) {
			t.Fatalf("want a redirect to resume, got %d %q", approved.Status, approved.Location)
		}
		if p := ts.newBrowser().Get(ts.URL + approved.Location); p.Status != http.StatusForbidden || p.Location != "" {
			t.Fatalf("another browser finished the sign-in: %d %q", p.Status, p.Location)
		}
		b2 := ts.newBrowser()
		b2.Client.Jar = b.Client.Jar
		v := r.finish(a, b2.formPosted(b2.Get(ts.URL+approved.Location)))
		if v.Status != 2 {
			t.Fatalf("status %d", v.Status)
		}
	})
}
