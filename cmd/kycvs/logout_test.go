package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store/storetest"
)

// RP-Initiated Logout returns the person only to a post-logout redirect
// URI registered for the client named by the ID token hint, never to one of
// its redirect URIs (which can receive codes), and checks that a client_id
// sent beside the hint is the hint's audience.
func TestPostLogoutRedirectURIs(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		const landing = "http://127.0.0.1:9/signed-out"
		id, secret := ts.client(oauth.ClientSpec{PostLogoutRedirectURIs: []string{landing}})
		otherID, _ := ts.client(oauth.ClientSpec{Name: "Other Air"})
		r := ts.newRP(id, secret)
		signedIn := func() (*browser, string) {
			b := ts.newBrowser()
			a := r.authorize()
			v := r.finish(a, b.signIn(a, "9999900001", "Asha Verma"))
			raw, _ := v.Token.Extra("id_token").(string)
			return b, raw
		}
		logout := func(b *browser, q url.Values) kycvstest.Page {
			return b.Get(ts.URL + oauth.PathEndSession + "?" + q.Encode())
		}

		t.Run("back to the registered landing page, with state", func(t *testing.T) {
			b, hint := signedIn()
			p := logout(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {landing}, "state": {"s1"}})
			if p.Status != http.StatusSeeOther || p.Location != landing+"?state=s1" {
				t.Fatalf("logout: %d %q", p.Status, p.Location)
			}
		})
		t.Run("a redirect URI is not a logout address", func(t *testing.T) {
			b, hint := signedIn()
			p := logout(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {r.conf.RedirectURL}})
			if p.Status != http.StatusBadRequest || p.Location != "" {
				t.Fatalf("logout: %d %q", p.Status, p.Location)
			}
		})
		t.Run("client_id must be the hint's audience", func(t *testing.T) {
			b, hint := signedIn()
			p := logout(b, url.Values{"id_token_hint": {hint}, "client_id": {otherID}, "post_logout_redirect_uri": {landing}})
			if p.Status != http.StatusBadRequest || p.Location != "" {
				t.Fatalf("logout: %d %q", p.Status, p.Location)
			}
		})
		t.Run("registered apart in the CLI", func(t *testing.T) {
			out, err := kycvs(t, "clients", "create", "--database-url", ts.cfg.DatabaseURL, "--secret", testSecret, "--name", "CLI Air",
				"--redirect-uri", "https://cli.example/cb", "--post-logout-redirect-uri", "https://cli.example/bye", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Redirect   []string `json:"redirect_uris"`
				PostLogout []string `json:"post_logout_redirect_uris"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || !slices.Equal(got.Redirect, []string{"https://cli.example/cb"}) ||
				!slices.Equal(got.PostLogout, []string{"https://cli.example/bye"}) {
				t.Fatalf("clients create: %v %s", err, out)
			}
			_, err = kycvs(t, "clients", "create", "--database-url", ts.cfg.DatabaseURL, "--secret", testSecret, "--name", "CLI Air",
				"--redirect-uri", "https://cli.example/cb", "--post-logout-redirect-uri", "https://cli.example/bye#frag")
			if err == nil || !strings.Contains(err.Error(), "post-logout redirect URI") {
				t.Fatalf("a bad post-logout URI: %v", err)
			}
		})
	})
}
