package me_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
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
	// issued counts the page's calls of OTPs.Issue: each is a code asked
	// for, charged to the send limits whether or not it is sent.
	issued atomic.Int32
}

// countingOTPs is the OTP service, counting Issue calls.
type countingOTPs struct {
	*otp.Service
	issued *atomic.Int32
}

func (o countingOTPs) Issue(ctx context.Context, req otp.Request) error {
	o.issued.Add(1)
	return o.Service.Issue(ctx, req)
}

// newHarness serves /me alone on dialect's fresh database with the demo
// registry, a settable clock and an inbox.
func newHarness(t *testing.T, dialect string) *harness {
	return newHarnessWith(t, dialect, nil)
}

// newHarnessWith is newHarness with the OTP limits changed by tweak.
func newHarnessWith(t *testing.T, dialect string, tweak func(*otp.Limits)) *harness {
	t.Helper()
	st := storetest.Open(t, dialect)
	if _, err := st.ReplaceBeneficiaries(context.Background(), claims.DemoRegistry()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: kycvstest.NewClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)), inbox: &kycvstest.Inbox{}, st: st}
	limits := otp.Limits{MaxTries: 3, ResendInterval: time.Minute}
	if tweak != nil {
		tweak(&limits)
	}
	otps := otp.New(otp.Config{Secret: []byte("test-secret-0123456789-0123456789"), Limits: limits, WebOTPHost: "kycvs.example", Now: h.clock.Now}, st, h.inbox)
	engine, err := web.NewEngine(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	me.New(me.Config{CSRFKey: secrets.Derive([]byte("0123456789abcdef0123456789abcdef"), secrets.CSRF), Now: h.clock.Now}, st,
		countingOTPs{otps, &h.issued}, func(context.Context, string, string) error { return nil }).Register(engine)
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

// csrfRe is a form's CSRF token, which differs between two answers.
var csrfRe = regexp.MustCompile(`name="csrf_token" value="[^"]+"`)

// refusedPage checks the page a refused sign-in form redirected to: at
// /me?m=m by a 303, with status, the form filled in with typed, its field
// marked invalid, the error in the title and on the page, and Retry-After
// (retry; "" for none).
func refusedPage(t *testing.T, got kycvstest.Page, m string, status int, typed, text, retry string) {
	t.Helper()
	if got.URL.Path != "/me" || got.URL.RawQuery != "m="+m || got.Status != status || got.RedirectedBy != http.StatusSeeOther {
		t.Fatalf("refused form: %d (after %d) %s, want %d /me?m=%s: %s", got.Status, got.RedirectedBy, got.URL, status, m, got.Body)
	}
	if !strings.Contains(got.Body, `aria-invalid="true"`) || !strings.Contains(got.Body, "<title>Error:") ||
		!strings.Contains(got.Body, `role="alert" id="mobile-error"`) || !strings.Contains(got.Body, text) {
		t.Errorf("refused form %s: no error on the field or in the title: %s", m, got.Body)
	}
	if !strings.Contains(got.Body, `value="`+typed+`"`) {
		t.Errorf("refused form %s: the field lacks what was typed (%s): %s", m, typed, got.Body)
	}
	if r := got.Header.Get("Retry-After"); r != retry {
		t.Errorf("refused form %s: Retry-After %q, want %q", m, r, retry)
	}
}

// Every refusal of the sign-in form is a redirect to a page that shows
// it (post/redirect/get): a reload asks for no code (no SMS, nothing
// charged to the limits) and answers the same.
func TestSignInRefusals(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		// reload gets the refused page again and checks it is the same,
		// asking for no code.
		reload := func(h *harness, b *kycvstest.Browser, first kycvstest.Page) kycvstest.Page {
			t.Helper()
			issued, sent := h.issued.Load(), len(h.inbox.All())
			again := b.Get(first.URL.String())
			if again.Status != first.Status || csrfRe.ReplaceAllString(again.Body, "") != csrfRe.ReplaceAllString(first.Body, "") {
				t.Errorf("reload: %d, first %d:\n%s\n----\n%s", again.Status, first.Status, again.Body, first.Body)
			}
			if h.issued.Load() != issued || len(h.inbox.All()) != sent {
				t.Errorf("a reload asked for a code: %d codes asked, %d sent; before %d, %d", h.issued.Load(), len(h.inbox.All()), issued, sent)
			}
			return again
		}
		t.Run("not a mobile: 400", func(t *testing.T) {
			h := newHarness(t, dialect)
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"12<b>\x00"}})
			refusedPage(t, got, "mobile", http.StatusBadRequest, "12&lt;b&gt;", "Enter a valid mobile number", "")
			reload(h, h.browser, got)
			if h.issued.Load() != 0 {
				t.Error("a code was asked for a bad mobile")
			}
			// Another browser at the same URL sees no one's input.
			other := kycvstest.NewBrowser(t).Get(h.url + "/me?m=mobile")
			if other.Status != http.StatusOK || strings.Contains(other.Body, "12&lt;b") || strings.Contains(other.Body, "aria-invalid") {
				t.Errorf("the URL alone: %d %s", other.Status, other.Body)
			}
			// A valid mobile then sends a code, and the refusal is gone.
			if p := h.browser.Submit(got, "/me/signin", url.Values{"mobile": {"9999900001"}}); p.URL.Path != "/me/code" {
				t.Fatalf("after the refusal: %s %s", p.URL.Path, p.Body)
			}
			if again := h.browser.Get(h.url + "/me?m=mobile"); again.Status != http.StatusOK || strings.Contains(again.Body, "aria-invalid") {
				t.Errorf("the refusal outlived the code: %d %s", again.Status, again.Body)
			}
		})
		t.Run("the resend wait: 429 while it lasts; the code sent before still works", func(t *testing.T) {
			h := newHarness(t, dialect)
			p := h.sendCode("9999900001")
			h.clock.Advance(20 * time.Second)
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"99999 00001"}})
			refusedPage(t, got, "soon", http.StatusTooManyRequests, "99999 00001", "We sent you a code a moment ago", "40")
			reload(h, h.browser, got)
			if n := h.issued.Load(); n != 2 {
				t.Errorf("%d codes asked for, want 2", n)
			}
			h.clock.Advance(40 * time.Second)
			over := h.browser.Get(h.url + "/me?m=soon")
			if over.Status != http.StatusOK || strings.Contains(over.Body, "aria-invalid") || !strings.Contains(over.Body, `value="99999 00001"`) ||
				over.Header.Get("Retry-After") != "" {
				t.Errorf("after the wait: %d %s", over.Status, over.Body)
			}
			if in := h.browser.Submit(p, "/me/code", url.Values{"otp": {h.code(t)}}); in.URL.Path != "/me" || !strings.Contains(in.Body, "Asha Verma") {
				t.Fatalf("the first code after the refusal: %s %s", in.URL.Path, in.Body)
			}
		})
		t.Run("a send limit: 429 with the limit's Retry-After", func(t *testing.T) {
			h := newHarnessWith(t, dialect, func(l *otp.Limits) { l.ResendInterval, l.DailyLimit = 0, 1 })
			h.sendCode("9999900002")
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"9999900002"}})
			refusedPage(t, got, "limit", http.StatusTooManyRequests, "9999900002", "Too many codes were asked for this number or from your network.", got.Header.Get("Retry-After"))
			// /me asks on no service's behalf: the sign-in's "or by this
			// service" does not apply.
			if strings.Contains(got.Body, "by this service") {
				t.Errorf("the limit page blames a service: %s", got.Body)
			}
			if r, err := strconv.Atoi(got.Header.Get("Retry-After")); err != nil || r < 1 || r > 24*60*60 {
				t.Errorf("Retry-After %q", got.Header.Get("Retry-After"))
			}
			reload(h, h.browser, got)
			if n, sent := h.issued.Load(), len(h.inbox.All()); n != 2 || sent != 1 {
				t.Errorf("%d codes asked for, %d sent; want 2, 1", n, sent)
			}
		})
		t.Run("the SMS not sent: 503", func(t *testing.T) {
			h := newHarness(t, dialect)
			h.inbox.SendFunc = func(context.Context, otp.SMS) error { return errors.New("gateway down") }
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"9999900003"}})
			refusedPage(t, got, "unsent", http.StatusServiceUnavailable, "9999900003", "We could not send the SMS", "")
			reload(h, h.browser, got)
			if n := h.issued.Load(); n != 1 {
				t.Errorf("%d codes asked for, want 1", n)
			}
			// No code went out, so none is waited for: sending again works.
			h.inbox.SendFunc = nil
			if p := h.browser.Submit(got, "/me/signin", url.Values{"mobile": {"9999900003"}}); p.URL.Path != "/me/code" {
				t.Errorf("sending again: %s %s", p.URL.Path, p.Body)
			}
		})
		t.Run("the SMS service busy: 503 with Retry-After", func(t *testing.T) {
			h := newHarness(t, dialect)
			h.inbox.SendFunc = func(context.Context, otp.SMS) error { return otp.ErrSenderBusy }
			start := h.browser.Get(h.url + "/me")
			got := h.browser.Submit(start, "/me/signin", url.Values{"mobile": {"9999900003"}})
			refusedPage(t, got, "busy", http.StatusServiceUnavailable, "9999900003", "Our SMS service is busy", strconv.Itoa(otp.SenderBusyRetry))
			reload(h, h.browser, got)
		})
		t.Run("the code page's URL alone shows no wrong code", func(t *testing.T) {
			h := newHarness(t, dialect)
			h.sendCode("9999900001")
			got := h.browser.Get(h.url + "/me/code?m=wrong")
			if got.Status != http.StatusOK || strings.Contains(got.Body, "aria-invalid") || strings.Contains(got.Body, "tries left") {
				t.Errorf("no wrong try counted: %d %s", got.Status, got.Body)
			}
		})
		t.Run("a registered and an unregistered mobile are refused alike", func(t *testing.T) {
			h := newHarness(t, dialect)
			refused := func(mobile string) kycvstest.Page {
				b := kycvstest.NewBrowser(t)
				start := b.Get(h.url + "/me")
				if p := b.Submit(start, "/me/signin", url.Values{"mobile": {mobile}}); p.URL.Path != "/me/code" {
					t.Fatalf("send code: %s", p.URL)
				}
				start = b.Get(h.url + "/me")
				got := b.Submit(start, "/me/signin", url.Values{"mobile": {mobile}})
				got.Body = strings.ReplaceAll(csrfRe.ReplaceAllString(got.Body, ""), mobile, "MOBILE")
				return got
			}
			reg, unreg := refused("9999900001"), refused("9999900077")
			if reg.Status != http.StatusTooManyRequests || reg.Status != unreg.Status || reg.URL.String() != unreg.URL.String() || reg.Body != unreg.Body ||
				reg.Header.Get("Retry-After") != unreg.Header.Get("Retry-After") {
				t.Errorf("registered %d %s, unregistered %d %s:\n%s\n----\n%s", reg.Status, reg.URL, unreg.Status, unreg.URL, reg.Body, unreg.Body)
			}
		})
	})
}
