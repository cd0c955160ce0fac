package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kycvs/kycvs/oauth"
)

// focusedJS names the focused element: its id, or its text.
const focusedJS = `(function () { var e = document.activeElement; return e ? (e.id || e.textContent.trim()) : ''; })()`

// tabTo presses Tab until the focused element's id or text starts with
// want, at most 60 times, and checks the focus is visible.
func (tb *tab) tabTo(want string) {
	tb.t.Helper()
	for range 60 {
		tb.do(chromedp.KeyEvent(kb.Tab))
		if strings.HasPrefix(tb.eval(focusedJS), want) {
			if o := tb.eval(`getComputedStyle(document.activeElement).outlineStyle`); o == "none" || o == "" {
				tb.t.Errorf("the focus on %q is not visible (outline %q)", want, o)
			}
			return
		}
	}
	tb.t.Fatalf("Tab never reached %q", want)
}

// /me with the keyboard alone, at phone size: the mobile field has the
// focus, Enter sends the code, the code field has the focus, Enter signs
// in, Tab reaches Withdraw with a visible focus, Enter withdraws (the
// relying party's next refresh fails), Tab and Enter sign out.
func TestOwnPageKeyboardOnly(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	skyID, skySecret := ts.client(oauth.ClientSpec{Name: "Sky Air", Scopes: offlineScopes})
	sky := ts.newRP(skyID, skySecret, offlineScopes...)
	a := sky.authorize()
	v := sky.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))

	tb := br.newTab(t)
	tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/me"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	if got := tb.eval(focusedJS); got != "mobile" {
		t.Fatalf("focus on the sign-in page: %q", got)
	}
	tb.do(chromedp.KeyEvent("9999900001"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#otp")))
	if got := tb.eval(focusedJS); got != "otp" {
		t.Fatalf("focus on the code page: %q", got)
	}
	tb.do(chromedp.KeyEvent(ts.lastOTP("+919999900001")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#grants")))
	if small := tb.eval(smallTargetsJS); small != "" {
		t.Errorf("/me signed in at 390 px: targets under 44 px: %s", small)
	}
	tb.tabTo("Withdraw access of Sky Air")
	tb.do(chromedp.KeyEvent(kb.Enter))
	if got := tb.waitFor(`(document.querySelector('.notice') || {}).textContent || ''`, 10*time.Second); !strings.Contains(got, "can no longer read your status") {
		t.Fatalf("after Withdraw: %q", got)
	}
	expired := *v.Token
	expired.Expiry = time.Now().Add(-time.Minute)
	if _, err := sky.conf.TokenSource(context.Background(), &expired).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh after the withdrawal: %v", err)
	}
	tb.tabTo("Sign out")
	tb.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	if got := tb.eval(`document.querySelector('.notice').textContent`); got != "You are signed out." {
		t.Fatalf("after sign-out: %q", got)
	}
	if w := tb.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
		t.Error("/me scrolls sideways at 390 px")
	}
	if small := tb.eval(smallTargetsJS); small != "" {
		t.Errorf("/me at 390 px: targets under 44 px: %s", small)
	}
}

// Screenshots of every state of /me at phone size in Hindi and Urdu, for
// people to look at: written to $KYCVS_TEST_SHOTS (skipped without it).
// Urdu pages are also checked to be right to left and not to scroll
// sideways.
func TestOwnPageScreenshots(t *testing.T) {
	dir := os.Getenv("KYCVS_TEST_SHOTS")
	if dir == "" {
		t.Skip("KYCVS_TEST_SHOTS not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	br := newChrome(t)
	// No resend wait: each language signs the same mobiles in again.
	ts := newTestServer(t, "sqlite", func(c *serveConfig) { c.OTPResendInterval = 0 })
	// One code a day per mobile, for the send limit's page.
	limited := newTestServer(t, "sqlite", func(c *serveConfig) { c.OTPResendInterval, c.OTPDailyLimit = 0, 1 })
	skyID, skySecret := ts.client(oauth.ClientSpec{Name: "Sky Air", Scopes: offlineScopes})
	railID, railSecret := ts.client(oauth.ClientSpec{Name: "Indian Railway Catering Co Ltd"})
	for _, name := range []string{"Asha Verma", "Arjun Verma"} {
		sky := ts.newRP(skyID, skySecret, offlineScopes...)
		a := sky.authorize()
		sky.finish(a, ts.newBrowser().signIn(a, "9999900001", name))
	}
	rail := ts.newRP(railID, railSecret)
	a := rail.authorize()
	rail.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))

	for _, lang := range []string{"hi", "ur"} {
		t.Run(lang, func(t *testing.T) {
			tb := br.newTab(t)
			n := 0
			shot := func(state string) {
				t.Helper()
				ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
				defer cancel()
				// The whole page when it is longer than the screen; the
				// screen otherwise (Chromium shifts a short right-to-left
				// page when capturing beyond the viewport).
				capture := chromedp.CaptureScreenshot()
				if tb.eval(`String(document.documentElement.scrollHeight > innerHeight)`) == "true" {
					capture = chromedp.FullScreenshot(100)
				}
				png, err := chromedp.Run(ctx, capture)
				if err != nil {
					t.Fatal(err)
				}
				n++
				name := filepath.Join(dir, lang+"-"+strconv.Itoa(n)+"-"+state+".png")
				if err := os.WriteFile(name, png, 0o644); err != nil {
					t.Fatal(err)
				}
				if got := tb.eval(`document.documentElement.lang + ' ' + document.documentElement.dir`); got != lang+map[string]string{"hi": " ltr", "ur": " rtl"}[lang] {
					t.Errorf("%s: <html> %q", state, got)
				}
				if w := tb.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
					t.Errorf("%s scrolls sideways at 390 px", state)
				}
			}
			submit := func(sel, text string) {
				tb.do(chromedp.SetValue(chromedp.CSS(sel), text), chromedp.Submit(chromedp.CSS(sel)))
			}
			tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/lang/"+lang+"?next=%2Fme"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			shot("signin")
			submit("#mobile", "12")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			shot("signin-bad-mobile")
			submit("#mobile", "9999900001")
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			shot("code")
			submit("#otp", "000000")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			shot("code-wrong")
			submit("#otp", ts.lastOTP("+919999900001"))
			tb.do(chromedp.WaitVisible(chromedp.CSS("#grants")))
			shot("page")
			tb.toNewPage(".notice", chromedp.Click(chromedp.CSS(`#grants ~ .item button`)))
			shot("page-withdrawn")
			tb.toNewPage(".notice", chromedp.Click(chromedp.CSS(`form[action="/me/signout"] button`)))
			shot("signed-out")
			// Three wrong codes stop a sign-in.
			submit("#mobile", "9999900055")
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			for range 3 {
				submit("#otp", "000000")
				time.Sleep(300 * time.Millisecond)
			}
			tb.do(chromedp.WaitVisible(chromedp.CSS("#mobile")))
			shot("signin-locked")
			// A mobile nobody registered: an empty page.
			submit("#mobile", "9999900055")
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			submit("#otp", ts.lastOTP("+919999900055"))
			tb.do(chromedp.WaitVisible(chromedp.CSS("#grants")))
			shot("page-empty")
			// A send limit: the day's one code went out, the next is refused.
			mobile := map[string]string{"hi": "9999900061", "ur": "9999900062"}[lang]
			for range 2 {
				tb.do(chromedp.Navigate(limited.URL+"/me"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
				submit("#mobile", mobile)
				tb.do(chromedp.WaitVisible(chromedp.CSS("#otp, .alert")))
			}
			shot("signin-limit")
		})
	}
}
