package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/web"
)

// rawBrowser keeps cookies by name whatever their Secure flag, so a test
// can talk plain http to a server whose issuer is https (as it is behind a
// TLS-terminating proxy) and still see every Set-Cookie it answers.
type rawBrowser struct {
	t       *testing.T
	base    string
	cookies map[string]*http.Cookie
	setBy   map[string]*http.Cookie // the last Set-Cookie of each name
}

func newRawBrowser(t *testing.T, base string) *rawBrowser {
	return &rawBrowser{t: t, base: base, cookies: map[string]*http.Cookie{}, setBy: map[string]*http.Cookie{}}
}

func (b *rawBrowser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req, _ = http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, b.base+path, nil)
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		b.setBy[c.Name] = c
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return resp, readAll(resp)
}

// signIn runs a whole sign-in for client and returns the answers of the
// pages on the way: the sign-in form, the OTP form, and the final redirect.
func (b *rawBrowser) signIn(ts *testServer, clientID, mobile, name string) (login, otp string, done *http.Response) {
	b.t.Helper()
	resp, _ := b.do(http.MethodGet, oauth.PathAuth+"?"+authorizeQuery(clientID).Encode(), nil)
	first := resp.Header.Get("Location")
	loginPath := mustParse(b.t, first).Path
	if !strings.HasPrefix(loginPath, "/login/") {
		b.t.Fatalf("authorize: %d %s", resp.StatusCode, first)
	}
	_, login = b.do(http.MethodGet, first, nil)
	token := kycvstest.Page{Body: login}.Hidden(web.CSRFField)
	if resp, body := b.do(http.MethodPost, loginPath, url.Values{"mobile": {mobile}, "name": {name}, "csrf_token": {token}}); resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("send: %d %s", resp.StatusCode, body)
	}
	_, otp = b.do(http.MethodGet, loginPath, nil)
	e164 := "+91" + mobile
	done, _ = b.do(http.MethodPost, loginPath+"/otp", url.Values{"otp": {ts.lastOTP(e164)}, "csrf_token": {token}})
	return login, otp, done
}

func authorizeQuery(clientID string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {"http://127.0.0.1:9/callback"},
		"scope": {"openid vaccination_status"}, "state": {"state-0123456789"}, "nonce": {"nonce-0123456789"}}
}

var (
	inlineScript  = regexp.MustCompile(`(?i)<script(\s[^>]*)?>`)
	eventHandler  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	javascriptURL = regexp.MustCompile(`(?i)javascript:`)
	styleAttr     = regexp.MustCompile(`(?i)\sstyle\s*=`)
)

// checkPage fails when an HTML page carries script or style the
// Content-Security-Policy would have to allow inline.
func checkPage(t *testing.T, what, body string) {
	t.Helper()
	// An inline script runs only with the response's CSP nonce (the code
	// page's countdown and WebOTP autofill); anything else is refused.
	for _, m := range inlineScript.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], "src=") && !strings.Contains(m[1], `nonce="`) {
			t.Errorf("%s has an inline <script> without the nonce", what)
		}
	}
	for name, re := range map[string]*regexp.Regexp{"an event handler attribute": eventHandler, "a javascript: URL": javascriptURL, "a style attribute": styleAttr} {
		if re.MatchString(body) {
			t.Errorf("%s has %s", what, name)
		}
	}
}

// checkHeaders checks the security headers every answer carries.
func checkHeaders(t *testing.T, what string, h http.Header, https bool) string {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if directives["frame-ancestors"] != "'none'" || directives["default-src"] != "'none'" ||
		directives["base-uri"] != "'none'" || directives["object-src"] != "'none'" {
		t.Errorf("%s: CSP %q", what, csp)
	}
	nonce := ""
	for _, src := range strings.Fields(directives["script-src"]) {
		switch {
		case src == "'self'":
		case strings.HasPrefix(src, "'nonce-") && len(src) > 20:
			nonce = src
		default:
			t.Errorf("%s: script-src allows %s", what, src)
		}
	}
	if strings.Contains(csp, "unsafe-") || nonce == "" {
		t.Errorf("%s: CSP %q is not strict", what, csp)
	}
	for name, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s = %q, want %q", what, name, got, want)
		}
	}
	hsts := h.Get("Strict-Transport-Security")
	if https && !regexp.MustCompile(`^max-age=(3153[6-9]\d{3}|[4-9]\d{7}|\d{9,})`).MatchString(hsts) {
		t.Errorf("%s: Strict-Transport-Security = %q, want a year or more on an https issuer", what, hsts)
	}
	if !https && hsts != "" {
		t.Errorf("%s: Strict-Transport-Security %q on an http issuer", what, hsts)
	}
	return nonce
}

