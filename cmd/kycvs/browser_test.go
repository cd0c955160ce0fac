package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/kycvs/kycvs/oauth"
)

// The browser tests drive headless Chromium through the button, as a
// person would: click, sign in in the popup, read what the page shows.

// chromiumPath finds the browser. Without one the browser tests skip,
// except in CI (CI=true), where they fail: there they must run.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("KYCVS_TEST_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is required for the browser tests in CI (apt-get install chromium)")
	}
	t.Skip("chromium not found: browser tests skipped (set KYCVS_TEST_CHROMIUM to run them)")
	return ""
}

// chrome is one headless Chromium for a test.
type chrome struct {
	ctx context.Context
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	path := chromiumPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &chrome{ctx: ctx}
}

// tab is a page in a browser context of its own (no cookies shared with
// other tabs), or a popup of one. It records what the console reports.
type tab struct {
	t   *testing.T
	ctx context.Context
	log *consoleLog
}

type consoleLog struct {
	mu       sync.Mutex
	messages []string
}

func (l *consoleLog) add(m string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.messages = append(l.messages, m)
}

// problems are console messages that mean the integration is broken: a
// Content-Security-Policy or Subresource Integrity refusal, or a script
// error. (A missing favicon is not one.)
func (l *consoleLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.messages {
		if strings.Contains(m, "Content Security Policy") || strings.Contains(m, "integrity") || strings.HasPrefix(m, "exception") {
			out = append(out, m)
		}
	}
	return out
}

func (c *chrome) newTab(t *testing.T) *tab {
	t.Helper()
	return c.newTabFor(t, 60*time.Second)
}

// newTabFor is newTab for a tab that may live up to d.
func (c *chrome) newTabFor(t *testing.T, d time.Duration) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, d)
	tb := &tab{t: t, ctx: ctx, log: &consoleLog{}}
	tb.watch()
	t.Cleanup(func() {
		for _, p := range tb.log.problems() {
			t.Errorf("browser console: %s", p)
		}
		cancelTimeout()
		cancel()
	})
	return tb
}

func (tb *tab) watch() {
	msgs := chromedp.Console(tb.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			tb.log.add(m.String())
		}
	}()
}

// do runs steps, failing the test if they take more than 15 seconds.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("browser: %v\nconsole: %s", err, strings.Join(tb.log.messages, "\n"))
	}
}

// eval evaluates a JavaScript expression; "" when it cannot (for example
// in the middle of a navigation).
func (tb *tab) eval(expr string) string {
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		return ""
	}
	return v
}

// waitFor evaluates expr until it gives a non-empty string, across
// navigations, for up to d.
func (tb *tab) waitFor(expr string, d time.Duration) string {
	tb.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if v := tb.eval(expr); v != "" {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.t.Fatalf("timed out after %v waiting for %s\nconsole: %s", d, expr, strings.Join(tb.log.messages, "\n"))
	return ""
}

// toNewPage runs acts, which make the tab load another page (a form's
// submission, a click), and waits until that page has loaded and shows
// sel. Waiting for sel alone could be answered by the page before, when it
// has a sel too, and the next step would then run during the navigation.
func (tb *tab) toNewPage(sel string, acts ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`window.kycvsPageBefore = true`)); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	tb.do(acts...)
	tb.waitFor(`!window.kycvsPageBefore && document.readyState === "complete" && document.querySelector(`+strconv.Quote(sel)+`) ? "y" : ""`, time.Minute)
}

// clickForPopup clicks sel and returns the popup the click opened.
func (tb *tab) clickForPopup(sel string) *tab {
	tb.t.Helper()
	opener := chromedp.FromContext(tb.ctx).Target.TargetID
	ch := chromedp.WaitNewTarget(tb.ctx, func(info *target.Info) bool { return info.OpenerID == opener })
	tb.do(chromedp.Click(chromedp.CSS(sel)))
	var id target.ID
	select {
	case id = <-ch:
	case <-time.After(15 * time.Second):
		tb.t.Fatal("the click opened no popup")
	}
	ctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(id))
	tb.t.Cleanup(cancel)
	p := &tab{t: tb.t, ctx: ctx, log: tb.log}
	p.watch()
	return p
}

// signIn completes mobile, name and OTP on kycvs's pages in this tab.
func (tb *tab) signIn(ts *testServer, mobile, name string) {
	tb.t.Helper()
	tb.do(
		chromedp.WaitVisible(chromedp.CSS("#mobile")),
		chromedp.SendKeys(chromedp.CSS("#mobile"), mobile),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("form button.primary")),
		chromedp.WaitVisible(chromedp.CSS("#otp")),
	)
	tb.do(
		chromedp.SendKeys(chromedp.CSS("#otp"), ts.lastOTP("+91"+mobile)),
		chromedp.Click(chromedp.CSS("form button.primary")),
	)
}

// cancelSignIn presses Cancel on kycvs's first page.
func (tb *tab) cancelSignIn() {
	tb.t.Helper()
	tb.do(chromedp.WaitVisible(chromedp.CSS("#mobile")), chromedp.Click(chromedp.CSS("form.secondary-action button")))
}

