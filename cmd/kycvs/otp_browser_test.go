package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// shot saves a phone-sized screenshot of tb's page as name.png in the
// directory KYCVS_TEST_SHOTS names (outside the repository); without it,
// nothing.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	dir := os.Getenv("KYCVS_TEST_SHOTS")
	if dir == "" {
		return
	}
	// A page that fits the screen is taken as the screen: Chromium's
	// capture beyond the viewport shifts a short right-to-left page.
	capture := chromedp.FullScreenshot(100)
	if tb.eval(`String(document.documentElement.scrollHeight <= window.innerHeight)`) == "true" {
		capture = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(tb.ctx, capture)
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// toCodePage presses Demo Airlines' button at phone size and sends a code
// to mobile for name, in lang's pages; the tab is then on the code page.
func toCodePage(tb *tab, ts *testServer, lang, mobile, name string) {
	tb.t.Helper()
	tb.do(
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(ts.DemoURL+"/demo"),
		chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")),
		chromedp.Click(chromedp.CSS("#kycvs-button button")),
		chromedp.WaitVisible(chromedp.CSS("#mobile")),
	)
	if lang != "en" {
		tb.do(
			chromedp.Click(chromedp.CSS("details.lang summary")),
			chromedp.Click(chromedp.CSS(`details.lang a[lang="`+lang+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("#mobile")),
		)
	}
	tb.shot(lang + "-1-login")
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#mobile"), mobile),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#otp")),
	)
}

// wrongCode types a code other than the one sent and waits for the page
// the answer redirects to.
func wrongCode(tb *tab, ts *testServer, mobile string) {
	tb.t.Helper()
	wrong := "000000"
	if ts.lastOTP(mobile) == wrong {
		wrong = "111111"
	}
	tb.eval(`window.kycvsOld = 'y'`)
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#otp"), wrong),
		chromedp.Click(chromedp.CSS("#otp-form button.primary")),
	)
	// A new document, loaded.
	tb.waitFor(`!window.kycvsOld && document.readyState === 'complete' && document.querySelector('h1') ? 'y' : ''`, 10*time.Second)
}

