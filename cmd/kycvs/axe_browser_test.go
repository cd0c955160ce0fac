package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
)

// axe-core, pinned in testdata/axe/package.json and installed there by
// .ci/run (npm ci), checks each page against WCAG 2.1 A and AA.
const axeScript = "testdata/axe/node_modules/axe-core/axe.min.js"

// axeTags are the rule sets run: WCAG 2.0 and 2.1, levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// axeSource reads axe-core. Without it the test skips, except in CI
// (CI=true), where it fails: there it must run.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axeScript)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("axe-core is required in CI: %v (cd cmd/kycvs/testdata/axe && npm ci)", err)
		}
		t.Skipf("axe-core not installed: accessibility test skipped (cd cmd/kycvs/testdata/axe && npm ci)")
	}
	return string(b)
}

// axeViolation is the part of an axe result a failure message needs.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeCheck runs axe on the page in tb and reports each violation, with
// the nodes it found it on, as an error naming state.
func (tb *tab) axeCheck(src, state string) {
	tb.t.Helper()
	// Evaluated through the DevTools protocol, so the page's
	// Content-Security-Policy (no inline script) does not stop it.
	if tb.eval(`typeof axe`) != "object" {
		if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[any](src+";0")); err != nil {
			tb.t.Fatalf("%s: load axe-core: %v", state, err)
		}
	}
	tags, _ := json.Marshal(axeTags)
	ctx, cancel := context.WithTimeout(tb.ctx, 90*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']}).then(function (r) { return JSON.stringify(r.violations); })`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: axe.run: %v", state, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		tb.t.Fatalf("%s: axe result: %v", state, err)
	}
	for _, v := range vs {
		var nodes []string
		for _, n := range v.Nodes {
			nodes = append(nodes, fmt.Sprint(n.Target)+": "+strings.ReplaceAll(n.Summary, "\n", " "))
		}
		tb.t.Errorf("%s: axe %s (%s): %s\n\t%s", state, v.ID, v.Impact, v.Help, strings.Join(nodes, "\n\t"))
	}
}

// colorSchemes are the two colour schemes every page is checked in:
// contrast differs between them.
var colorSchemes = []string{"light", "dark"}

// axeBoth checks the page in the light and the dark colour scheme.
func (tb *tab) axeBoth(src, state string) {
	tb.t.Helper()
	for _, scheme := range colorSchemes {
		if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		}); err != nil {
			tb.t.Fatalf("%s: colour scheme %s: %v", state, scheme, err)
		}
		tb.axeCheck(src, state+" ("+scheme+")")
	}
	tb.axeShot(state)
}

