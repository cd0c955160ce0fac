package web_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/web"
)

// logBuffer is a goroutine-safe sink for the engine's JSON logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestEngine builds the real engine with a few routes that exercise the
// middleware; tweak adjusts the config.
func newTestEngine(t *testing.T, tweak func(*web.Config)) (*gin.Engine, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := web.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
	if tweak != nil {
		tweak(&cfg)
	}
	e, err := web.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.GET("/ok", func(c *gin.Context) {
		web.Log(c).Info("handler ran")
		c.String(http.StatusOK, web.RequestID(c))
	})
	e.GET("/panic", func(c *gin.Context) { panic("boom") })
	e.GET("/ip", func(c *gin.Context) { c.String(http.StatusOK, c.ClientIP()) })
	e.POST("/echo", func(c *gin.Context) {
		if !web.ParseForm(c) {
			return
		}
		c.String(http.StatusOK, c.PostForm("v"))
	})
	// Secure comes from the engine config.
	forms := e.Group("/form", web.CSRF(web.CSRFConfig{Key: testCSRFKey, Cookie: web.CSRFCookie}))
	page := func(c *gin.Context) {
		web.Render(c, http.StatusOK, "login", web.LoginPage{
			ClientName: "Air <India>", Action: "/form", CancelAction: "/form", CSRFToken: web.CSRFToken(c),
		})
	}
	forms.GET("", page)
	forms.POST("", func(c *gin.Context) { c.String(http.StatusOK, "accepted "+c.PostForm("name")) })
	// A console: its own scope, bound to its session cookie, renewed at
	// sign-in.
	console := e.Group("/console", web.CSRF(web.CSRFConfig{Key: testCSRFKey, Cookie: web.ConsoleCSRFCookie, Session: testSession}))
	console.GET("", page)
	console.POST("", func(c *gin.Context) { c.String(http.StatusOK, "accepted "+c.PostForm("name")) })
	console.POST("/sign-in", func(c *gin.Context) {
		sess := strings.Repeat("s", 43)
		http.SetCookie(c.Writer, &http.Cookie{Name: testSession, Value: sess, Path: "/"})
		web.RotateCSRF(c, sess)
		page(c)
	})
	return e, logs
}

func do(e http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.ServeHTTP(w, r)
	return w
}

func TestRequestID(t *testing.T) {
	e, logs := newTestEngine(t, nil)
	hexID := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		incoming string
		want     string // "" means a generated one
	}{
		{"none", "", ""},
		{"accepted", "abc-DEF_123", "abc-DEF_123"},
		{"too long", strings.Repeat("a", 65), ""},
		{"64 is fine", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"bad characters", "abc def", ""},
		{"log injection", "x\ny", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/ok", nil)
			if tt.incoming != "" {
				r.Header.Set(web.HeaderRequestID, tt.incoming)
			}
			w := do(e, r)
			got := w.Header().Get(web.HeaderRequestID)
			if tt.want != "" && got != tt.want {
				t.Errorf("request id = %q, want %q", got, tt.want)
			}
			if tt.want == "" && !hexID.MatchString(got) {
				t.Errorf("request id = %q, want a generated one", got)
			}
			if w.Body.String() != got {
				t.Errorf("RequestID(c) = %q, header %q", w.Body.String(), got)
			}
			if !strings.Contains(logs.String(), `"msg":"handler ran","request_id":"`+got+`"`) {
				t.Errorf("Log(c) lacks the request id:\n%s", logs.String())
			}
		})
	}
}

func TestSecurityHeadersAndErrorPages(t *testing.T) {
	e, logs := newTestEngine(t, nil)
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"ok", http.MethodGet, "/ok", 200, ""},
		{"not found", http.MethodGet, "/nope", 404, "Page not found"},
		{"method not allowed", http.MethodDelete, "/ok", 405, "Not allowed"},
		{"panic", http.MethodGet, "/panic", 500, "Something went wrong"},
		{"page", http.MethodGet, "/form", 200, "Air &lt;India&gt;</strong> wants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(e, httptest.NewRequest(tt.method, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			for h, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"X-Frame-Options":        "DENY",
			} {
				if got := w.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "script-src 'self' 'nonce-", "frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if tt.body == "" {
				return
			}
			if !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("body lacks %q:\n%s", tt.body, w.Body.String())
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store on HTML", cc)
			}
			if tt.status >= 400 && !strings.Contains(w.Body.String(), w.Header().Get(web.HeaderRequestID)) {
				t.Errorf("error page lacks the request id")
			}
		})
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
	if w := do(e, httptest.NewRequest(http.MethodDelete, "/ok", nil)); !strings.Contains(w.Header().Get("Allow"), "GET") {
		t.Errorf("405 Allow = %q", w.Header().Get("Allow"))
	}
}

