package admin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/otp"
)

// startSignIn posts mobile on the sign-in page and returns the code page.
func (b *browser) startSignIn(ts *testServer, mobile string) kycvstest.Page {
	b.t.Helper()
	return b.Submit(b.Get("/admin/login"), "/admin/login", url.Values{"mobile": {mobile}})
}

// The console's limits per mobile: ConsoleHourlyLimit codes an hour and
// ConsoleDailyLimit a day, for an admin's mobile and any other alike, and
// reaching them raises the lockout alert.
func TestConsoleLimits(t *testing.T) {
	ts := newTestServerWith(t, "sqlite", func(*otp.Config) {})
	ts.addUser("9999900010", admin.RoleViewer)
	for _, mobile := range []string{"9999900010", "9999900099"} {
		for i := range otp.ConsoleHourlyLimit {
			ts.clock.Advance(time.Minute) // past the resend wait
			if p := ts.browser().startSignIn(ts, mobile); p.URL.Path != "/admin/login/otp" {
				t.Fatalf("%s: code %d refused: %d %s", mobile, i+1, p.Status, p.Body)
			}
		}
		ts.clock.Advance(time.Minute)
		p := ts.browser().startSignIn(ts, mobile)
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many codes") || p.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: code %d in an hour: %d %s", mobile, otp.ConsoleHourlyLimit+1, p.Status, p.Body)
		}
	}
	if n := ts.lockouts.count("limit"); n != 2 {
		t.Errorf("lockout counter (limit) = %d, want 2", n)
	}
	if es := ts.auditActions("console.lockout"); len(es) != 1 {
		t.Errorf("%d lockout audit entries, want 1 (the admin's)", len(es))
	}
	// A day holds ConsoleDailyLimit codes, however spread.
	sent := otp.ConsoleHourlyLimit
	for sent < otp.ConsoleDailyLimit {
		ts.clock.Advance(time.Hour)
		for range otp.ConsoleHourlyLimit {
			if sent == otp.ConsoleDailyLimit {
				break
			}
			ts.clock.Advance(time.Minute)
			if p := ts.browser().startSignIn(ts, "9999900010"); p.URL.Path != "/admin/login/otp" {
				t.Fatalf("code %d of the day refused: %d", sent+1, p.Status)
			}
			sent++
		}
	}
	ts.clock.Advance(time.Hour)
	if p := ts.browser().startSignIn(ts, "9999900010"); p.Status != http.StatusTooManyRequests {
		t.Fatalf("code %d in a day: %d", otp.ConsoleDailyLimit+1, p.Status)
	}
}

// Wrong codes lock the sign-in and raise the alarm: a WARN line without
// the mobile, an audit entry, the lockout counter.
func TestConsoleLockoutAlert(t *testing.T) {
	ts := newTestServer(t, "sqlite")
	u := ts.addUser("9999900010", admin.RoleViewer)
	ts.clock.Advance(time.Minute)
	b := ts.browser()
	p := b.startSignIn(ts, "9999900010")
	for i := range 3 {
		p = b.Submit(p, "/admin/login/otp", url.Values{"otp": {"00000" + string(rune('0'+i))}})
	}
	if p.Status != http.StatusForbidden {
		t.Fatalf("third wrong code: %d", p.Status)
	}
	if n := ts.lockouts.count("codes"); n != 1 {
		t.Errorf("lockout counter (codes) = %d, want 1", n)
	}
	es := ts.audit("admin_user", u.ID)
	if len(es) == 0 || es[0].Action != "console.lockout" {
		t.Fatalf("audit: %+v", es)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "sign-in locked out") {
		t.Errorf("no WARN line for the lockout:\n%s", logs)
	}
	scrubbed := withoutRandomFields(logs)
	for _, form := range []string{"9999900010", "+919999900010", "0010"} {
		if strings.Contains(scrubbed, form) {
			t.Errorf("the log holds the mobile (%s)", form)
		}
	}
}