// axeShot saves the page as a PNG in KYCVS_TEST_SHOTS when it is set, for a
// person to look at.
func (tb *tab) axeShot(state string) {
	dir := os.Getenv("KYCVS_TEST_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(90))
	if err != nil {
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_", "(", "", ")", "").Replace(tb.t.Name() + "-" + state)
	_ = os.WriteFile(filepath.Join(dir, name+".jpg"), png, 0o644)
}

// Every page a person sees, in English, Hindi and Urdu, and every console
// page, in English, with axe-core's WCAG 2.1 A and AA rules, in the light
// and the dark colour scheme: no violation.
func TestAccessibilityAxe(t *testing.T) {
	src := axeSource(t)
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})
	// Here the clock moves past a code's life: the expired-code state.
	staleClock := kycvstest.NewClock(time.Now())
	stale := newTestServer(t, "sqlite", func(c *serveConfig) { c.now = staleClock.Now })
	skyID, skySecret := ts.client(oauth.ClientSpec{Name: "Sky Air", Scopes: offlineScopes})
	railID, railSecret := ts.client(oauth.ClientSpec{Name: "Indian Railway Catering Co Ltd"})
	staleID, staleSecret := stale.client(oauth.ClientSpec{Name: "Sky Air"})
	// One code a day per mobile here: the send-limit states.
	limited := newTestServer(t, "sqlite", func(c *serveConfig) { c.OTPDailyLimit = 1 })
	limitedID, limitedSecret := limited.client(oauth.ClientSpec{Name: "Sky Air"})
	// Here no SMS goes out (nobody listens at the gateway's address).
	unsent := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.SMS = "webhook:http://127.0.0.1:9/sms"
		c.SMSWebhookSecret = "0123456789abcdef0123456789abcdef"
	})
	// wantAt checks that the tab is on the page a refused form redirected
	// to (post/redirect/get): its URL's query is query.
	wantAt := func(tb *tab, state, query string) {
		tb.t.Helper()
		if loc := tb.waitFor(`location.search`, 10*time.Second); loc != query {
			tb.t.Errorf("%s: the page is at %q, want %q", state, loc, query)
		}
	}

	for i, lang := range []string{"en", "hi", "ur"} {
		// Each language its own person, so no resend wait carries over.
		mobile := fmt.Sprintf("99999000%02d", 1+i)
		name := map[string]string{"9999900001": "Asha Verma", "9999900002": "Ravi Kumar", "9999900003": "Meera Nair"}[mobile]
		t.Run(lang, func(t *testing.T) {
			// A standing grant to Sky Air, for /me to list and withdraw.
			sky := ts.newRP(skyID, skySecret, offlineScopes...)
			a := sky.authorize()
			sky.finish(a, ts.newBrowser().signIn(a, mobile, name))
			tb := br.newTabFor(t, 10*time.Minute)
			submit := func(sel, text string) {
				tb.do(chromedp.SetValue(chromedp.CSS(sel), text), chromedp.Submit(chromedp.CSS(sel)))
			}
			tb.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/lang/"+lang+"?next=%2F"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "root page")

			// Sign-in, OTP and consent.
			tb.do(chromedp.Navigate(sky.authorize().URL), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			tb.axeBoth(src, "sign-in")
			submit("#mobile", "12")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			// The pages the refused form redirected to (post/redirect/get).
			wantAt(tb, "sign-in with an error", "?m=mobile")
			tb.axeBoth(src, "sign-in with an error")
			tb.do(chromedp.SetValue(chromedp.CSS("#name"), "\x01"))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			wantAt(tb, "sign-in with a name error", "?m=name")
			tb.axeBoth(src, "sign-in with a name error")
			tb.do(chromedp.SetValue(chromedp.CSS("#name"), name))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			tb.axeBoth(src, "code page, resend wait")
			submit("#otp", "000000")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			tb.axeBoth(src, "code page, wrong code")
			submit("#otp", ts.lastOTP("+91"+mobile))
			// kycvs sends the browser to the relying party (nobody answers there).
			tb.waitFor(`location.href.indexOf(`+jsString(ts.URL)+`) !== 0 ? 'y' : ''`, 15*time.Second)
			rail := ts.newRP(railID, railSecret)
			tb.do(chromedp.Navigate(rail.authorize().URL), chromedp.WaitVisible(chromedp.CSS(`button[value="share"]`)))
			tb.axeBoth(src, "consent")

			// A name the registry does not hold for the mobile.
			tb.do(chromedp.Click(chromedp.CSS(`form[action$="/switch"] button`)), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			tb.do(chromedp.SetValue(chromedp.CSS("#name"), "Nobody Here"))
			submit("#mobile", "9999900001")
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			submit("#otp", ts.lastOTP("+919999900001"))
			tb.do(chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "no record")
			// The registry did not answer the right code's check: the
			// page the answer redirects to.
			tb.do(chromedp.Navigate(tb.eval(`location.origin + location.pathname`)+"?m=registry"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "registry unavailable")

			// A send limit: the second code of the day.
			tb.do(chromedp.Navigate(limited.URL+"/lang/"+lang+"?next=%2F"), chromedp.WaitVisible(chromedp.CSS("h1")))
			for range 2 {
				tb.do(chromedp.Navigate(limited.newRP(limitedID, limitedSecret).authorize().URL), chromedp.WaitVisible(chromedp.CSS("#mobile")))
				tb.do(chromedp.SetValue(chromedp.CSS("#name"), name))
				submit("#mobile", mobile)
				tb.do(chromedp.WaitVisible(chromedp.CSS("h1")))
			}
			wantAt(tb, "send limit", "?m=limit")
			tb.axeBoth(src, "send limit")

			// Three wrong codes.
			tb.do(chromedp.Navigate(sky.authorize().URL), chromedp.WaitVisible(chromedp.CSS("h1")))
			if tb.eval(`String(!!document.querySelector('#mobile'))`) != "true" {
				tb.do(chromedp.Click(chromedp.CSS(`form[action$="/switch"] button`)), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			}
			tb.do(chromedp.SetValue(chromedp.CSS("#name"), name))
			submit("#mobile", "9999900055")
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			for range 3 {
				submit("#otp", "000000")
				time.Sleep(300 * time.Millisecond)
			}
			tb.do(chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "too many tries")

			// Error pages: a link that is no sign-in, an unknown client, no
			// such page.
			tb.do(chromedp.Navigate(ts.URL+"/login/no-such-challenge"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "bad link")
			tb.do(chromedp.Navigate(ts.URL+"/oauth2/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=abcdefgh"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "unknown client")
			tb.do(chromedp.Navigate(ts.URL+"/no-such-page"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, "not found")

			// An expired code.
			tb.do(chromedp.Navigate(stale.URL+"/lang/"+lang+"?next=%2F"), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.do(chromedp.Navigate(stale.newRP(staleID, staleSecret).authorize().URL), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			tb.do(chromedp.SetValue(chromedp.CSS("#name"), name))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			code := stale.lastOTP("+91" + mobile)
			staleClock.Advance(stale.cfg.OTPTTL + time.Second)
			submit("#otp", code)
			tb.do(chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.waitFor(`location.search.indexOf('m=expired') >= 0 ? 'y' : ''`, 10*time.Second)
			tb.axeBoth(src, "code expired")

			// The person's own page.
			tb.do(chromedp.Navigate(ts.URL+"/me"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			tb.axeBoth(src, "me sign-in")
			submit("#mobile", "12")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			wantAt(tb, "me sign-in with an error", "?m=mobile")
			tb.axeBoth(src, "me sign-in with an error")
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
			tb.axeBoth(src, "me code")
			submit("#otp", "000000")
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			tb.axeBoth(src, "me code wrong")
			// A second code at once: the resend wait's page; the first
			// code still works.
			tb.do(chromedp.Navigate(ts.URL+"/me"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			wantAt(tb, "me resend wait", "?m=soon")
			tb.axeBoth(src, "me resend wait")
			tb.do(chromedp.Navigate(ts.URL+"/me/code"), chromedp.WaitVisible(chromedp.CSS("#otp")))
			submit("#otp", ts.lastOTP("+91"+mobile))
			tb.do(chromedp.WaitVisible(chromedp.CSS("#grants")))
			tb.axeBoth(src, "me page")
			tb.toNewPage(".notice", chromedp.Click(chromedp.CSS(`#grants ~ .item button`)))
			tb.axeBoth(src, "me after withdrawal")

			// A send limit (the code of the day went to the sign-in
			// above), and an SMS that could not be sent.
			tb.do(chromedp.Navigate(limited.URL+"/me"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			wantAt(tb, "me send limit", "?m=limit")
			tb.axeBoth(src, "me send limit")
			tb.do(chromedp.Navigate(unsent.URL+"/lang/"+lang+"?next=%2Fme"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
			submit("#mobile", mobile)
			tb.do(chromedp.WaitVisible(chromedp.CSS(".alert")))
			wantAt(tb, "me SMS not sent", "?m=unsent")
			tb.axeBoth(src, "me SMS not sent")

			// Demo Airlines, in its own language switch's language.
			tb.do(chromedp.Navigate(ts.DemoURL+"/demo"), chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")))
			tb.axeBoth(src, "demo airline")
		})
	}

	t.Run("console", func(t *testing.T) {
		// An owner, who may open every page, signs in with an
		// authenticator app too.
		const adminMobile = "9999900010"
		if _, err := cliService(ts.store(), testSecret, nil).AddAdminUser(context.Background(), cliActor(), adminMobile, "Zoya Khan", admin.RoleOwner); err != nil {
			t.Fatal(err)
		}
		enrolled, err := cliService(ts.store(), testSecret, nil).EnrollTOTP(context.Background(), cliActor(), adminMobile)
		if err != nil {
			t.Fatal(err)
		}
		tb := br.newTabFor(t, 10*time.Minute)
		submit := func(sel, text string) {
			tb.do(chromedp.SetValue(chromedp.CSS(sel), text), chromedp.Submit(chromedp.CSS(sel)))
		}
		tb.do(chromedp.Navigate(ts.URL+"/admin"), chromedp.WaitVisible(chromedp.CSS("#mobile")))
		tb.axeBoth(src, "sign-in")
		submit("#mobile", "12")
		tb.do(chromedp.WaitVisible(chromedp.CSS("h1")))
		tb.axeBoth(src, "sign-in with an error")
		submit("#mobile", adminMobile)
		tb.do(chromedp.WaitVisible(chromedp.CSS("#otp")))
		tb.axeBoth(src, "code")
		submit("#otp", ts.lastOTP("+91"+adminMobile))
		tb.do(chromedp.WaitVisible(chromedp.CSS("#totp")))
		tb.axeBoth(src, "authenticator code")
		code, err := totp.GenerateCode(enrolled.Secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		submit("#totp", code)
		// The sign-in may take longer than one step's 15 s on a busy machine.
		tb.waitFor(`document.querySelector('nav.sections') ? 'y' : ''`, time.Minute)
		tb.axeBoth(src, "dashboard")
		for _, path := range []string{"/admin/clients", "/admin/clients/new", "/admin/clients/" + skyID, "/admin/initial-tokens",
			"/admin/registry", "/admin/registry?mobile=9999900001", "/admin/registry?mobile=12", "/admin/registry/new", "/admin/registry/demo-asha",
			"/admin/disclosures", "/admin/keys", "/admin/audit", "/admin/no-such-page"} {
			tb.do(chromedp.Navigate(ts.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
			tb.axeBoth(src, path)
		}
		// What a form answers: a new client's secret, a rotated one, an
		// invalid form.
		tb.do(chromedp.Navigate(ts.URL+"/admin/clients/new"), chromedp.WaitVisible(chromedp.CSS("#name")))
		tb.do(chromedp.SetValue(chromedp.CSS("#redirect_uris"), "not a URL"))
		tb.toNewPage("h1", chromedp.Submit(chromedp.CSS("#name")))
		tb.axeBoth(src, "new client, invalid")
		tb.do(chromedp.Navigate(ts.URL+"/admin/clients/new"), chromedp.WaitVisible(chromedp.CSS("#name")))
		tb.do(chromedp.SetValue(chromedp.CSS("#redirect_uris"), "http://127.0.0.1:9/callback"))
		submit("#name", "Example Air")
		tb.do(chromedp.WaitVisible(chromedp.CSS("#client-secret")))
		// The page the form redirected to, which shows the secret once.
		if loc := tb.eval(`location.search`); !strings.HasPrefix(loc, "?shown=") {
			t.Errorf("the new secret's page is at %q", loc)
		}
		tb.axeBoth(src, "new client, its secret")
		tb.toNewPage("#client-secret", chromedp.Click(chromedp.CSS(`form[action$="/rotate-secret"] button`)))
		tb.axeBoth(src, "rotated secret")
		tb.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
		tb.axeBoth(src, "secret shown already")
	})
}