func TestAccessLogOmitsQuery(t *testing.T) {
	e, logs := newTestEngine(t, nil)
	do(e, httptest.NewRequest(http.MethodGet, "/ok?code=SECRETCODE&state=x", nil))
	out := logs.String()
	if strings.Contains(out, "SECRETCODE") {
		t.Fatalf("access log leaks the query string:\n%s", out)
	}
	for _, want := range []string{`"method":"GET"`, `"path":"/ok"`, `"status":200`, `"duration":`, `"client_net":"192.0.2.0/24"`, `"request_id":`} {
		if !strings.Contains(out, want) {
			t.Errorf("access log lacks %s:\n%s", want, out)
		}
	}
}

func TestClientIP(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no trusted proxy: the peer", nil, "192.0.2.1"},
		{"trusted proxy: the forwarded address", []string{"192.0.2.0/24"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newTestEngine(t, func(c *web.Config) { c.TrustedProxies = tt.proxies })
			r := httptest.NewRequest(http.MethodGet, "/ip", nil)
			r.Header.Set("X-Forwarded-For", "203.0.113.7")
			if got := do(e, r).Body.String(); got != tt.want {
				t.Errorf("client IP = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := web.NewEngine(web.Config{TrustedProxies: []string{"not an ip"}}); err == nil {
		t.Error("NewEngine accepted an invalid trusted proxy")
	}
}

// chunked hides the body's length so only MaxBytesReader can stop it.
type chunked struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	e, _ := newTestEngine(t, func(c *web.Config) { c.MaxBodyBytes = 100 })
	small := url.Values{"v": {"hello"}}.Encode()
	big := url.Values{"v": {strings.Repeat("x", 200)}}.Encode()
	tests := []struct {
		name   string
		body   io.Reader
		status int
	}{
		{"small", strings.NewReader(small), 200},
		{"declared too large", strings.NewReader(big), 413},
		{"streamed too large", chunked{strings.NewReader(big)}, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/echo", tt.body)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if _, ok := tt.body.(chunked); ok {
				r.ContentLength = -1
			}
			w := do(e, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body.String())
			}
		})
	}
}

var testCSRFKey = []byte("0123456789abcdef0123456789abcdef")

const testSession = "test_session"

// csrfGet GETs path with cookies and returns the CSRF cookie set (nil if
// none) and the form's token.
func csrfGet(t *testing.T, e http.Handler, path string, cookies ...*http.Cookie) (*http.Cookie, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := do(e, r)
	var set *http.Cookie
	for _, c := range w.Result().Cookies() {
		set = c
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("%s: no token: %s", path, w.Body)
	}
	return set, m[1]
}

// csrfPost posts to path with the token as field and header, and cookies.
func csrfPost(e http.Handler, path, field, header string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	form := url.Values{"name": {"x"}}
	if field != "" {
		form.Set(web.CSRFField, field)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		if c != nil {
			r.AddCookie(c)
		}
	}
	if header != "" {
		r.Header.Set(web.CSRFHeader, header)
	}
	return do(e, r)
}