// The second factor: an owner needs an authenticator; other roles once
// they enrolled one; a wrong or used code is refused, the third locks the
// sign-in.
func TestConsoleTOTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, ts *testServer) {
		ctx := t.Context()
		ts.addUser("9999900020", admin.RoleViewer)
		owner := ts.addUser("9999900010", admin.RoleOwner) // enrolled

		t.Run("an owner without an authenticator cannot sign in", func(t *testing.T) {
			if err := ts.svc.RemoveTOTP(ctx, cliActor, "9999900010"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ts.enrollTOTP("9999900010") })
			ts.clock.Advance(time.Minute)
			b := ts.browser()
			p := b.Submit(b.startSignIn(ts, "9999900010"), "/admin/login/otp", url.Values{"otp": {ts.sms.LastCode(t, "+919999900010")}})
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "kycvs admin totp enroll") {
				t.Fatalf("owner without TOTP: %d %s", p.Status, p.Body)
			}
			if p := b.Get("/admin"); p.URL.Path != "/admin/login" {
				t.Error("signed in without an authenticator")
			}
		})

		t.Run("other roles sign in without one, and need it once enrolled", func(t *testing.T) {
			ts.browser().signIn(ts, "9999900020") // no TOTP step
			ts.enrollTOTP("9999900020")
			ts.clock.Advance(time.Minute)
			b := ts.browser()
			p := b.Submit(b.startSignIn(ts, "9999900020"), "/admin/login/otp", url.Values{"otp": {ts.sms.LastCode(t, "+919999900020")}})
			if p.URL.Path != "/admin/login/totp" || !strings.Contains(p.Body, `name="totp"`) {
				t.Fatalf("after the SMS code: %s %s", p.URL.Path, p.Body)
			}
			if p := b.Get("/admin"); p.URL.Path != "/admin/login" {
				t.Error("signed in before the authenticator code")
			}
			if p := b.Submit(p, "/admin/login/totp", url.Values{"totp": {ts.totpCode("9999900020")}}); p.URL.Path != "/admin" {
				t.Fatalf("with the authenticator code: %s", p.URL.Path)
			}
		})

		t.Run("an owner signs in with both", func(t *testing.T) {
			dash := ts.browser().signIn(ts, "9999900010")
			if !strings.Contains(dash.Body, "owner") {
				t.Fatal(dash.Body)
			}
			if es := ts.audit("admin_user", owner.ID); len(es) == 0 || es[0].Action != "console.sign_in" {
				t.Errorf("audit: %+v", es)
			}
		})

		t.Run("a code used once is refused within its window", func(t *testing.T) {
			// Two sign-ins reach the authenticator step (someone who saw
			// the code has a sign-in of their own).
			ts.clock.Advance(time.Minute)
			first := ts.browser()
			p1 := first.startSignIn(ts, "9999900010")
			code1 := ts.sms.LastCode(t, "+919999900010")
			ts.clock.Advance(time.Minute)
			second := ts.browser()
			p2 := second.startSignIn(ts, "9999900010")
			p2 = second.Submit(p2, "/admin/login/otp", url.Values{"otp": {ts.sms.LastCode(t, "+919999900010")}})
			p1 = first.Submit(p1, "/admin/login/otp", url.Values{"otp": {code1}})
			if p1.URL.Path != "/admin/login/totp" || p2.URL.Path != "/admin/login/totp" {
				t.Fatalf("authenticator steps: %s, %s", p1.URL.Path, p2.URL.Path)
			}
			code := ts.totpCode("9999900010")
			if p := first.Submit(p1, "/admin/login/totp", url.Values{"totp": {code}}); p.URL.Path != "/admin" {
				t.Fatalf("first use: %s", p.URL.Path)
			}
			p := second.Submit(p2, "/admin/login/totp", url.Values{"totp": {code}})
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "used already") {
				t.Fatalf("replayed code: %d %s", p.Status, p.Body)
			}
		})

		t.Run("wrong codes lock the sign-in", func(t *testing.T) {
			ts.clock.Advance(time.Minute)
			b := ts.browser()
			p := b.Submit(b.startSignIn(ts, "9999900010"), "/admin/login/otp", url.Values{"otp": {ts.sms.LastCode(t, "+919999900010")}})
			before := ts.lockouts.count("totp")
			p = b.Submit(p, "/admin/login/totp", url.Values{"totp": {"000000"}})
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "2 tries left") {
				t.Fatalf("first wrong code: %d %s", p.Status, p.Body)
			}
			p = b.Submit(p, "/admin/login/totp", url.Values{"totp": {"not a code"}})
			p = b.Submit(p, "/admin/login/totp", url.Values{"totp": {"999999"}})
			if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Too many wrong codes") {
				t.Fatalf("third wrong code: %d %s", p.Status, p.Body)
			}
			if ts.lockouts.count("totp") != before+1 {
				t.Error("no lockout alert")
			}
			// Even the right code does nothing now.
			if p := b.Get("/admin/login/totp"); p.URL.Path != "/admin/login" {
				t.Errorf("the dead sign-in still asks for a code: %s", p.URL.Path)
			}
		})
	})
}
