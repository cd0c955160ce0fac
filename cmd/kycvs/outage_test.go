package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
)

// With the database gone every endpoint says so (503), never 500 or a panic.
func TestDatabaseDown(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	b := ts.newBrowser()
	first := r.authorize()
	v := r.finish(first, b.signIn(first, "9999900001", "Asha Verma"))
	a := r.authorize(oauth2.SetAuthURLParam("prompt", "login"))
	login := b.Get(a.URL)
	ts.store().Close()

	post := func(path string, form url.Values, basic bool) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(id, secret)
		}
		return req
	}
	get := func(path string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		return req
	}
	bearer := get(oauth.PathUserinfo)
	bearer.Header.Set("Authorization", "Bearer "+v.Token.AccessToken)
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"authorize", get(strings.TrimPrefix(a.URL, ts.URL))},
		{"login page", get(login.URL.Path)},
		{"token", post(oauth.PathToken, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "redirect_uri": {r.conf.RedirectURL}}, true)},
		{"userinfo", bearer},
		{"introspect", post(oauth.PathIntrospect, url.Values{"token": {v.Token.AccessToken}}, true)},
		{"revoke", post(oauth.PathRevoke, url.Values{"token": {v.Token.AccessToken}}, true)},
		{"readiness", get("/readyz")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503", resp.StatusCode)
			}
		})
	}
}
