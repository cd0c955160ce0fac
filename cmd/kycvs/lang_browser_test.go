package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A complete verification in Hindi from Demo Airlines' button: the person
// picks हिन्दी with the switch on kycvs's first page, and every page after
// it, and the SMS, are in Hindi; a code typed in Devanagari digits is
// accepted; the airline gets the status. Then an Urdu page is right to
// left and mirrored: the language switch sits at the left edge.
func TestLanguagesInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})

	t.Run("Hindi verification", func(t *testing.T) {
		tb := br.newTab(t)
		tb.do(
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(ts.DemoURL+"/demo"),
			chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")),
			chromedp.Click(chromedp.CSS("#kycvs-button button")),
			chromedp.WaitVisible(chromedp.CSS("#mobile")),
		)
		// The switch is a disclosure: open it, pick Hindi.
		tb.do(
			chromedp.Click(chromedp.CSS("details.lang summary")),
			chromedp.Click(chromedp.CSS(`details.lang a[lang="hi"]`)),
			chromedp.WaitVisible(chromedp.CSS("#mobile")),
		)
		if got := tb.eval(`document.documentElement.lang + ' ' + document.documentElement.dir + ' ' + document.querySelector('h1').textContent`); got != "hi ltr अपनी टीकाकरण स्थिति साझा करें" {
			t.Fatalf("first page after the pick: %q", got)
		}
		tb.do(
			chromedp.SendKeys(chromedp.CSS("#mobile"), "9999900001"),
			chromedp.SendKeys(chromedp.CSS("#name"), "Asha Verma"),
			chromedp.Click(chromedp.CSS("form button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#otp")),
		)
		if got := tb.eval(`document.documentElement.lang + ' ' + document.querySelector('h1').textContent`); got != "hi कोड दर्ज करें" {
			t.Fatalf("code page: %q", got)
		}
		code := ts.lastOTP("+919999900001")
		devanagari := strings.Map(func(r rune) rune { return r - '0' + '०' }, code)
		tb.do(
			chromedp.SendKeys(chromedp.CSS("#otp"), devanagari),
			chromedp.Click(chromedp.CSS("form button.primary")),
		)
		if got := tb.waitFor(badgeJS, 20*time.Second); !strings.HasPrefix(got, "verified|2|") {
			t.Fatalf("badge: %q", got)
		}
	})

	t.Run("Urdu page right to left", func(t *testing.T) {
		tb := br.newTab(t)
		tb.do(
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(ts.URL+"/lang/ur?next=%2Fno-such-page"),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		)
		if got := tb.eval(`document.documentElement.lang + ' ' + document.documentElement.dir + ' ' + getComputedStyle(document.body).direction`); got != "ur rtl rtl" {
			t.Fatalf("<html>: %q", got)
		}
		if got := tb.eval(`document.querySelector('h1').textContent`); got != "صفحہ نہیں ملا" {
			t.Fatalf("heading: %q", got)
		}
		// Mirrored: the brand starts at the right edge, the switch sits at
		// the left.
		mirrored := tb.eval(`(function () {
  var brand = document.querySelector('.brand').getBoundingClientRect();
  var sw = document.querySelector('details.lang').getBoundingClientRect();
  return String(brand.left > sw.left && brand.right > window.innerWidth / 2);
})()`)
		if mirrored != "true" {
			t.Fatalf("the header is not mirrored")
		}
		if w := tb.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
			t.Fatalf("the page scrolls sideways at 390 px")
		}
	})
}