func TestCSRF(t *testing.T) {
	for _, secure := range []bool{false, true} {
		// The engine's flag alone makes the CSRF cookie Secure, and __Host-.
		e, _ := newTestEngine(t, func(c *web.Config) { c.SecureCookies = secure })
		cookie, token := csrfGet(t, e, "/form")
		wantName := map[bool]string{false: "kycvs_csrf", true: "__Host-kycvs_csrf"}[secure]
		if cookie == nil || cookie.Name != wantName || cookie.Name != web.CSRFCookieName(web.CSRFCookie, secure) {
			t.Fatalf("secure=%v: CSRF cookie %+v, want %s", secure, cookie, wantName)
		}
		if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Secure != secure || cookie.Domain != "" {
			t.Errorf("cookie flags: %+v", cookie)
		}
		if token == cookie.Value {
			t.Error("the form's token is the cookie's value: a planted pair would pass")
		}
		// A second GET with the cookie keeps the same token and sets no new cookie.
		if again, tok := csrfGet(t, e, "/form", cookie); again != nil || tok != token {
			t.Errorf("token not stable across GETs")
		}

		other := strings.Repeat("A", 43)
		plain := &http.Cookie{Name: "kycvs_csrf", Value: cookie.Value}
		tests := []struct {
			name          string
			cookie        *http.Cookie
			field, header string
			status        int
		}{
			{"field matches", cookie, token, "", 200},
			{"header matches", cookie, "", token, 200},
			{"missing field", cookie, "", "", 403},
			{"wrong field", cookie, other, "", 403},
			{"no cookie", nil, token, "", 403},
			{"both empty", nil, "", "", 403},
			{"malformed cookie echoed", &http.Cookie{Name: cookie.Name, Value: "short"}, "short", "", 403},
			// Double submit alone let any pair through: a cookie planted
			// (a sibling host, plain http) and the same value in the field.
			{"planted pair: the cookie's value as the field", cookie, cookie.Value, "", 403},
			{"planted pair: a value of the attacker's", &http.Cookie{Name: cookie.Name, Value: other}, other, "", 403},
		}
		if secure {
			// Over https only the __Host- cookie counts, which a browser
			// takes only from this origin over https.
			tests = append(tests, struct {
				name          string
				cookie        *http.Cookie
				field, header string
				status        int
			}{"a cookie without the prefix", plain, token, "", 403})
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("secure=%v/%s", secure, tt.name), func(t *testing.T) {
				w := csrfPost(e, "/form", tt.field, tt.header, tt.cookie)
				if w.Code != tt.status {
					t.Fatalf("status = %d, want %d", w.Code, tt.status)
				}
				if tt.status == 403 && !strings.Contains(w.Body.String(), "This form has expired, go back and try again") {
					t.Errorf("403 page: %s", w.Body.String())
				}
				if tt.status == 200 && w.Body.String() != "accepted x" {
					t.Errorf("body = %q", w.Body.String())
				}
			})
		}
	}
}

