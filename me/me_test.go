package me_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
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
	t      *testing.T
	url    string
	clock  *kycvstest.Clock
	inbox  *kycvstest.Inbox
	st     *store.Store
	client *http.Client
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
	h.client = h.newClient()
	return h
}

func (h *harness) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

type resp struct {
	status int
	path   string
	query  string
	body   string
}

func (h *harness) do(c *http.Client, method, path string, form url.Values) resp {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, h.url+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, path: r.Request.URL.Path, query: r.Request.URL.RawQuery, body: string(b)}
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post submits a form of page from with its CSRF token.
func (h *harness) post(c *http.Client, from resp, path string, form url.Values) resp {
	h.t.Helper()
	m := csrfRe.FindStringSubmatch(from.body)
	if m == nil {
		h.t.Fatalf("no CSRF token on %s: %s", from.path, from.body)
	}
	form.Set("csrf_token", m[1])
	return h.do(c, http.MethodPost, path, form)
}

// sendCode asks a code for mobile and returns the code page.
func (h *harness) sendCode(c *http.Client, mobile string) resp {
	h.t.Helper()
	start := h.do(c, http.MethodGet, "/me", nil)
	p := h.post(c, start, "/me/signin", url.Values{"mobile": {mobile}})
	if p.path != "/me/code" {
		h.t.Fatalf("send code: %d %s: %s", p.status, p.path, p.body)
	}
	return p
}

func (h *harness) code(t *testing.T) string { return h.inbox.Last(t).Text[:6] }