// badgeJS reads Demo Airlines' badge once it is final: "state|status|text".
const badgeJS = `(function () {
  var b = document.getElementById('vaccination-badge');
  var s = b && b.dataset.state;
  if (s !== 'verified' && s !== 'declined' && s !== 'error') { return ''; }
  return s + '|' + (b.dataset.status || '') + '|' + b.textContent;
})()`

// On the demo airline: the button, the popup, the sign-in and the badge,
// once per status value and once for a person who cancels; then the
// full-page flow a phone-sized screen gets.
func TestButtonInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})
	home := ts.DemoURL + "/demo"
	for _, tc := range []struct {
		name, mobile, person string
		want                 string
	}{
		{"fully vaccinated", "9999900001", "Asha Verma", "verified|2|Vaccination status of Asha Verma: fully vaccinated, verified by kycvs"},
		{"partially vaccinated", "9999900002", "Ravi Kumar", "verified|1|Vaccination status of Ravi Kumar: partially vaccinated, verified by kycvs"},
		{"not vaccinated", "9999900003", "Meera Nair", "verified|0|Vaccination status of Meera Nair: not vaccinated, verified by kycvs"},
		{"declined", "", "", "declined||Vaccination status not shared. You can show your certificate at the airport instead."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := br.newTab(t)
			tb.do(chromedp.Navigate(home), chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")))
			popup := tb.clickForPopup("#kycvs-button button")
			if tc.person == "" {
				popup.cancelSignIn()
			} else {
				popup.signIn(ts, tc.mobile, tc.person)
			}
			if got := tb.waitFor(badgeJS, 20*time.Second); got != tc.want {
				t.Fatalf("badge: got %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("small screen: full-page redirect", func(t *testing.T) {
		tb := br.newTab(t)
		tb.do(
			chromedp.EmulateViewport(400, 800),
			chromedp.Navigate(home),
			chromedp.WaitVisible(chromedp.CSS("#kycvs-button button")),
			chromedp.SendKeys(chromedp.CSS("#passenger"), "Ravi Kumar"),
			chromedp.Click(chromedp.CSS("#kycvs-button button")),
		)
		tb.signIn(ts, "9999900002", "Ravi Kumar") // in this tab: no popup
		if got := tb.waitFor(badgeJS, 20*time.Second); got != "verified|1|Vaccination status of Ravi Kumar: partially vaccinated, verified by kycvs" {
			t.Fatalf("badge: got %q", got)
		}
		if loc := tb.eval(`location.href`); loc != home {
			t.Fatalf("the page is at %s, want %s with nothing in the URL", loc, home)
		}
		// The promise API gives the same outcome as the event.
		got, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](
			`kycvs.redirectResult.then(function (r) { return r ? r.outcome + ' ' + (r.code ? 'code' : '') + ' ' + (r.codeVerifier ? 'verifier' : '') : 'null'; })`,
			chromedp.EvalAwaitPromise))
		if err != nil || got != "shared code verifier" {
			t.Fatalf("kycvs.redirectResult: %q, %v", got, err)
		}
		if left := tb.eval(`Object.keys(sessionStorage).filter(function (k) { return k.indexOf('kycvs-button:') === 0; }).join(',') || 'none'`); left != "none" {
			t.Fatalf("the finished flow is still in sessionStorage: %s", left)
		}
		// The passenger name survived the round trip.
		if got := tb.eval(`document.getElementById('passenger').value`); got != "Ravi Kumar" {
			t.Fatalf("passenger name after the round trip: %q", got)
		}

		// A shared phone: the next person presses the button. kycvs does
		// not re-share Ravi's status: it names him, and "Not you?" lets
		// Meera sign in without declining.
		tb.do(
			chromedp.Click(chromedp.CSS("#kycvs-button button")),
			chromedp.WaitVisible(chromedp.CSS(`button[value="share"]`)),
		)
		if got := tb.eval(`document.querySelector('button[value="share"]').textContent`); !strings.HasPrefix(got, "Share as Ravi Kumar (") {
			t.Fatalf("one-tap button: %q", got)
		}
		tb.do(chromedp.Click(chromedp.CSS(`form[action$="/switch"] button`)))
		tb.signIn(ts, "9999900003", "Meera Nair")
		if got := tb.waitFor(`(function () { var b = document.getElementById('vaccination-badge'); return b && b.dataset.status === '0' ? b.textContent : ''; })()`, 20*time.Second); got != "Vaccination status of Meera Nair: not vaccinated, verified by kycvs" {
			t.Fatalf("badge after switching person: %q", got)
		}
	})
}