// TestOTPPageInBrowser, in headless Chromium at phone size, from Demo
// Airlines' button: a reload after a wrong code keeps the tries left and
// submits nothing; the resend countdown runs with JavaScript, and without
// it the button submits and the page says the exact wait; too many wrong
// codes end on a page whose "Back to Demo Airlines" returns access_denied
// to the airline's page; the root page in English, Hindi and Urdu.
func TestOTPPageInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
		c.Retention = DefaultRetention
	})
	// tries is how many wrong codes the challenge of tb's page counted.
	tries := func(t *testing.T, tb *tab) int {
		t.Helper()
		ch := strings.TrimPrefix(tb.eval(`location.pathname`), "/login/")
		lr, err := ts.store().GetLoginRequest(context.Background(), ch)
		if err != nil {
			t.Fatalf("challenge %q: %v", ch, err)
		}
		return lr.OTPTries
	}

	for _, lang := range []string{"en", "hi", "ur"} {
		t.Run("wrong code, reload, countdown, lockout, back: "+lang, func(t *testing.T) {
			mobile := map[string]string{"en": "9999900001", "hi": "9999900002", "ur": "9999900003"}[lang]
			person := map[string]string{"en": "Asha Verma", "hi": "Ravi Kumar", "ur": "Meera Nair"}[lang]
			tb := br.newTab(t)
			toCodePage(tb, ts, lang, mobile, person)

			// The countdown: the button waits, disabled, and counts down.
			first := tb.eval(`document.getElementById('resend').textContent`)
			if d := tb.eval(`String(document.getElementById('resend').disabled)`); d != "true" || !regexp.MustCompile(`(1:00|0:5\d)`).MatchString(first) {
				t.Fatalf("countdown: disabled %s, %q", d, first)
			}
			time.Sleep(2100 * time.Millisecond)
			if later := tb.eval(`document.getElementById('resend').textContent`); later == first || !regexp.MustCompile(`0:5\d`).MatchString(later) {
				t.Errorf("countdown did not move: %q then %q", first, later)
			}
			if got := tb.waitFor(`document.activeElement.id`, 5*time.Second); got != "otp" {
				t.Errorf("focus on %q, want the code field", got)
			}
			// The masked mobile reads left to right, also inside Urdu.
			ltr := tb.eval(`(function () {
  var n = document.querySelector('.lead strong[dir=ltr]').firstChild, r = document.createRange();
  r.setStart(n, 0); r.setEnd(n, 1); var plus = r.getBoundingClientRect().left;
  r.setStart(n, n.length - 1); r.setEnd(n, n.length); return String(plus < r.getBoundingClientRect().left);
})()`)
			if ltr != "true" {
				t.Errorf("the masked mobile does not read left to right")
			}
			tb.shot(lang + "-2-code")

			wrongCode(tb, ts, "+91"+mobile)
			left := map[string]string{"en": "You have 2 tries left.", "hi": "2", "ur": "2"}[lang]
			// autofocus applies at the page's first rendering: wait for it.
			tb.waitFor(`document.activeElement.id === 'otp' ? 'y' : ''`, 5*time.Second)
			page := tb.eval(`document.title + '|' + document.getElementById('error').textContent + '|' + location.search + '|' + document.getElementById('otp').getAttribute('aria-invalid') + '|' + document.activeElement.id`)
			if !strings.Contains(page, left) || !strings.Contains(page, "?m=wrong|true|otp") {
				t.Fatalf("after a wrong code: %q", page)
			}
			if lang == "en" && !strings.HasPrefix(page, "Error: Enter the code") {
				t.Errorf("title: %q", page)
			}
			tb.shot(lang + "-3-wrong-code")
			// Reload: the same message, no second try counted.
			tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#otp")))
			tb.waitFor(`document.activeElement.id === 'otp' ? 'y' : ''`, 5*time.Second)
			if again := tb.eval(`document.title + '|' + document.getElementById('error').textContent + '|' + location.search + '|' + document.getElementById('otp').getAttribute('aria-invalid') + '|' + document.activeElement.id`); again != page {
				t.Fatalf("after reload: %q, want %q", again, page)
			}
			if n := tries(t, tb); n != 1 {
				t.Fatalf("tries after reload = %d, want 1", n)
			}

			wrongCode(tb, ts, "+91"+mobile)
			wrongCode(tb, ts, "+91"+mobile)
			back := map[string]string{"en": "Back to Demo Airlines", "hi": "Demo Airlines पर वापस जाएँ", "ur": "Demo Airlines پر واپس جائیں"}[lang]
			if got := tb.waitFor(`(function () { var b = document.querySelector('form[action$="/back"] button'); return b ? b.textContent : ''; })()`, 5*time.Second); got != back {
				t.Fatalf("lockout page button: %q, want %q; page: %s", got, back, tb.eval(`document.body.innerText`))
			}
			if w := tb.eval(`document.documentElement.scrollWidth + ' ' + window.innerWidth + ' ' + window.scrollX + ' ' + Math.round(document.querySelector('main').getBoundingClientRect().left)`); w != "390 390 0 0" {
				t.Errorf("the lockout page: scroll width, width, scrollX %s", w)
			}
			tb.shot(lang + "-4-locked")
			tb.do(chromedp.Click(chromedp.CSS(`form[action$="/back"] button`)))
			if got := tb.waitFor(badgeJS, 20*time.Second); !strings.HasPrefix(got, "declined|") {
				t.Fatalf("Demo Airlines shows %q, want declined", got)
			}
		})
	}

	for _, lang := range []string{"hi", "ur"} {
		t.Run("error, change mobile, no record, back: "+lang, func(t *testing.T) {
			tb := br.newTab(t)
			tb.do(
				chromedp.EmulateViewport(390, 844),
				chromedp.Navigate(ts.DemoURL+"/demo"),
				chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")),
				chromedp.Click(chromedp.CSS("#kycvs-button button")),
				chromedp.WaitVisible(chromedp.CSS("#mobile")),
				chromedp.Click(chromedp.CSS("details.lang summary")),
				chromedp.Click(chromedp.CSS(`details.lang a[lang="`+lang+`"]`)),
				chromedp.WaitVisible(chromedp.CSS("#mobile")),
				chromedp.SendKeys(chromedp.CSS("#mobile"), "12"),
				chromedp.SendKeys(chromedp.CSS("#name"), "Asha Verma"),
				chromedp.Click(chromedp.CSS("form button.primary")),
				chromedp.WaitVisible(chromedp.CSS("#error")),
			)
			errorWord := map[string]string{"hi": "त्रुटि: ", "ur": "خرابی: "}[lang]
			tb.waitFor(`document.activeElement.id === 'mobile' ? 'y' : ''`, 5*time.Second)
			if got := tb.eval(`document.title + '|' + document.getElementById('mobile').getAttribute('aria-invalid') + '|' + document.getElementById('mobile').getAttribute('aria-describedby') + '|' + document.activeElement.id`); !strings.HasPrefix(got, errorWord) || !strings.HasSuffix(got, "|true|error mobile-hint|mobile") {
				t.Errorf("bad mobile: %q", got)
			}
			tb.shot(lang + "-6-login-error")
			tb.do(
				chromedp.SetValue(chromedp.CSS("#mobile"), "9999900005"),
				chromedp.Click(chromedp.CSS("form button.primary")),
				chromedp.WaitVisible(chromedp.CSS("#otp")),
				chromedp.Click(chromedp.CSS(`form[action$="/change"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#mobile")),
			)
			if got := tb.eval(`document.getElementById('mobile').value + '|' + document.getElementById('name').value`); got != "+919999900005|Asha Verma" {
				t.Errorf("after Change mobile or name: %q", got)
			}
			tb.shot(lang + "-7-changed")
			tb.do(
				chromedp.Click(chromedp.CSS("form button.primary")),
				chromedp.WaitVisible(chromedp.CSS("#otp")),
			)
			// The code sent after the change (the one before it is void);
			// Asha Verma has no record on this mobile.
			tb.do(
				chromedp.SendKeys(chromedp.CSS("#otp"), ts.lastOTP("+919999900005")),
				chromedp.Click(chromedp.CSS("#otp-form button.primary")),
				chromedp.WaitVisible(chromedp.CSS(`form[action$="/name"]`)),
			)
			back := map[string]string{"hi": "Demo Airlines पर वापस जाएँ", "ur": "Demo Airlines پر واپس جائیں"}[lang]
			if got := tb.waitFor(`(function () { var b = document.querySelector('form[action$="/cancel"] button'); return b ? b.textContent : ''; })()`, 5*time.Second); got != back {
				t.Errorf("no-record page button %q, want %q", got, back)
			}
			tb.shot(lang + "-8-no-record")
			tb.do(chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button`)))
			if got := tb.waitFor(badgeJS, 20*time.Second); !strings.HasPrefix(got, "declined|") {
				t.Fatalf("Demo Airlines shows %q, want declined", got)
			}
		})

		t.Run("expired sign-in, back: "+lang, func(t *testing.T) {
			tb := br.newTab(t)
			toCodePage(tb, ts, lang, "9999900006", "Someone")
			ch := strings.TrimPrefix(tb.eval(`location.pathname`), "/login/")
			if _, err := ts.store().UpdateLoginRequest(context.Background(), ch, func(lr *store.LoginRequest) error {
				lr.ExpiresAt = time.Now().Add(-time.Minute)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`form[action$="/back"] button`)))
			tb.shot(lang + "-9-expired")
			tb.do(chromedp.Click(chromedp.CSS(`form[action$="/back"] button`)))
			if got := tb.waitFor(badgeJS, 20*time.Second); !strings.HasPrefix(got, "declined|") {
				t.Fatalf("Demo Airlines shows %q, want declined", got)
			}
		})
	}

	t.Run("countdown without JavaScript", func(t *testing.T) {
		id, secret := ts.client(oauth.ClientSpec{})
		a := ts.newRP(id, secret).authorize()
		tb := br.newTab(t)
		if _, err := chromedp.Call(tb.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		tb.do(
			chromedp.EmulateViewport(390, 844),
			chromedp.Navigate(a.URL),
			chromedp.WaitVisible(chromedp.CSS("#mobile")),
		)
		tb.do(
			chromedp.SendKeys(chromedp.CSS("#mobile"), "9999900004"),
			chromedp.SendKeys(chromedp.CSS("#name"), "Karan Singh"),
			chromedp.Click(chromedp.CSS("form button.primary")),
			chromedp.WaitVisible(chromedp.CSS("#otp")),
		)
		text, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS("#resend")))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^New code in (5\d|60) seconds$`).MatchString(text) {
			t.Fatalf("resend button without JavaScript: %q", text)
		}
		tb.do(chromedp.Click(chromedp.CSS("#resend")), chromedp.WaitVisible(chromedp.CSS("#error")))
		msg, url, after := tb.eval(`document.getElementById('error').textContent`), tb.eval(`location.href`), tb.eval(`document.getElementById('resend').textContent`)
		tb.shot("en-10-no-javascript-wait")
		if !strings.Contains(msg, "ask for a new one when the wait is over") || !strings.HasSuffix(url, "?m=wait") || !regexp.MustCompile(`^New code in \d+ seconds$`).MatchString(after) {
			t.Fatalf("early resend: %q at %s, button %q", msg, url, after)
		}
	})

	t.Run("root page", func(t *testing.T) {
		for _, lang := range []string{"en", "hi", "ur"} {
			tb := br.newTab(t)
			tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/lang/"+lang+"?next=%2F"), chromedp.WaitVisible(chromedp.CSS("h1")))
			got := tb.eval(`document.documentElement.lang + ' ' + document.documentElement.dir + '|' + [].map.call(document.querySelectorAll('main a'), function (a) { return a.getAttribute('href'); }).join(' ') + '|' + document.querySelector('link[rel=icon]').getAttribute('href')`)
			dir := map[string]string{"en": "en ltr", "hi": "hi ltr", "ur": "ur rtl"}[lang]
			if !strings.HasPrefix(got, dir+"|/me /docs/integration|/static/icon.svg?v=") {
				t.Errorf("%s root page: %q", lang, got)
			}
			if w := tb.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
				t.Errorf("%s root page scrolls sideways at 390 px", lang)
			}
			body := tb.eval(`document.querySelector('main').innerText`)
			for _, want := range []string{"365", "15"} {
				if !strings.Contains(body, want) {
					t.Errorf("%s root page lacks %q: %s", lang, want, body)
				}
			}
			tb.shot(lang + "-5-root")
		}
		tb := br.newTab(t)
		tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/lang/ur?next=%2Fdocs%2Fintegration"), chromedp.WaitVisible(chromedp.CSS("pre.doc")))
		if w := tb.eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); w != "true" {
			t.Errorf("the guide scrolls sideways at 390 px")
		}
		tb.shot("ur-11-guide")
	})
}
