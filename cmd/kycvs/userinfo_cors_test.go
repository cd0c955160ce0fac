package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// userinfoFrom calls userinfo as a page on origin would (no Origin: a
// server), and returns the answer and its body.
func userinfoFrom(t *testing.T, ts *testServer, method, origin, token string, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+oauth.PathUserinfo, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
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

// publicToken runs a public client's flow and returns its access token.
func publicToken(t *testing.T, ts *testServer, r *rp) string {
	t.Helper()
	a := r.authorize()
	back := ts.newBrowser().signIn(a, "9999900001", "Asha Verma")
	tok, err := r.conf.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

// Userinfo answers browsers from the origins of public clients' redirect
// URIs, preflight included, as the token endpoint does; any other origin,
// and a confidential client's token in a page, get nothing.
func TestUserinfoCORS(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	const site = "http://127.0.0.1:9"
	pubID, _ := ts.client(oauth.ClientSpec{Public: true, RedirectURIs: []string{site + "/callback"}})
	pub := ts.newRP(pubID, "")
	token := publicToken(t, ts, pub)
	confID, confSecret := ts.client(oauth.ClientSpec{RedirectURIs: []string{"http://127.0.0.1:9/callback"}})
	conf := ts.newRP(confID, confSecret)
	a := conf.authorize()
	confToken := conf.finish(a, ts.newBrowser().signIn(a, "9999900002", "Ravi Kumar")).Token.AccessToken

	preflight := map[string]string{"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
	for _, tc := range []struct {
		name, method, origin, token string
		header                      map[string]string
		status                      int
		allowOrigin                 string
	}{
		{"preflight from a public client's origin", http.MethodOptions, site, "", preflight, http.StatusNoContent, site},
		{"preflight from another origin", http.MethodOptions, "http://127.0.0.1:7777", "", preflight, http.StatusForbidden, ""},
		{"preflight for DELETE", http.MethodOptions, site, "", map[string]string{"Access-Control-Request-Method": "DELETE"}, http.StatusForbidden, ""},
		{"GET from the client's origin", http.MethodGet, site, token, nil, http.StatusOK, site},
		{"POST from the client's origin", http.MethodPost, site, token, nil, http.StatusOK, site},
		{"GET from another origin", http.MethodGet, "http://127.0.0.1:7777", token, nil, http.StatusForbidden, ""},
		{"a bad token from the client's origin is readable", http.MethodGet, site, "nope", nil, http.StatusUnauthorized, site},
		{"a confidential client's token in a page", http.MethodGet, site, confToken, nil, http.StatusForbidden, site},
		{"a server, without Origin", http.MethodGet, "", token, nil, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := userinfoFrom(t, ts, tc.method, tc.origin, tc.token, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.status, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tc.allowOrigin)
			}
			if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials allowed")
			}
			if tc.method == http.MethodOptions && tc.status == http.StatusNoContent {
				if !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "authorization") {
					t.Fatalf("preflight allows headers %q", resp.Header.Get("Access-Control-Allow-Headers"))
				}
			}
			if tc.status == http.StatusOK && body["vaccination_status"] != float64(2) {
				t.Fatalf("body %v", body)
			}
		})
	}

	// Nothing read from a refused origin was recorded as disclosed.
	n := 0
	for _, d := range disclosuresOf(t, ts, pubID) {
		if d == "userinfo" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d userinfo disclosures recorded for the public client, want 3 (GET, POST, server)", n)
	}
}

// disclosuresOf returns the channels of the client's recorded disclosures.
func disclosuresOf(t *testing.T, ts *testServer, clientID string) []string {
	t.Helper()
	ds, err := ts.store().ListDisclosures(context.Background(), store.DisclosureFilter{ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	var channels []string
	for _, d := range ds {
		channels = append(channels, string(d.Channel))
	}
	return channels
}

// A single-page app on its own origin reads userinfo the way oidc-client-ts
// does with loadUserInfo (fetch, Authorization: Bearer, Accept JSON or
// JWT): Chromium sends the preflight, then the request, and the page reads
// the claims. A page on an unregistered origin cannot.
func TestUserinfoFromAnotherOriginInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	spa := newSPASite(t)
	other := newSPASite(t)
	id, _ := ts.client(oauth.ClientSpec{Public: true, RedirectURIs: []string{spa.URL + "/callback"}})
	r := ts.newRP(id, "")
	r.conf.RedirectURL = spa.URL + "/callback"
	token := publicToken(t, ts, r)

	fetchJS := fmt.Sprintf(`fetch(%q, {headers: {'Authorization': 'Bearer ' + %q, 'Accept': 'application/json, application/jwt'}, credentials: 'same-origin'})
  .then(function (r) { return r.json(); })
  .then(function (c) { return 'ok ' + c.vaccination_status + ' ' + (c.sub ? 'sub' : ''); }, function (e) { return 'failed ' + e.name; })`,
		ts.URL+oauth.PathUserinfo, token)
	for _, tc := range []struct {
		name, origin, want string
	}{
		{"the client's origin", spa.URL, "ok 2 sub"},
		{"an unregistered origin", other.URL, "failed TypeError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := br.newTab(t)
			tb.do(chromedp.Navigate(tc.origin + "/app"))
			got, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](fetchJS, chromedp.EvalAwaitPromise))
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// spaSite is a single-page app's origin: one empty page.
type spaSite struct{ URL string }

func newSPASite(t *testing.T) *spaSite {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App</title></head><body>app</body></html>`)
	})
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &spaSite{URL: "http://" + ln.Addr().String()}
}