// The snippet of docs/integration.md, pasted into a page of another
// origin, as a public client: the script exchanges the code itself, across
// origins (CORS on the token endpoint). A message from a wrong origin is
// refused; a closed popup is a decline.
func TestDocsSnippetInBrowser(t *testing.T) {
	br := newChrome(t)
	ts := newTestServer(t, "sqlite", nil)
	rp := newSnippetSite(t, ts)
	outputJS := `document.getElementById('vaccination-status').textContent`

	t.Run("shared, after a forged message from another origin", func(t *testing.T) {
		tb := br.newTab(t)
		tb.do(chromedp.Navigate(rp.URL+"/book"), chromedp.WaitVisible(chromedp.CSS(".kycvs-button button")))
		popup := tb.clickForPopup(".kycvs-button button")
		popup.do(chromedp.WaitVisible(chromedp.CSS("#mobile")))

		// The popup is on kycvs's origin now. A page there (or anywhere but
		// the redirect URI's origin) posts a well-formed answer with the
		// right state and a forged code: the button must ignore it.
		path := popup.eval(`location.pathname`)
		lr, err := ts.store().GetLoginRequest(context.Background(), strings.TrimPrefix(path, "/login/"))
		if err != nil {
			t.Fatalf("login request for %q: %v", path, err)
		}
		form, _ := url.ParseQuery(lr.Form)
		state := form.Get("state")
		if !strings.HasPrefix(state, "kycvs1.") {
			t.Fatalf("state %q", state)
		}
		forged := fmt.Sprintf(`window.opener.postMessage({type: 'kycvs:authorization-response', state: %q, params: {code: 'forged'}}, '*'), 'posted'`, state)
		if got := popup.eval(forged); got != "posted" {
			t.Fatalf("could not post the forged message: %q", got)
		}
		time.Sleep(700 * time.Millisecond)
		if got := tb.eval(outputJS); got != "" {
			t.Fatalf("the page took a message from another origin: %q", got)
		}
		if busy := tb.eval(`document.querySelector('.kycvs-button button').getAttribute('aria-busy') || ''`); busy != "true" {
			t.Fatalf("the button stopped waiting after the forged message (aria-busy %q)", busy)
		}

		popup.signIn(ts, "9999900001", "Asha Verma")
		if got := tb.waitFor(outputJS, 20*time.Second); got != "Fully vaccinated" {
			t.Fatalf("page shows %q", got)
		}
		if got := tb.eval(`window.lastResult.idToken.split('.').length === 3 && window.lastResult.accessToken ? 'tokens' : 'none'`); got != "tokens" {
			t.Fatalf("the result has no tokens: %s", got)
		}
	})

	t.Run("popup closed", func(t *testing.T) {
		tb := br.newTab(t)
		tb.do(chromedp.Navigate(rp.URL+"/book"), chromedp.WaitVisible(chromedp.CSS(".kycvs-button button")))
		popup := tb.clickForPopup(".kycvs-button button")
		popup.do(chromedp.WaitVisible(chromedp.CSS("#mobile")))
		if _, err := chromedp.Call(popup.ctx, cdppage.Close, cdp.Empty{}); err != nil {
			t.Fatalf("close popup: %v", err)
		}
		if got := tb.waitFor(outputJS, 10*time.Second); got != "Not shared" {
			t.Fatalf("page shows %q", got)
		}
	})
}

// snippetSite is a relying party made of nothing but the two snippets of
// docs/integration.md (style 1), on its own origin, registered as a public
// client.
type snippetSite struct {
	URL string
}

func newSnippetSite(t *testing.T, ts *testServer) *snippetSite {
	t.Helper()
	doc, err := os.ReadFile("../../docs/integration.md")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	id, _ := ts.client(oauth.ClientSpec{Name: "Example Air", Public: true, RedirectURIs: []string{origin + "/kycvs-callback.html"}})
	fill := strings.NewReplacer("https://kycvs.example", ts.URL, "YOUR_CLIENT_ID", id, "https://your-site.example", origin)
	book := fill.Replace(docSnippet(t, string(doc), "button-page"))
	callback := fill.Replace(docSnippet(t, string(doc), "callback-page"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /book", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The page keeps the last result where the test can read it.
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example Air</title></head><body>
<script>document.addEventListener('kycvs:result', function (e) { window.lastResult = e.detail; });</script>
%s
</body></html>`, book)
	})
	mux.HandleFunc("GET /kycvs-callback.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, callback)
	})
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	hs.Start()
	t.Cleanup(hs.Close)
	return &snippetSite{URL: origin}
}

// docSnippet returns the code block that follows <!-- test:NAME --> in doc.
func docSnippet(t *testing.T, doc, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "<!-- test:"+name+" -->")
	if !ok {
		t.Fatalf("docs/integration.md has no snippet %q", name)
	}
	_, rest, ok = strings.Cut(rest, "```html\n")
	if !ok {
		t.Fatalf("snippet %q is not an html code block", name)
	}
	code, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("snippet %q does not end", name)
	}
	return code
}

// smallTargetsJS lists the visible buttons, summaries, navigation links,
// checkbox rows, button-like links and the header's home link of the page
// that are less than 44 CSS px high (WCAG 2.5.5): "" when there is none.
const smallTargetsJS = `Array.from(document.querySelectorAll('button, summary, nav a, label.check, a.button, a.button-link, .top a.brand')).filter(function (e) {
  var r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && r.height < 44;
}).map(function (e) { var r = e.getBoundingClientRect(); return e.tagName + ' "' + e.textContent.trim().slice(0, 30) + '" ' + Math.round(r.height) + ' px'; }).join('; ')`