// The console's token is its own, bound to its session and renewed at
// sign-in.
func TestCSRFConsole(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e, _ := newTestEngine(t, func(c *web.Config) { c.SecureCookies = secure })
		public, publicToken := csrfGet(t, e, "/form")
		cookie, token := csrfGet(t, e, "/console")
		if cookie == nil || cookie.Name != web.CSRFCookieName(web.ConsoleCSRFCookie, secure) || cookie.Path != "/" || cookie.Secure != secure || !cookie.HttpOnly {
			t.Fatalf("secure=%v: console CSRF cookie %+v", secure, cookie)
		}
		if w := csrfPost(e, "/console", token, "", cookie); w.Code != 200 {
			t.Fatalf("secure=%v: the console's own token: %d", secure, w.Code)
		}
		t.Run(fmt.Sprintf("secure=%v/the public pages' token does not pass", secure), func(t *testing.T) {
			if w := csrfPost(e, "/console", publicToken, "", public, cookie); w.Code != 403 {
				t.Errorf("public token with both cookies: %d", w.Code)
			}
			// Even with the public cookie's value in the console's cookie.
			if w := csrfPost(e, "/console", publicToken, "", &http.Cookie{Name: cookie.Name, Value: public.Value}); w.Code != 403 {
				t.Errorf("public pair under the console's name: %d", w.Code)
			}
		})

		// Sign-in renews the cookie; the page after it has a new token, and
		// the one from before no longer passes.
		r := httptest.NewRequest(http.MethodPost, "/console/sign-in", strings.NewReader(url.Values{web.CSRFField: {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.AddCookie(cookie)
		w := do(e, r)
		var renewed, session *http.Cookie
		for _, c := range w.Result().Cookies() {
			switch c.Name {
			case cookie.Name:
				renewed = c
			case testSession:
				session = c
			}
		}
		m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(w.Body.String())
		if w.Code != 200 || renewed == nil || session == nil || m == nil {
			t.Fatalf("secure=%v: sign-in %d, cookies %v", secure, w.Code, w.Result().Cookies())
		}
		after := m[1]
		t.Run(fmt.Sprintf("secure=%v/renewed at sign-in", secure), func(t *testing.T) {
			if renewed.Value == cookie.Value || after == token {
				t.Fatal("the console's CSRF cookie or token survived the sign-in")
			}
			if w := csrfPost(e, "/console", after, "", renewed, session); w.Code != 200 {
				t.Errorf("the new token: %d", w.Code)
			}
			if w := csrfPost(e, "/console", token, "", cookie, session); w.Code != 403 {
				t.Errorf("the token from before the sign-in, with its cookie: %d", w.Code)
			}
		})
		t.Run(fmt.Sprintf("secure=%v/a pair from another browser is bound to no session", secure), func(t *testing.T) {
			// An attacker's own valid pair, planted in a signed-in browser.
			if w := csrfPost(e, "/console", token, "", cookie, session); w.Code != 403 {
				t.Errorf("planted pair in a session: %d", w.Code)
			}
			if w := csrfPost(e, "/console", after, "", renewed); w.Code != 403 {
				t.Errorf("a session's token without the session: %d", w.Code)
			}
		})
	}
}

func TestStatic(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	page := do(e, httptest.NewRequest(http.MethodGet, "/form", nil)).Body.String()
	m := regexp.MustCompile(`href="(/static/style\.css\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page links no versioned style sheet:\n%s", page)
	}
	tests := []struct {
		path   string
		status int
	}{
		{m[1], 200},
		{"/static/style.css", 200},
		{"/static/", 404},
		{"/static/../templates/layout.html", 404},
		{"/static/missing.css", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := do(e, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			if tt.status == 200 && !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
				t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestPagesRender(t *testing.T) {
	e, err := web.NewEngine(web.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data any
		want []string
	}{
		{"login", web.LoginPage{ClientName: "Rail", Action: "/a", CancelAction: "/c", CSRFToken: "tok", Mobile: "+919876543210", Error: web.M("alert.bad_mobile")}, []string{
			`lang="en" dir="ltr"`, `type="tel" name="mobile" autocomplete="tel" required value="&#43;919876543210"`, `name="name" autocomplete="name" required`,
			`for="mobile"`, `for="name"`, `Rail</strong> wants to check your vaccination status`, `role="alert"`, `name="csrf_token" value="tok"`,
			`Enter a valid mobile number`,
		}},
		{"login", web.LoginPage{ClientName: "Rail", Mobile: "98765", Error: web.M("alert.bad_mobile"), ErrorField: "mobile"}, []string{
			`<title>Error: Share your vaccination status · kycvs</title>`, `<div class="alert" role="alert" id="error">`,
			`value="98765" aria-describedby="error mobile-hint" aria-invalid="true" autofocus`,
		}},
		{"login", web.LoginPage{ClientName: "Rail", Name: "A", Error: web.M("alert.bad_name"), ErrorField: "name"}, []string{
			`aria-describedby="mobile-hint" dir="ltr"`, `value="A" aria-describedby="error name-hint" aria-invalid="true" autofocus`,
		}},
		{"login", web.LoginPage{ClientName: "Rail"}, []string{
			`<title>Share your vaccination status · kycvs</title>`, `aria-describedby="mobile-hint" autofocus`, `<link rel="icon" href="/static/icon.svg?v=`,
		}},
		{"otp", web.OTPPage{ClientName: "Rail <&>", Claims: []string{"vaccination_status", "name", "custom_claim"}, Offline: true, MaskedMobile: "+91******3210", ResendWait: 44*time.Second + time.Millisecond,
			ChangeAction: "/ch", Nonce: "n0nce", Error: web.M("alert.wrong_otp_left", "Count", 2), CodeInvalid: true}, []string{
			`name="otp" autocomplete="one-time-code" inputmode="numeric" maxlength="6" required`,
			`By entering the code you agree to share with <strong>Rail &lt;&amp;&gt;</strong>:`, `<li>your vaccination status (not, partially or fully vaccinated)</li>`, `<li>your name</li>`, `<li>custom_claim</li>`,
			`until you revoke its access`, `+91******3210`, `Don't share`, `That code is not right. You have 2 tries left.`,
			// Without JavaScript the button submits and says the wait;
			// the script counts down from data-wait.
			`<button type="submit" class="secondary" id="resend" data-wait="45" data-ready="Send a new code" data-template="New code in %s">New code in 45 seconds</button>`,
			`<title>Error: Enter the code · kycvs</title>`, `aria-describedby="error consent" aria-invalid="true" autofocus`,
			`action="/ch"`, `>Change mobile or name</button>`, `<script nonce="n0nce">`, `navigator.credentials.get({otp: {transport: ["sms"]}`,
		}},
		{"otp", web.OTPPage{ClientName: "Rail", Notice: web.M("otp.new_code_sent")}, []string{
			`<title>Enter the code · kycvs</title>`, `<p class="notice" role="status">We sent a new code.</p>`, `aria-describedby="consent" autofocus`,
			`<button type="submit" class="secondary">Send a new code</button>`,
		}},
		{"consent", web.ConsentPage{ClientName: "Rail", Claims: nil, Name: "Asha", MaskedMobile: "+91******3210"}, []string{
			`Rail</strong> asks for:`, `name="decision" value="share"`, `name="decision" value="deny"`, `<li>that you signed in with this mobile number</li>`,
			`Checking the record of <strong>Asha</strong> (<span class="nowrap" dir="ltr">+91******3210</span>)`,
		}},
		{"nomatch", web.NoMatchPage{MaskedMobile: "+91******3210", Name: "Asha K"}, []string{
			`No vaccination record matches this name for <span class="nowrap" dir="ltr">+91******3210</span>`, `name="name" autocomplete="name"`, `value="Asha K"`,
		}},
		{"error", web.ErrorPage{Key: "expired", RequestID: "<b>rid"}, []string{"This sign-in has expired", "<code>&lt;b&gt;rid</code>"}},
		{"error", web.ErrorPage{Key: "too_many_wrong", BackAction: "/login/x/back", ClientName: "Demo <Air>", CSRFToken: "tok"}, []string{
			`<form method="post" action="/login/x/back">`, `name="csrf_token" value="tok"`, `>Back to Demo &lt;Air&gt;</button>`,
		}},
		{"home", web.HomePage{Retention: 365 * 24 * time.Hour, LoginTTL: 15 * time.Minute, SessionTTL: 15 * time.Minute, AccessTokenTTL: time.Hour, RefreshTokenTTL: 30 * 24 * time.Hour, MePath: "/me", GuidePath: "/docs/integration"}, []string{
			`href="/me"`, `href="/docs/integration"`, `deleted after 365 days`, `signed in for 15 minutes`, `for 60 minutes; if you let it keep reading, for up to 30 days`,
		}},
		{"home", web.HomePage{}, []string{`kept until an administrator deletes them`}},
		{"guide", web.GuidePage{Text: "# Guide <x>"}, []string{`<pre class="doc" lang="en" dir="ltr"># Guide &lt;x&gt;</pre>`}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := fmt.Sprintf("/render/%s/%d", tt.name, i)
			e.GET(path, func(c *gin.Context) { web.Render(c, http.StatusTeapot, tt.name, tt.data) })
			w := do(e, httptest.NewRequest(http.MethodGet, path, nil))
			if w.Code != http.StatusTeapot {
				t.Fatalf("status = %d", w.Code)
			}
			for _, s := range tt.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("page lacks %s", s)
				}
			}
			// Pages work without JavaScript; the one script a page may
			// carry is inline with the response's CSP nonce.
			if n := strings.Count(w.Body.String(), "<script"); n > strings.Count(w.Body.String(), "<script nonce=") {
				t.Error("a script without the CSP nonce")
			}
		})
	}
	t.Run("unknown page", func(t *testing.T) {
		e.GET("/render-unknown", func(c *gin.Context) { web.Render(c, http.StatusOK, "nope", nil) })
		if w := do(e, httptest.NewRequest(http.MethodGet, "/render-unknown", nil)); w.Code != 500 {
			t.Errorf("status = %d", w.Code)
		}
	})
}

// A wrong code says the tries left only when they are limited, through one
// catalogue message shared by the sign-in and the person's own page.
func TestWrongOTP(t *testing.T) {
	if m := web.WrongOTP(2, true); m.ID != web.MsgWrongOTPLeft || fmt.Sprint(m.Args) != "[Count 2]" {
		t.Errorf("limited: %+v", m)
	}
	if m := web.WrongOTP(0, false); m.ID != web.MsgWrongOTP || len(m.Args) != 0 {
		t.Errorf("unlimited: %+v", m)
	}
}
