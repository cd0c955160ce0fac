package consent_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
)

// wantRetryAfter checks a 429's Retry-After: whole seconds, between lo and
// hi inclusive.
func wantRetryAfter(t *testing.T, w kycvstest.Page, lo, hi int) {
	t.Helper()
	h := w.Header.Get("Retry-After")
	s, err := strconv.Atoi(h)
	if err != nil || s < lo || s > hi {
		t.Errorf("Retry-After = %q, want %d to %d seconds", h, lo, hi)
	}
}

// TestOTPBombing: codes for one mobile asked from many IPs, through many
// challenges, stop at the hourly limit long before the daily one; the
// refusal says when to retry, and the window really ends then.
func TestOTPBombing(t *testing.T) {
	tweak := func(c *testConfig) { c.OTP.HourlyLimit, c.OTP.DailyLimit, c.OTP.IPLimit = 3, 50, 100 }
	eachBackend(t, tweak, func(t *testing.T, ts *testServer) {
		for n := range 8 {
			ch := ts.newChallenge()
			b := ts.browser()
			b.from(fmt.Sprintf("203.0.113.%d", n+1))
			w := b.start(ch, mobileAsha, nameAsha)
			if n < 3 {
				wantRedirect(t, w, "/login/"+ch)
				ts.clock.Advance(time.Minute)
				continue
			}
			// The refusal is a redirect to the page that says so, both
			// with the time left (a reload sends nothing).
			wantRetryAfter(t, w, 57*60, 57*60)
			w = b.follow(w, ch, "limit")
			wantStatus(t, w, http.StatusTooManyRequests)
			wantBody(t, w, "Too many codes")
			// The first send was 3 minutes ago and frees the window an hour after it.
			wantRetryAfter(t, w, 57*60, 57*60)
			wantBody(t, b.get("/login/"+ch+"?m=limit"), "Too many codes")
			wantState(t, ts, ch, store.LoginPending)
		}
		if n := len(ts.sms.All()); n != 3 {
			t.Errorf("%d SMS reached the mobile, want 3", n)
		}
		// Another mobile is not held up.
		ch := ts.newChallenge()
		wantRedirect(t, ts.browser().start(ch, mobileNobody, nameAsha), "/login/"+ch)

		ts.clock.Advance(57*time.Minute + time.Second)
		ch = ts.newChallenge()
		b := ts.browser()
		b.from("203.0.113.200")
		wantRedirect(t, b.start(ch, mobileAsha, nameAsha), "/login/"+ch)
	})
}

// TestClientLimit: one verifying entity can have only so many codes sent
// in a minute, whatever the mobiles and IPs; other entities are not held
// up by it.
func TestClientLimit(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.ClientLimit = 2 }, func(t *testing.T, ts *testServer) {
		for n := range 3 {
			ch := ts.newChallenge()
			b := ts.browser()
			b.from(fmt.Sprintf("198.51.100.%d", n+1))
			w := b.start(ch, fmt.Sprintf("+91987654320%d", n), nameAsha)
			if n < 2 {
				wantRedirect(t, w, "/login/"+ch)
				continue
			}
			w = b.follow(w, ch, "limit")
			wantStatus(t, w, http.StatusTooManyRequests)
			wantRetryAfter(t, w, 60, 60)
		}
		ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ClientID = clientAir })
		wantRedirect(t, ts.browser().start(ch, "+919876543209", nameAsha), "/login/"+ch)

		ts.clock.Advance(time.Minute + time.Second)
		ch = ts.newChallenge()
		wantRedirect(t, ts.browser().start(ch, "+919876543208", nameAsha), "/login/"+ch)
	})
}

// TestRetryAfterOnEvery429: every answer of the sign-in pages that refuses
// because of a limit says when to come back.
func TestRetryAfterOnEvery429(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.IPLimit = 1 }, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantRedirect(t, b.start(ch, mobileAsha, nameAsha), "/login/"+ch)
		ts.clock.Advance(20 * time.Second)

		// The resend wait, from the resend button and the first form again:
		// a redirect to the code page, which shows the wait.
		for _, path := range []string{"/login/" + ch + "/resend", "/login/" + ch} {
			w := b.post(path, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}})
			wantRedirect(t, w, "/login/"+ch+"?m=wait")
			wantRetryAfter(t, w, 40, 40)
		}
		// The per-IP limit, on another challenge from the same browser.
		ch2 := ts.newChallenge()
		w := b.start(ch2, mobileNobody, nameAsha)
		wantRetryAfter(t, w, 280, 280)
		w = b.follow(w, ch2, "limit")
		wantStatus(t, w, http.StatusTooManyRequests)
		wantRetryAfter(t, w, 280, 280)
	})
}

// TestFlowSharesOTPs: codes sent through the OTP service handed to the flow count toward the limits
// the browser flow enforces.
func TestFlowSharesOTPs(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.DailyLimit = 2 }, func(t *testing.T, ts *testServer) {
		otps := ts.otps
		for _, binding := range []string{"api-1", "api-2"} {
			err := otps.Issue(context.Background(), otp.Request{Binding: binding, Mobile: mobileAsha, ClientIP: "192.0.2.1",
				Entity: "Air", Notice: otp.NoticeShare, ResendScope: clientAir,
				Save: func(context.Context, otp.State) error { return nil }})
			if err != nil {
				t.Fatal(err)
			}
			ts.clock.Advance(2 * time.Minute)
		}
		ch := ts.newChallenge()
		b := ts.browser()
		w := b.follow(b.start(ch, mobileAsha, nameAsha), ch, "limit")
		wantStatus(t, w, http.StatusTooManyRequests)
		wantBody(t, w, "Too many codes")
	})
}
