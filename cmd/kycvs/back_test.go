package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
)

var backFormRe = regexp.MustCompile(`<form method="post" action="(/login/[^"/]+/back)">`)

// TestBackToVerifier: the pages that end a sign-in (too many wrong codes,
// an expired sign-in) offer "Back to {verifier}", which returns
// access_denied with an error_description in words, the state and iss to
// the relying party, as go-oidc's client sees it; also after the login
// request expired. Pages of requests whose redirect URI was never
// validated offer nothing that redirects, and say so in words.
func TestBackToVerifier(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{Name: "Demo Airlines"})
	r := ts.newRP(id, secret)

	back := func(t *testing.T, b *browser, end kycvstest.Page, a authorization, words string) {
		t.Helper()
		if end.Status != http.StatusGone || !strings.Contains(end.Body, ">Back to Demo Airlines</button>") {
			t.Fatalf("want the end page with the way back, got %d: %s", end.Status, end.Body)
		}
		m := backFormRe.FindStringSubmatch(end.Body)
		if m == nil {
			t.Fatalf("no back form: %s", end.Body)
		}
		u := b.redirected(b.Submit(end, m[1], url.Values{}))
		q := u.Query()
		if q.Get("error") != "access_denied" || q.Get("state") != a.state || q.Get("iss") != ts.URL || q.Get("code") != "" ||
			!strings.Contains(q.Get("error_description"), words) || !strings.HasPrefix(u.String(), "http://127.0.0.1:9/callback?") {
			t.Fatalf("back to the relying party: %s", u)
		}
		// The RP's library refuses the error as an answer, not a code.
		if _, err := r.conf.Exchange(context.Background(), q.Get("code")); err == nil {
			t.Fatal("a code came back")
		}
	}

	t.Run("after too many wrong codes", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize()
		login := b.Get(a.URL)
		p := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
		code := ts.lastOTP("+919999900001")
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := range 2 {
			p = b.Submit(p, login.URL.Path+"/otp", url.Values{"otp": {wrong}})
			if want := []string{"2 tries left", "1 try left"}[i]; !strings.Contains(p.Body, want) || p.URL.Query().Get("m") != "wrong" {
				t.Fatalf("wrong code %d: %s %s", i+1, p.URL, p.Body)
			}
		}
		end := b.Submit(p, login.URL.Path+"/otp", url.Values{"otp": {wrong}})
		if !strings.Contains(end.Body, "Too many wrong codes") {
			t.Fatalf("third wrong code: %d %s", end.Status, end.Body)
		}
		back(t, b, end, a, "too many wrong codes")
	})

	t.Run("after the sign-in expired", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize(oauth2.SetAuthURLParam("response_mode", "form_post"))
		login := b.Get(a.URL)
		ch := strings.TrimPrefix(login.URL.Path, "/login/")
		if _, err := ts.store().UpdateLoginRequest(context.Background(), ch, func(lr *store.LoginRequest) error {
			lr.ExpiresAt = time.Now().Add(-time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		end := b.Get(ts.URL + login.URL.Path)
		if !strings.Contains(end.Body, "This sign-in has expired") {
			t.Fatalf("expired page: %d %s", end.Status, end.Body)
		}
		m := backFormRe.FindStringSubmatch(end.Body)
		if m == nil {
			t.Fatalf("no back form: %s", end.Body)
		}
		// form_post: the answer is a page that posts to the redirect URI.
		action, fields := formPostResponse(t, b.Submit(end, m[1], url.Values{}))
		if action != r.conf.RedirectURL || fields.Get("error") != "access_denied" || fields.Get("state") != a.state ||
			fields.Get("iss") != ts.URL || !strings.Contains(fields.Get("error_description"), "The sign-in expired before the person finished it.") {
			t.Fatalf("form_post to %s: %v", action, fields)
		}
	})

	t.Run("after expiry, a query-mode client", func(t *testing.T) {
		b := ts.newBrowser()
		a := r.authorize()
		login := b.Get(a.URL)
		ch := strings.TrimPrefix(login.URL.Path, "/login/")
		if _, err := ts.store().UpdateLoginRequest(context.Background(), ch, func(lr *store.LoginRequest) error {
			lr.ExpiresAt = time.Now().Add(-time.Hour)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		back(t, b, b.Get(ts.URL+login.URL.Path), a, "expired")
	})

	t.Run("no redirect where none was validated", func(t *testing.T) {
		b := ts.newBrowser()
		bad := r.authorize()
		u, _ := url.Parse(bad.URL)
		q := u.Query()
		tests := []struct{ name, url, words string }{
			{"unknown link", ts.URL + "/login/no-such-challenge", "This sign-in link is not valid"},
			{"unknown client", func() string {
				q := u.Query()
				q.Set("client_id", "nobody")
				u2 := *u
				u2.RawQuery = q.Encode()
				return u2.String()
			}(),
				"The service that sent you here is not registered with kycvs."},
			{"unregistered redirect URI", func() string {
				q.Set("redirect_uri", "https://evil.example/cb")
				u2 := *u
				u2.RawQuery = q.Encode()
				return u2.String()
			}(), "is not registered for it"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := b.Get(tt.url)
				if p.Status < 400 || !strings.Contains(p.Body, tt.words) {
					t.Fatalf("%d: %s", p.Status, p.Body)
				}
				for _, bad := range []string{"/back", "Back to", "<form", "OAuth 2.0", "does not exist"} {
					if strings.Contains(p.Body, bad) {
						t.Errorf("page shows %q:\n%s", bad, p.Body)
					}
				}
			})
		}
	})
}

// TestOTPPageReload: a reload after a wrong code shows the same page,
// tries left and all, and submits nothing; the SMS ends with the WebOTP
// line for the issuer's host.
func TestOTPPageReload(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, secret := ts.client(oauth.ClientSpec{})
	r := ts.newRP(id, secret)
	b := ts.newBrowser()
	a := r.authorize()
	login := b.Get(a.URL)
	p := b.Submit(login, login.URL.Path, url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}})
	msgs, err := otp.ReadSMSFile(ts.smsFile)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("SMS: %v %+v", err, msgs)
	}
	code := ts.lastOTP("+919999900001")
	host := strings.TrimPrefix(ts.URL, "http://")
	if !strings.HasSuffix(msgs[0].Text, "\n@"+host+" #"+code) {
		t.Errorf("SMS lacks the WebOTP line: %q", msgs[0].Text)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	p = b.Submit(p, login.URL.Path+"/otp", url.Values{"otp": {wrong}})
	for range 2 {
		if p.Status != http.StatusOK || !strings.Contains(p.Body, "2 tries left") || !strings.HasPrefix(p.Body[strings.Index(p.Body, "<title>"):], "<title>Error: ") {
			t.Fatalf("after a wrong code: %d %s", p.Status, p.Body)
		}
		p = b.Get(p.URL.String()) // reload
	}
	lr, err := ts.store().GetLoginRequest(context.Background(), strings.TrimPrefix(login.URL.Path, "/login/"))
	if err != nil || lr.OTPTries != 1 {
		t.Fatalf("tries = %d, %v; want 1 after reloads", lr.OTPTries, err)
	}
	r.finish(a, b.redirected(b.Submit(p, login.URL.Path+"/otp", url.Values{"otp": {code}})))
}