// Every answer, page or API, carries a strict CSP with a fresh nonce,
// refuses framing and referrers, and (https issuer only) HSTS; kycvs's
// pages have no inline script, handler or style for the CSP to allow; and
// the CSRF and session cookies are HttpOnly, SameSite=Lax and, on https,
// Secure.
func TestWebSecurity(t *testing.T) {
	for _, issuer := range []string{"https://kycvs.test", ""} {
		https := issuer != ""
		t.Run(map[bool]string{true: "https issuer", false: "http issuer"}[https], func(t *testing.T) {
			ts := newTestServer(t, "sqlite", func(c *serveConfig) {
				if https {
					c.Issuer = issuer
				}
			})
			id, _ := ts.client(oauth.ClientSpec{})
			other, _ := ts.client(oauth.ClientSpec{Name: "Other Rail", Scopes: []string{"openid", "vaccination_status", "profile"}})
			b := newRawBrowser(t, ts.URL)
			login, otp, done := b.signIn(ts, id, "9999900001", "Asha Verma")
			if done.StatusCode != http.StatusSeeOther {
				t.Fatalf("OTP: %d", done.StatusCode)
			}
			checkPage(t, "sign-in page", login)
			checkPage(t, "OTP page", otp)

			// Over https the CSRF cookie is __Host-: only this origin can set it.
			for _, name := range []string{web.CSRFCookieName(web.CSRFCookie, https), consent.SessionCookie} {
				c := b.setBy[name]
				if c == nil {
					t.Fatalf("no %s cookie was set", name)
				}
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != https || c.Path != "/" {
					t.Errorf("%s: HttpOnly %v, SameSite %v, Secure %v, Path %q; want HttpOnly, Lax, Secure %v, /", name, c.HttpOnly, c.SameSite, c.Secure, c.Path, https)
				}
			}

			// The signed-in consent screen, and the no-match page.
			q := authorizeQuery(other)
			q.Set("scope", "openid vaccination_status profile")
			resp, _ := b.do(http.MethodGet, oauth.PathAuth+"?"+q.Encode(), nil)
			_, consentPage := b.do(http.MethodGet, resp.Header.Get("Location"), nil)
			if !strings.Contains(consentPage, `name="decision"`) {
				t.Fatalf("want the consent screen: %s", consentPage)
			}
			checkPage(t, "consent page", consentPage)
			nb := newRawBrowser(t, ts.URL)
			_, _, noMatch := nb.signIn(ts, id, "9999900001", "Nobody Known")
			if noMatch.StatusCode != http.StatusSeeOther {
				t.Fatalf("no-match answer: %d", noMatch.StatusCode)
			}
			if page, body := nb.do(http.MethodGet, noMatch.Header.Get("Location"), nil); page.StatusCode != http.StatusOK || !strings.Contains(body, `name="name"`) {
				t.Fatalf("no-match page: %d", page.StatusCode)
			} else {
				checkPage(t, "no-match page", body)
			}

			nonces := map[string]bool{}
			for _, path := range []string{"/login/unknown", "/no/such/page", "/static/style.css", oauth.PathDiscovery, oauth.PathJWKS, "/healthz",
				oauth.PathAuth + "?client_id=nobody", resp.Header.Get("Location")} {
				resp, body := b.do(http.MethodGet, path, nil)
				nonce := checkHeaders(t, path, resp.Header, https)
				if nonces[nonce] {
					t.Errorf("%s: a CSP nonce was used twice", path)
				}
				nonces[nonce] = true
				if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					checkPage(t, path, body)
				}
			}
			resp, _ = b.do(http.MethodPost, oauth.PathToken, url.Values{"grant_type": {"authorization_code"}})
			checkHeaders(t, "token endpoint", resp.Header, https)
		})
	}
}

// notForms are the POST endpoints that are not kycvs's own forms, and why
// they need no CSRF token: nothing in them acts on a browser's cookies.
var notForms = map[string]string{
	oauth.PathAuth:                     "authorization requests may be posted cross-site by relying parties (OIDC Core 3.1.2.1); state, PKCE and redirect URI checks protect them",
	oauth.PathToken:                    "client authentication, no cookies",
	oauth.PathRevoke:                   "client authentication, no cookies",
	oauth.PathIntrospect:               "client authentication, no cookies",
	oauth.PathPAR:                      "client authentication, no cookies",
	oauth.PathUserinfo:                 "bearer token, no cookies",
	oauth.PathRegister:                 "dynamic client registration: initial access token (bearer), no cookies",
	oauth.PathRegister + "/:client_id": "client configuration: registration access token (bearer), no cookies",
	oauth.PathEndSession:               "RP-initiated logout may be posted by relying parties; it only ends the session and redirects only to registered URIs",
	"/api/v3/vaccination/generateOTP":  "KYC-VS API: API key, no cookies",
	"/api/v3/vaccination/confirmOTP":   "KYC-VS API: transaction ID and OTP, no cookies",
}

