package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/kycvs/kycvs/oauth"
)

// A sign-in with the keyboard alone, at phone size: Tab reaches the mobile
// and name fields with a visible focus, Enter sends the code, Tab reaches
// the code field, Enter shares; then another verifier's consent screen,
// where Tab reaches Share and Space presses it. Every step ends at the
// relying party.
func TestSignInKeyboardOnly(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	skyID, skySecret := ts.client(oauth.ClientSpec{Name: "Sky Air"})
	railID, railSecret := ts.client(oauth.ClientSpec{Name: "Indian Railway Catering Co Ltd"})
	tb := br.newTabFor(t, 3*time.Minute)
	leftKycvs := `location.href.indexOf(` + jsString(ts.URL) + `) !== 0 ? 'y' : ''`

	tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.newRP(skyID, skySecret).authorize().URL), chromedp.WaitVisible(chromedp.CSS("#mobile")))
	tb.tabTo("mobile")
	tb.do(chromedp.KeyEvent("9999900001"))
	tb.tabTo("name")
	tb.do(chromedp.KeyEvent("Asha Verma"), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#otp")))
	tb.tabTo("otp")
	tb.do(chromedp.KeyEvent(ts.lastOTP("+919999900001")), chromedp.KeyEvent(kb.Enter))
	tb.waitFor(leftKycvs, 15*time.Second)

	tb.do(chromedp.Navigate(ts.newRP(railID, railSecret).authorize().URL), chromedp.WaitVisible(chromedp.CSS(`button[value="share"]`)))
	// Shift+Tab moves the focus back off Share; Tab returns to it.
	tb.tabTo("Share as Asha Verma")
	tb.do(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	if got := tb.eval(focusedJS); strings.HasPrefix(got, "Share as") {
		t.Fatalf("Shift+Tab left the focus on %q", got)
	}
	tb.tabTo("Share as Asha Verma")
	tb.do(chromedp.KeyEvent(" "))
	tb.waitFor(leftKycvs, 15*time.Second)
}
