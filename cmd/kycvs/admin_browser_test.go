package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/kycvs/kycvs/admin"
)

// An admin in headless Chromium: signs in to the console with the OTP sent
// to their mobile, registers a client (its secret shown once, with a copy
// button), rotates its secret, and after a person verified with the new
// secret, finds the verification in the disclosure log. Then the console
// on a phone-sized screen.
func TestAdminConsoleInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	const adminMobile = "9999900010"
	if _, err := cliService(ts.store(), testSecret, nil).AddAdminUser(context.Background(), cliActor(), adminMobile, "Zoya Khan", admin.RoleOwner); err != nil {
		t.Fatal(err)
	}
	// An owner signs in with an authenticator too.
	enrolled, err := cliService(ts.store(), testSecret, nil).EnrollTOTP(context.Background(), cliActor(), adminMobile)
	if err != nil {
		t.Fatal(err)
	}
	tb := br.newTab(t)
	text := func(sel string) string {
		return tb.waitFor(`(function () { var e = document.querySelector(`+jsString(sel)+`); return e ? e.textContent.trim() : ''; })()`, 15*time.Second)
	}

	// Sign in with the OTP.
	tb.do(
		chromedp.Navigate(ts.URL+"/admin"),
		chromedp.WaitVisible(chromedp.CSS("#mobile")),
		chromedp.SendKeys(chromedp.CSS("#mobile"), adminMobile),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#otp")),
	)
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#otp"), ts.lastOTP("+91"+adminMobile)),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#totp")),
	)
	code, err := totp.GenerateCode(enrolled.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#totp"), code),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("nav.sections")),
	)
	if who := text(".top .who"); who != "Zoya Khan · owner" {
		t.Fatalf("signed in as %q", who)
	}

	// Register a client; the secret is on the page once, with a copy button
	// whose script runs under the Content-Security-Policy.
	tb.do(
		chromedp.Navigate(ts.URL+"/admin/clients/new"),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Example Air"),
		chromedp.SendKeys(chromedp.CSS("#redirect_uris"), "http://127.0.0.1:9/callback"),
		chromedp.Click(chromedp.CSS("form.client-form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")),
	)
	first := text("#client-secret")
	clientID := text("main > p code")
	if len(first) < 43 || clientID == "" {
		t.Fatalf("secret %q, client %q", first, clientID)
	}
	tb.do(chromedp.Click(chromedp.CSS("button[data-copy]")))
	if status := text("#copy-status"); status == "" {
		t.Fatal("the copy button did nothing")
	}

	// Rotate the secret (the old one keeps working a day by default).
	tb.do(
		chromedp.Navigate(ts.URL+"/admin/clients/"+clientID),
		chromedp.WaitVisible(chromedp.CSS("#grace")),
		chromedp.Click(chromedp.CSS(`form[action$="/rotate-secret"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")),
	)
	second := text("#client-secret")
	if second == first || len(second) < 43 {
		t.Fatalf("rotated secret %q", second)
	}
	if !strings.Contains(tb.eval(`document.body.textContent`), "Previous secrets still work until") {
		t.Error("the page does not say until when the old secret works")
	}
	// The rotation answered with a redirect: the page is a GET whose URL
	// names no secret, and reloading it shows the secret no more.
	if loc := tb.eval(`location.pathname + location.search`); !strings.HasPrefix(loc, "/admin/clients/"+clientID+"?shown=") || strings.Contains(loc, second) {
		t.Errorf("the secret's page is at %q", loc)
	}
	tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#grace")))
	if body := tb.eval(`document.body.textContent`); strings.Contains(body, second) || !strings.Contains(body, "The secret was shown once") {
		t.Error("a reload shows the secret again, or does not say it was shown")
	}

	// A person verifies through a relying party using the new secret.
	r := ts.newRP(clientID, second)
	a := r.authorize()
	v := r.finish(a, ts.newBrowser().signIn(a, "9999900001", "Asha Verma"))
	if v.Status != 2 {
		t.Fatalf("verification: status %d", v.Status)
	}

	// The admin finds it in the disclosure log, filtered by client and status.
	tb.do(
		chromedp.Navigate(ts.URL+"/admin/disclosures"),
		chromedp.WaitVisible(chromedp.CSS("#client_id")),
		chromedp.SetValue(chromedp.CSS("#client_id"), clientID),
		chromedp.SetValue(chromedp.CSS("#status"), "2"),
		chromedp.Click(chromedp.CSS("form.filters button")),
	)
	tb.waitFor(`location.search.indexOf('status=2') >= 0 && document.readyState === 'complete' && document.querySelector('#disclosures tbody tr') ? 'yes' : ''`, 15*time.Second)
	// The sign-in's disclosure and the relying party's userinfo call.
	rows := tb.eval(`Array.from(document.querySelectorAll('#disclosures tbody tr')).map(function (r) { return r.textContent; }).join('\n')`)
	if strings.Count(rows, clientID) != 2 || strings.Count(rows, "fully vaccinated") != 2 || !strings.Contains(rows, "authorize") || !strings.Contains(rows, "userinfo") {
		t.Fatalf("disclosure log rows: %q", rows)
	}
	if href := tb.eval(`document.querySelector('a[download]').getAttribute('href')`); !strings.Contains(href, "client_id="+clientID) {
		t.Errorf("export link %q does not keep the filters", href)
	}

	// On a phone-sized screen nothing is wider than the screen but the
	// tables, which scroll in their own box.
	fits := `(function () { var d = document.documentElement; return d.scrollWidth <= d.clientWidth ? 'fits' : d.scrollWidth + ' > ' + d.clientWidth; })()`
	for _, path := range []string{"/admin", "/admin/clients/" + clientID, "/admin/disclosures", "/admin/keys", "/admin/audit"} {
		tb.do(chromedp.EmulateViewport(360, 740), chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if w := tb.eval(fits); w != "fits" {
			t.Errorf("%s on a 360 px screen: %s px", path, w)
		}
		if small := tb.eval(smallTargetsJS); small != "" {
			t.Errorf("%s on a 360 px screen: targets under 44 px: %s", path, small)
		}
		tb.screenshot(t, "phone"+strings.ReplaceAll(path, "/", "_"))
	}
	tb.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ts.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	tb.screenshot(t, "laptop_admin")
}

// screenshot saves the page as NAME.png in KYCVS_TEST_SCREENSHOTS, when
// that is set, for a person to look at.
func (tb *tab) screenshot(t *testing.T, name string) {
	dir := os.Getenv("KYCVS_TEST_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
