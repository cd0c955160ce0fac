package me_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/me"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

type harness struct {
	t     *testing.T
	url   string
	clock *kycvstest.Clock
	inbox *kycvstest.Inbox
	st    *store.Store
	// browser is the person's browser on the server at url.
	browser *kycvstest.Browser
}

// newHarness serves /me alone on dialect's fresh database with the demo
// registry, a settable clock and an inbox.
func newHarness(t *testing.T, dialect string) *harness {
	t.Helper()
	st := storetest.Open(t, dialect)
	if _, err := st.ReplaceBeneficiaries(context.Background(), claims.DemoRegistry()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: kycvstest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)), inbox: &kycvstest.Inbox{}, st: st}
	otps := otp.New(otp.Config{Secret: []byte("test-secret-0123456789-0123456789"), Limits: otp.Limits{MaxTries: 3, ResendInterval: time.Minute}, WebOTPHost: "kycvs.example", Now: h.clock.Now}, st, h.inbox)
	engine, err := web.NewEngine(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	me.New(me.Config{CSRFKey: secrets.Derive([]byte("0123456789abcdef0123456789abcdef"), secrets.CSRF), Now: h.clock.Now}, st, otps, func(context.Context, string, string) error { return nil }).Register(engine)
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	h.browser = kycvstest.NewBrowser(t)
	return h
}

// sendCode asks a code for mobile and returns the code page.
func (h *harness) sendCode(mobile string) kycvstest.Page {
	h.t.Helper()
	start := h.browser.Get(h.url + "/me")
	p := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {mobile}})
	if p.URL.Path != "/me/code" {
		h.t.Fatalf("send code: %d %s: %s", p.Status, p.URL.Path, p.Body)
	}
	return p
}

func (h *harness) code(t *testing.T) string { return h.inbox.Last(t).Text[:6] }