// Every form kycvs serves checks the CSRF token: a POST to any route not
// listed in notForms, without the token or with a wrong one, is refused
// with 403 and changes nothing. New routes are covered without editing
// this test.
func TestCSRFOnEveryForm(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{})
	b := newRawBrowser(t, ts.URL)
	resp, _ := b.do(http.MethodGet, oauth.PathAuth+"?"+authorizeQuery(id).Encode(), nil)
	challenge := strings.TrimPrefix(mustParse(t, resp.Header.Get("Location")).Path, "/login/")
	b.do(http.MethodGet, "/login/"+challenge, nil) // the CSRF cookie

	forms := 0
	for _, r := range ts.srv.engine.Routes() {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch && r.Method != http.MethodDelete {
			continue
		}
		if _, ok := notForms[r.Path]; ok {
			continue
		}
		forms++
		path := strings.NewReplacer(":challenge", challenge, ":id", "some-id", ":kid", "some-kid").Replace(r.Path)
		form := url.Values{"mobile": {"9999900001"}, "name": {"Asha Verma"}, "otp": {"123456"}, "decision": {"share"}}
		// The cookie's own value is what plain double submit accepted: a
		// cookie planted by a sibling host and the same value in the field.
		for _, token := range []string{"", "wrong-token", b.setBy[web.CSRFCookie].Value} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if token != "" {
				f.Set(web.CSRFField, token)
			}
			resp, body := b.do(r.Method, path, f)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "This form has expired") {
				t.Errorf("%s %s with CSRF token %q: %d, want 403", r.Method, r.Path, token, resp.StatusCode)
			}
		}
	}
	t.Logf("%d forms refuse posts without a valid CSRF token", forms)
	if forms < 6 {
		t.Errorf("only %d forms found; the route walk is broken", forms)
	}
	if lr, err := ts.store().GetLoginRequest(context.Background(), challenge); err != nil || lr.State != "pending" || lr.OTPSends != 0 {
		t.Errorf("refused posts changed the sign-in: %s, %d sends", lr.State, lr.OTPSends)
	}
}

// No answer sends a browser anywhere but kycvs's own paths or a redirect
// URI registered for the client, exactly: not for unknown clients, nor for
// near misses of a registered URI, nor for errors, nor at sign-out.
func TestNoOpenRedirect(t *testing.T) {
	ts := newTestServer(t, "sqlite", nil)
	id, _ := ts.client(oauth.ClientSpec{})
	const registered = "http://127.0.0.1:9/callback"
	auth := func(mod func(url.Values)) string {
		q := authorizeQuery(id)
		mod(q)
		return oauth.PathAuth + "?" + q.Encode()
	}
	cases := map[string]string{
		"unknown client":             auth(func(q url.Values) { q.Set("client_id", "nobody"); q.Set("redirect_uri", "https://evil.example/cb") }),
		"unregistered URI":           auth(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") }),
		"another port":               auth(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:10/callback") }),
		"path traversal":             auth(func(q url.Values) { q.Set("redirect_uri", registered+"/../../evil") }),
		"extra path":                 auth(func(q url.Values) { q.Set("redirect_uri", registered+"/x") }),
		"added query":                auth(func(q url.Values) { q.Set("redirect_uri", registered+"?next=https://evil.example") }),
		"fragment":                   auth(func(q url.Values) { q.Set("redirect_uri", registered+"#https://evil.example") }),
		"userinfo host trick":        auth(func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9@evil.example/callback") }),
		"scheme case":                auth(func(q url.Values) { q.Set("redirect_uri", "HTTP://127.0.0.1:9/callback") }),
		"bad scope, registered URI":  auth(func(q url.Values) { q.Set("scope", "openid admin") }),
		"bad response type":          auth(func(q url.Values) { q.Set("response_type", "token") }),
		"no redirect URI, bad PKCE":  auth(func(q url.Values) { q.Del("redirect_uri"); q.Set("code_challenge_method", "plain") }),
		"unknown challenge":          "/login/unknown?next=https://evil.example",
		"resume unknown":             oauth.PathResume + "unknown?redirect_uri=https://evil.example",
		"logout to evil":             oauth.PathEndSession + "?client_id=" + id + "&post_logout_redirect_uri=https://evil.example/",
		"logout, unknown client":     oauth.PathEndSession + "?client_id=nobody&post_logout_redirect_uri=https://evil.example/",
		"logout, registered":         oauth.PathEndSession + "?client_id=" + id + "&post_logout_redirect_uri=" + url.QueryEscape(registered),
		"static with a double slash": "//evil.example/static/style.css",
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			resp, _ := newRawBrowser(t, ts.URL).do(http.MethodGet, path, nil)
			loc := resp.Header.Get("Location")
			switch {
			case loc == "":
			case strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") && !strings.HasPrefix(loc, "/\\"):
			case loc == registered || strings.HasPrefix(loc, registered+"?"):
			default:
				t.Errorf("%d redirect to %q", resp.StatusCode, loc)
			}
			if resp.StatusCode >= 500 {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
}
