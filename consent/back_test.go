package consent_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/store"
)

// TestChangeMobile: "Change mobile or name" goes back to the first form,
// filled in, without declining; the code sent is void; the change charges
// no limit (with a daily limit of 2, two sends around a change still go
// out, and only the third is refused).
func TestChangeMobile(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.DailyLimit = 2 }, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantRedirect(t, b.start(ch, mobileAsha, "Asha Kumar"), "/login/"+ch)
		old := ts.lastOTP(mobileAsha)

		w := b.follow(b.post("/login/"+ch+"/change", nil), ch, "")
		wantBody(t, w, `value="&#43;919876543210"`, `value="Asha Kumar"`, `name="mobile"`)
		lr := wantState(t, ts, ch, store.LoginPending)
		if len(lr.OTPHash) != 0 || lr.OTPSends != 1 {
			t.Errorf("after the change: hash %x, sends %d", lr.OTPHash, lr.OTPSends)
		}
		// The old code no longer signs anyone in.
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {old}}), "/login/"+ch)
		wantState(t, ts, ch, store.LoginPending)

		// The corrected name, at once: no resend wait, one more send.
		wantRedirect(t, b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}), "/login/"+ch)
		if n := len(ts.sms.All()); n != 2 {
			t.Fatalf("%d SMS, want 2", n)
		}
		wantState(t, ts, ch, store.LoginOTPSent)
		// A third send is over the daily limit of 2: the change was free.
		wantRedirect(t, b.post("/login/"+ch+"/change", nil), "/login/"+ch)
		w = b.follow(b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}), ch, "limit")
		wantStatus(t, w, http.StatusTooManyRequests)
		wantBody(t, w, "Too many codes", `action="/login/`+ch+`/back"`)

		// The change of a finished sign-in changes nothing.
		done := ts.newChallenge(func(lr *store.LoginRequest) { lr.State = store.LoginDead })
		wantStatus(t, b.post("/login/"+done+"/change", nil), http.StatusGone)
		wantState(t, ts, done, store.LoginDead)
	})
}

// TestChangeMobileSignedIn: after "Change mobile or name" the first form
// is shown even when this browser has meanwhile got a session (another
// tab): the person asked to type a mobile and name.
func TestChangeMobileSignedIn(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		b := ts.browser()
		ch := ts.newChallenge()
		wantRedirect(t, b.start(ch, mobileNobody, "Someone"), "/login/"+ch)
		other := ts.newChallenge()
		wantRedirect(t, b.signIn(other), finishURL(other))
		w := b.follow(b.post("/login/"+ch+"/change", nil), ch, "")
		wantBody(t, w, `name="mobile"`, `value="Someone"`)
		if strings.Contains(w.Body, `name="decision"`) {
			t.Error("the one-tap screen after Change mobile or name")
		}
	})
}

// TestBack: every page that ends a sign-in offers "Back to {verifier}",
// which denies the challenge with why and sends the browser to the finish
// URL, where oauth answers the relying party; also after the challenge
// expired. A page with no validated redirect (an unknown link, a client
// that is gone) offers nothing.
func TestBack(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		b := ts.browser()
		tests := []struct {
			name   string
			mod    func(*store.LoginRequest)
			page   string
			reason string
		}{
			{"too many wrong codes", func(lr *store.LoginRequest) { lr.State = store.LoginDead }, "Too many wrong codes", store.DenyLocked},
			{"expired while pending", func(lr *store.LoginRequest) { lr.ExpiresAt = ts.clock.Now().Add(-time.Hour) }, "This sign-in has expired", store.DenyExpired},
			{"expired at the code", func(lr *store.LoginRequest) {
				lr.State, lr.Mobile, lr.ExpiresAt = store.LoginOTPSent, mobileAsha, ts.clock.Now().Add(-time.Second)
			}, "This sign-in has expired", store.DenyExpired},
			{"dead and expired", func(lr *store.LoginRequest) { lr.State, lr.ExpiresAt = store.LoginDead, ts.clock.Now().Add(-time.Hour) }, "Too many wrong codes", store.DenyLocked},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ch := ts.newChallenge(tt.mod)
				w := b.get("/login/" + ch)
				wantStatus(t, w, http.StatusGone)
				wantBody(t, w, tt.page, `<form method="post" action="/login/`+ch+`/back">`, `>Back to Indian Rail</button>`,
					`name="csrf_token" value="`+b.token()+`"`)
				wantRedirect(t, b.post("/login/"+ch+"/back", nil), finishURL(ch))
				if lr := wantState(t, ts, ch, store.LoginDenied); lr.DenyReason != tt.reason {
					t.Errorf("reason = %q, want %q", lr.DenyReason, tt.reason)
				}
				// Twice: the finish URL again, nothing changes.
				wantRedirect(t, b.post("/login/"+ch+"/back", nil), finishURL(ch))
			})
		}

		t.Run("the whole lockout", func(t *testing.T) {
			ch := ts.newChallenge()
			wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
			for range 3 {
				b.post("/login/"+ch+"/otp", url.Values{"otp": {"000000"}})
			}
			if ts.request(ch).State != store.LoginDead {
				// 000000 was the code (one chance in a million): nothing to test.
				t.Skip("the wrong code was right")
			}
			wantRedirect(t, b.post("/login/"+ch+"/back", nil), finishURL(ch))
			if lr := wantState(t, ts, ch, store.LoginDenied); lr.DenyReason != store.DenyLocked || len(lr.OTPHash) != 0 {
				t.Errorf("denied as %+v", lr)
			}
		})

		t.Run("without the CSRF token", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.State = store.LoginDead })
			w := b.do(http.MethodPost, "/login/"+ch+"/back", strings.NewReader(""))
			wantStatus(t, w, http.StatusForbidden)
			wantState(t, ts, ch, store.LoginDead)
		})

		t.Run("answered already", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.State = store.LoginApproved })
			wantRedirect(t, b.post("/login/"+ch+"/back", nil), finishURL(ch))
			wantState(t, ts, ch, store.LoginApproved)
		})

		t.Run("no redirect URI known", func(t *testing.T) {
			for _, path := range []string{"/login/nope", "/login/" + ts.newChallenge(func(lr *store.LoginRequest) {
				lr.ClientID, lr.State = "gone", store.LoginDead
			})} {
				w := b.get(path)
				if strings.Contains(w.Body, "/back") || strings.Contains(w.Body, "Back to") {
					t.Errorf("%s offers a way back:\n%s", path, w.Body)
				}
			}
			wantStatus(t, b.post("/login/nope/back", nil), http.StatusNotFound)
		})

		t.Run("no record: back to the verifier", func(t *testing.T) {
			ch := ts.newChallenge()
			wantStatus(t, b.start(ch, mobileAsha, "Someone Else"), http.StatusSeeOther)
			w := b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}}), ch, "")
			wantBody(t, w, `>Back to Indian Rail</button>`, `action="/login/`+ch+`/cancel"`)
			wantRedirect(t, b.post("/login/"+ch+"/cancel", nil), finishURL(ch))
			if lr := wantState(t, ts, ch, store.LoginDenied); lr.DenyReason != store.DenyNoRecord {
				t.Errorf("reason = %q", lr.DenyReason)
			}
		})
	})
}