func TestSignIn(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		t.Run("the session lasts 15 minutes, not a second more", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode(h.client, "9999900001")
			if sms := h.inbox.Last(t); sms.To != "+919999900001" || !strings.Contains(sms.Text, "who checked your vaccination status") {
				t.Errorf("SMS: %+v", sms)
			}
			// The SMS ends with the WebOTP line, which the code page's
			// script (allowed by the CSP nonce) reads into the field. The
			// template writes a nonce's '+' as &#43;.
			if sms := h.inbox.Last(t); !strings.HasSuffix(sms.Text, "\n@kycvs.example #"+h.code(t)) {
				t.Errorf("SMS lacks the WebOTP line: %q", sms.Text)
			}
			if !strings.Contains(p.body, `autocomplete="one-time-code"`) || !strings.Contains(p.body, `id="otp-form"`) ||
				!strings.Contains(p.body, "OTPCredential") || !regexp.MustCompile(`<script nonce="(?:[A-Za-z0-9/]|&#43;){22}">`).MatchString(p.body) {
				t.Errorf("the code page lacks the WebOTP autofill: %s", p.body)
			}
			in := h.post(h.client, p, "/me/code", url.Values{"otp": {h.code(t)}})
			if in.path != "/me" || !strings.Contains(in.body, "Asha Verma") {
				t.Fatalf("sign-in: %s %s", in.path, in.body)
			}
			h.clock.Advance(me.DefaultSessionTTL - time.Second)
			if got := h.do(h.client, http.MethodGet, "/me", nil); !strings.Contains(got.body, "Asha Verma") {
				t.Fatal("the session ended early")
			}
			h.clock.Advance(time.Second)
			got := h.do(h.client, http.MethodGet, "/me", nil)
			if strings.Contains(got.body, "Asha Verma") || !strings.Contains(got.body, "Your session has ended") || !strings.Contains(got.body, `name="mobile"`) {
				t.Fatalf("after 15 minutes: %s", got.body)
			}
			if got := h.do(h.client, http.MethodGet, "/me/data.json", nil); got.path != "/me" || strings.Contains(got.body, "Asha") {
				t.Errorf("download after the session: %s %s", got.path, got.body)
			}
		})
		t.Run("wrong codes: tries left from the server, then locked", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode(h.client, "9999900002")
			wrong := "000000"
			if h.code(t) == wrong {
				wrong = "111111"
			}
			got := h.post(h.client, p, "/me/code", url.Values{"otp": {wrong}})
			if got.status != http.StatusBadRequest || got.query != "m=wrong" || !strings.Contains(got.body, "You have 2 tries left") ||
				!strings.Contains(got.body, `aria-invalid="true"`) || !strings.Contains(got.body, "<title>Error:") {
				t.Fatalf("first wrong code: %d %s: %s", got.status, got.query, got.body)
			}
			// Reloading the page does not count a try.
			if again := h.do(h.client, http.MethodGet, "/me/code?m=wrong", nil); !strings.Contains(again.body, "You have 2 tries left") {
				t.Errorf("reload: %s", again.body)
			}
			if got := h.post(h.client, p, "/me/code", url.Values{"otp": {"12ab"}}); got.query != "m=format" || !strings.Contains(got.body, "Enter the 6-digit code") {
				t.Errorf("malformed code: %s %s", got.query, got.body)
			}
			h.post(h.client, p, "/me/code", url.Values{"otp": {wrong}})
			got = h.post(h.client, p, "/me/code", url.Values{"otp": {wrong}})
			if got.path != "/me" || !strings.Contains(got.body, "Too many wrong codes") {
				t.Fatalf("third wrong code: %s %s", got.path, got.body)
			}
			// The right code is dead now.
			if got := h.post(h.client, p, "/me/code", url.Values{"otp": {h.code(t)}}); strings.Contains(got.body, "Ravi Kumar") {
				t.Fatal("the right code worked after the lock")
			}
		})
		t.Run("the sign-in expires", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode(h.client, "9999900003")
			h.clock.Advance(otp.DefaultTTL + time.Second)
			got := h.post(h.client, p, "/me/code", url.Values{"otp": {h.code(t)}})
			if got.path != "/me" || strings.Contains(got.body, "Meera Nair") || !strings.Contains(got.body, "Start again") {
				t.Fatalf("expired code: %s %s", got.path, got.body)
			}
		})
		t.Run("bad mobile", func(t *testing.T) {
			h := newHarness(t, dialect)
			start := h.do(h.client, http.MethodGet, "/me", nil)
			got := h.post(h.client, start, "/me/signin", url.Values{"mobile": {"12<b>"}})
			if got.status != http.StatusBadRequest || !strings.Contains(got.body, `aria-invalid="true"`) || strings.Contains(got.body, "<b>") ||
				!strings.Contains(got.body, "Enter a valid mobile number") {
				t.Fatalf("bad mobile: %d %s", got.status, got.body)
			}
			if len(h.inbox.All()) != 0 {
				t.Error("a code was sent to a bad mobile")
			}
		})
		t.Run("another number drops the sign-in; a second code waits", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode(h.client, "9999900001")
			back := h.post(h.client, p, "/me/restart", url.Values{})
			if back.path != "/me" || !strings.Contains(back.body, `name="mobile"`) {
				t.Fatalf("restart: %s %s", back.path, back.body)
			}
			if got := h.do(h.client, http.MethodGet, "/me/code", nil); got.path != "/me" {
				t.Errorf("the code page after restart: %s", got.path)
			}
			got := h.post(h.client, back, "/me/signin", url.Values{"mobile": {"9999900001"}})
			if got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "We sent you a code a moment ago") {
				t.Errorf("a second code at once: %d %s", got.status, got.body)
			}
		})
		t.Run("forms need the CSRF token", func(t *testing.T) {
			h := newHarness(t, dialect)
			h.do(h.client, http.MethodGet, "/me", nil)
			for _, path := range []string{"/me/signin", "/me/code", "/me/restart", "/me/withdraw", "/me/signout"} {
				if got := h.do(h.client, http.MethodPost, path, url.Values{"mobile": {"9999900001"}}); got.status != http.StatusForbidden {
					t.Errorf("POST %s without the token: %d", path, got.status)
				}
			}
			if len(h.inbox.All()) != 0 {
				t.Error("a code was sent without the token")
			}
		})
	})
}