func TestSignIn(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Run("the session lasts 15 minutes, not a second more", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode("9999900001")
			if sms := h.inbox.Last(t); sms.To != "+919999900001" || !strings.Contains(sms.Text, "who checked your vaccination status") {
				t.Errorf("SMS: %+v", sms)
			}
			// The SMS ends with the WebOTP line, which the code page's
			// script (allowed by the CSP nonce) reads into the field. The
			// template writes a nonce's '+' as &#43;.
			if sms := h.inbox.Last(t); !strings.HasSuffix(sms.Text, "\n@kycvs.example #"+h.code(t)) {
				t.Errorf("SMS lacks the WebOTP line: %q", sms.Text)
			}
			if !strings.Contains(p.Body, `autocomplete="one-time-code"`) || !strings.Contains(p.Body, `id="otp-form"`) ||
				!strings.Contains(p.Body, "OTPCredential") || !regexp.MustCompile(`<script nonce="(?:[A-Za-z0-9/]|&#43;){22}">`).MatchString(p.Body) {
				t.Errorf("the code page lacks the WebOTP autofill: %s", p.Body)
			}
			in := h.browser.Submit(p, "/me/code", url.Values{"otp": {h.code(t)}})
			if in.URL.Path != "/me" || !strings.Contains(in.Body, "Asha Verma") {
				t.Fatalf("sign-in: %s %s", in.URL.Path, in.Body)
			}
			h.clock.Advance(me.DefaultSessionTTL - time.Second)
			if got := h.browser.Get(h.url + "/me"); !strings.Contains(got.Body, "Asha Verma") {
				t.Fatal("the session ended early")
			}
			h.clock.Advance(time.Second)
			got := h.browser.Get(h.url + "/me")
			if strings.Contains(got.Body, "Asha Verma") || !strings.Contains(got.Body, "Your session has ended") || !strings.Contains(got.Body, `name="mobile"`) {
				t.Fatalf("after 15 minutes: %s", got.Body)
			}
			if got := h.browser.Get(h.url + "/me/data.json"); got.URL.Path != "/me" || strings.Contains(got.Body, "Asha") {
				t.Errorf("download after the session: %s %s", got.URL.Path, got.Body)
			}
		})
		t.Run("wrong codes: tries left from the server, then locked", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode("9999900002")
			wrong := "000000"
			if h.code(t) == wrong {
				wrong = "111111"
			}
			got := h.browser.Submit(p, "/me/code", url.Values{"otp": {wrong}})
			if got.Status != http.StatusBadRequest || got.URL.RawQuery != "m=wrong" || !strings.Contains(got.Body, "You have 2 tries left") ||
				!strings.Contains(got.Body, `aria-invalid="true"`) || !strings.Contains(got.Body, "<title>Error:") {
				t.Fatalf("first wrong code: %d %s: %s", got.Status, got.URL.RawQuery, got.Body)
			}
			// Reloading the page does not count a try.
			if again := h.browser.Get(h.url + "/me/code?m=wrong"); !strings.Contains(again.Body, "You have 2 tries left") {
				t.Errorf("reload: %s", again.Body)
			}
			if got := h.browser.Submit(p, "/me/code", url.Values{"otp": {"12ab"}}); got.URL.RawQuery != "m=format" || !strings.Contains(got.Body, "Enter the 6-digit code") {
				t.Errorf("malformed code: %s %s", got.URL.RawQuery, got.Body)
			}
			h.browser.Submit(p, "/me/code", url.Values{"otp": {wrong}})
			got = h.browser.Submit(p, "/me/code", url.Values{"otp": {wrong}})
			if got.URL.Path != "/me" || !strings.Contains(got.Body, "Too many wrong codes") {
				t.Fatalf("third wrong code: %s %s", got.URL.Path, got.Body)
			}
			// The right code is dead now.
			if got := h.browser.Submit(p, "/me/code", url.Values{"otp": {h.code(t)}}); strings.Contains(got.Body, "Ravi Kumar") {
				t.Fatal("the right code worked after the lock")
			}
		})
		t.Run("the sign-in expires", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode("9999900003")
			h.clock.Advance(otp.DefaultTTL + time.Second)
			got := h.browser.Submit(p, "/me/code", url.Values{"otp": {h.code(t)}})
			if got.URL.Path != "/me" || strings.Contains(got.Body, "Meera Nair") || !strings.Contains(got.Body, "Start again") {
				t.Fatalf("expired code: %s %s", got.URL.Path, got.Body)
			}
		})
		t.Run("bad mobile", func(t *testing.T) {
			h := newHarness(t, dialect)
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"12<b>"}})
			if got.Status != http.StatusBadRequest || !strings.Contains(got.Body, `aria-invalid="true"`) || strings.Contains(got.Body, "<b>") ||
				!strings.Contains(got.Body, "Enter a valid mobile number") {
				t.Fatalf("bad mobile: %d %s", got.Status, got.Body)
			}
			if len(h.inbox.All()) != 0 {
				t.Error("a code was sent to a bad mobile")
			}
		})
		t.Run("another number drops the sign-in; a second code waits", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode("9999900001")
			back := h.browser.Submit(p, "/me/restart", url.Values{})
			if back.URL.Path != "/me" || !strings.Contains(back.Body, `name="mobile"`) {
				t.Fatalf("restart: %s %s", back.URL.Path, back.Body)
			}
			if got := h.browser.Get(h.url + "/me/code"); got.URL.Path != "/me" {
				t.Errorf("the code page after restart: %s", got.URL.Path)
			}
			got := h.browser.Submit(back, "/me/signin", url.Values{"mobile": {"9999900001"}})
			if got.Status != http.StatusTooManyRequests || !strings.Contains(got.Body, "We sent you a code a moment ago") {
				t.Errorf("a second code at once: %d %s", got.Status, got.Body)
			}
		})
		t.Run("forms need the CSRF token", func(t *testing.T) {
			h := newHarness(t, dialect)
			h.browser.Get(h.url + "/me")
			for _, path := range []string{"/me/signin", "/me/code", "/me/restart", "/me/withdraw", "/me/signout"} {
				if got := h.browser.Post(h.url+path, url.Values{"mobile": {"9999900001"}}); got.Status != http.StatusForbidden {
					t.Errorf("POST %s without the token: %d", path, got.Status)
				}
			}
			if len(h.inbox.All()) != 0 {
				t.Error("a code was sent without the token")
			}
		})
	})
}
