package consent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// Registered people in the fake registry.
const (
	mobileAsha   = "+919876543210"
	mobileNobody = "+919812343210" // not registered; same masked form as Asha's
	nameAsha     = "Asha Kumari"
	clientRail   = "rail"
	clientAir    = "air"
)

// fakeRegistry answers Match with MatchFunc; calls counts the calls.
type fakeRegistry struct {
	MatchFunc func(ctx context.Context, mobile, name string) (*store.Beneficiary, error)

	mu    sync.Mutex
	calls int
}

func (r *fakeRegistry) Match(ctx context.Context, mobile, name string) (*store.Beneficiary, error) {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	return r.MatchFunc(ctx, mobile, name)
}

func (r *fakeRegistry) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// aRegistry knows Asha on her mobile, by her exact name.
func aRegistry(_ context.Context, mobile, name string) (*store.Beneficiary, error) {
	if mobile == mobileAsha && name == nameAsha {
		return &store.Beneficiary{ID: "ben-asha", Mobile: mobileAsha, Name: nameAsha}, nil
	}
	return nil, fmt.Errorf("fake registry: %w", claims.ErrNoMatch)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type testServer struct {
	t      *testing.T
	st     *store.Store
	flow   *consent.Flow
	otps   *otp.Service
	engine *gin.Engine
	clock  *kycvstest.Clock
	sms    *kycvstest.Inbox
	reg    *fakeRegistry
	logs   *syncBuffer
	cfg    testConfig
}

// testConfig is what a test may tweak: the flow's configuration and the
// policy of the OTP service handed to it.
type testConfig struct {
	consent.Config
	OTP otp.Config
}

// newFlow builds the flow over st with an OTP service of cfg.OTP.
func newFlow(tb testing.TB, cfg testConfig, st *store.Store, reg consent.Registry, sender otp.Sender) (*consent.Flow, *otp.Service) {
	tb.Helper()
	otps := otp.New(cfg.OTP, st, sender)
	flow, err := consent.New(cfg.Config, st, reg, otps)
	if err != nil {
		tb.Fatal(err)
	}
	return flow, otps
}

func finishURL(ch string) string { return "/finish/" + ch }

// newTestServer builds the real engine and flow over a fresh store of
// dialect, with the default policies; tweak changes only what a test needs.
func newTestServer(t *testing.T, dialect string, tweak func(*testConfig)) *testServer {
	t.Helper()
	st := storetest.Open(t, dialect)
	clock := kycvstest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := testConfig{
		Config: consent.Config{
			SessionTTL: consent.DefaultSessionTTL,
			CSRFKey:    testCSRFKey,
			FinishURL:  finishURL,
			Now:        clock.Now,
			Logger:     logger,
		},
		OTP: otp.Config{
			Secret: []byte("0123456789abcdef0123456789abcdef"),
			Limits: otp.Limits{
				TTL:            otp.DefaultTTL,
				MaxTries:       otp.DefaultMaxTries,
				ResendInterval: otp.DefaultResendInterval,
				DailyLimit:     otp.DefaultDailyLimit,
				IPLimit:        otp.DefaultIPLimit,
			},
			ServiceName: "kycvs",
			Now:         clock.Now,
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	engine, err := web.NewEngine(web.Config{Logger: logger, SecureCookies: cfg.SecureCookies, MaxBodyBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sms := &kycvstest.Inbox{}
	reg := &fakeRegistry{MatchFunc: aRegistry}
	flow, otps := newFlow(t, cfg, st, reg, sms)
	flow.Register(engine)

	ctx := context.Background()
	for _, c := range []store.Client{
		{ID: clientRail, Name: "Indian Rail", RedirectURIs: store.StringList{"https://rail.example/cb"}},
		{ID: clientAir, Name: "Air <Example>", RedirectURIs: store.StringList{"https://air.example/cb"}},
	} {
		if err := st.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	return &testServer{t: t, st: st, flow: flow, otps: otps, engine: engine, clock: clock, sms: sms, reg: reg, logs: logs, cfg: cfg}
}

// eachBackend runs fn on a fresh test server of every backend storetest offers.
func eachBackend(t *testing.T, tweak func(*testConfig), fn func(t *testing.T, ts *testServer)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, dialect string) { fn(t, newTestServer(t, dialect, tweak)) })
}

// newChallenge stores a login request as oauth would and returns its ID.
func (ts *testServer) newChallenge(mods ...func(*store.LoginRequest)) string {
	ts.t.Helper()
	var b [16]byte
	_, _ = rand.Read(b[:])
	now := ts.clock.Now()
	lr := &store.LoginRequest{
		ID:        hex.EncodeToString(b[:]),
		ClientID:  clientRail,
		Form:      "client_id=rail&response_type=code",
		Scopes:    store.StringList{"openid", "vaccination_status"},
		Claims:    store.StringList{"vaccination_status"},
		State:     store.LoginPending,
		CreatedAt: now,
		ExpiresAt: now.Add(15 * time.Minute),
	}
	for _, m := range mods {
		m(lr)
	}
	if err := ts.st.CreateLoginRequest(context.Background(), lr); err != nil {
		ts.t.Fatal(err)
	}
	return lr.ID
}

func (ts *testServer) request(ch string) *store.LoginRequest {
	ts.t.Helper()
	lr, err := ts.st.GetLoginRequest(context.Background(), ch)
	if err != nil {
		ts.t.Fatal(err)
	}
	return lr
}

// lastOTP is the code in the latest SMS to mobile.
func (ts *testServer) lastOTP(mobile string) string {
	ts.t.Helper()
	otp, ok := otp.LastCode(ts.sms.All(), mobile)
	if !ok {
		ts.t.Fatalf("no SMS with a code to %s", mobile)
	}
	return otp
}

// browser is a person's browser on the engine (kycvstest.Browser over a
// HandlerTransport): cookies kept, redirects never followed, every request
// from one IP address, and forms posted with the CSRF token of the last
// page that had one.
type browser struct {
	*kycvstest.Browser
	ts  *testServer
	net *kycvstest.HandlerTransport

	mu   sync.Mutex
	csrf string // the CSRF token of the last page with a form
}

func (ts *testServer) browser() *browser {
	net := &kycvstest.HandlerTransport{Handler: ts.engine}
	b := kycvstest.NewBrowser(ts.t).NoFollow()
	b.Client.Transport = net
	b.Base = "https://example.com" // https, so the jar sends Secure cookies
	bb := &browser{Browser: b, ts: ts, net: net}
	bb.from("198.51.100.7")
	return bb
}

// from makes the browser's next requests come from ip.
func (b *browser) from(ip string) { b.net.RemoteAddr = ip + ":40000" }

func (b *browser) do(method, path string, body io.Reader) kycvstest.Page {
	req, err := http.NewRequest(method, b.Base+path, body)
	if err != nil {
		b.ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	p := b.Do(req)
	if tok := p.Hidden(web.CSRFField); tok != "" {
		b.mu.Lock()
		b.csrf = tok
		b.mu.Unlock()
	}
	if p.Status >= 500 && p.Status != http.StatusServiceUnavailable {
		b.ts.t.Errorf("%s %s: status %d; logs:\n%s", method, path, p.Status, b.ts.logs.String())
	}
	return p
}

func (b *browser) get(path string) kycvstest.Page { return b.do(http.MethodGet, path, nil) }

// token is the CSRF token of the last page with a form this browser got.
func (b *browser) token() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.csrf
}

// post submits form as the page's form would: with this browser's CSRF
// token in csrf_token unless the form sets that field itself.
func (b *browser) post(path string, form url.Values) kycvstest.Page {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if _, set := f[web.CSRFField]; !set {
		if tok := b.token(); tok != "" {
			f.Set(web.CSRFField, tok)
		}
	}
	return b.do(http.MethodPost, path, strings.NewReader(f.Encode()))
}

// cookie is the browser's cookie called name (its name and value, as the
// jar sends it), nil when it has none.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.Base + "/")
	for _, c := range b.Client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// start opens the challenge's page and submits mobile and name.
func (b *browser) start(ch, mobile, name string) kycvstest.Page {
	b.ts.t.Helper()
	if w := b.get("/login/" + ch); w.Status != http.StatusOK {
		b.ts.t.Fatalf("GET /login: %d", w.Status)
	}
	return b.post("/login/"+ch, url.Values{"mobile": {mobile}, "name": {name}})
}

// signIn runs the whole OTP path for Asha on ch and returns the final answer.
func (b *browser) signIn(ch string) kycvstest.Page {
	b.ts.t.Helper()
	if w := b.start(ch, mobileAsha, nameAsha); w.Status != http.StatusSeeOther {
		b.ts.t.Fatalf("start: %d %s", w.Status, w.Body)
	}
	return b.post("/login/"+ch+"/otp", url.Values{"otp": {b.ts.lastOTP(mobileAsha)}})
}

func wantStatus(t *testing.T, w kycvstest.Page, status int) {
	t.Helper()
	if w.Status != status {
		t.Fatalf("status = %d, want %d; body:\n%s", w.Status, status, w.Body)
	}
}

// wantRedirect checks that w is a 303 to location, leaving out the
// version of the request a page after a write names (TestPageAfterSend).
func wantRedirect(t *testing.T, w kycvstest.Page, location string) {
	t.Helper()
	wantStatus(t, w, http.StatusSeeOther)
	if got := withoutVersion(t, w.Header.Get("Location")); got != location {
		t.Fatalf("Location = %q, want %q", w.Header.Get("Location"), location)
	}
}

// withoutVersion is location without its v parameter, which must be a
// version when there.
func withoutVersion(t *testing.T, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("Location %q: %v", location, err)
	}
	q := u.Query()
	if v, ok := q["v"]; ok {
		if _, err := strconv.ParseInt(v[0], 10, 64); len(v) != 1 || err != nil {
			t.Fatalf("Location %q: v is not a version", location)
		}
		q.Del("v")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// follow checks that w is a 303 to the challenge's page with outcome
// code m ("" for none) and returns that page as this browser gets it.
func (b *browser) follow(w kycvstest.Page, ch, m string) kycvstest.Page {
	b.ts.t.Helper()
	want := "/login/" + ch
	if m != "" {
		want += "?m=" + m
	}
	wantRedirect(b.ts.t, w, want)
	return b.get(w.Header.Get("Location"))
}

func wantBody(t *testing.T, w kycvstest.Page, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(w.Body, p) {
			t.Errorf("body lacks %q:\n%s", p, w.Body)
		}
	}
}

func wantState(t *testing.T, ts *testServer, ch string, state store.LoginState) *store.LoginRequest {
	t.Helper()
	lr := ts.request(ch)
	if lr.State != state {
		t.Fatalf("state = %q, want %q", lr.State, state)
	}
	return lr
}

func TestHappyPath(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			eachBackend(t, func(c *testConfig) { c.SecureCookies = secure }, func(t *testing.T, ts *testServer) {
				ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.LoginHint = "98765 43210" })
				b := ts.browser()

				w := b.get("/login/" + ch)
				wantStatus(t, w, http.StatusOK)
				// The jar keeps the cookie; the answer that set it says how.
				var csrf *http.Cookie
				for _, c := range w.Cookies() {
					if c.Name == web.CSRFCookieName(web.CSRFCookie, secure) {
						csrf = c
					}
				}
				if b.cookie(web.CSRFCookieName(web.CSRFCookie, secure)) == nil || csrf == nil || csrf.Secure != secure {
					t.Fatalf("CSRF cookie %+v", csrf)
				}
				wantBody(t, w,
					`<strong>Indian Rail</strong> wants to check your vaccination status`,
					`type="tel" name="mobile" autocomplete="tel" required value="&#43;919876543210"`,
					`name="name" autocomplete="name" required`,
					`<label for="mobile">`, `<label for="name">`,
					`<input type="hidden" name="csrf_token" value="`+b.token()+`">`,
					`action="/login/`+ch+`"`, `action="/login/`+ch+`/cancel"`,
				)
				if cc := w.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q", cc)
				}

				w = b.post("/login/"+ch, url.Values{"mobile": {"98765 43210"}, "name": {"  " + nameAsha + " "}})
				wantRedirect(t, w, "/login/"+ch)
				sms := ts.sms.All()
				if len(sms) != 1 || sms[0].To != mobileAsha || !sms[0].SentAt.Equal(ts.clock.Now()) {
					t.Fatalf("SMS = %+v", sms)
				}
				otp := ts.lastOTP(mobileAsha)
				wantText := otp + " is your code to share your vaccination status with Indian Rail via kycvs. Valid 3 minutes. Entering it gives consent."
				if sms[0].Text != wantText {
					t.Errorf("SMS text = %q, want %q", sms[0].Text, wantText)
				}
				lr := wantState(t, ts, ch, store.LoginOTPSent)
				if lr.Mobile != mobileAsha || lr.Name != nameAsha || lr.OTPSends != 1 {
					t.Errorf("stored request: mobile %q name %q sends %d", lr.Mobile, lr.Name, lr.OTPSends)
				}
				if bytes.Contains(lr.OTPHash, []byte(otp)) || len(lr.OTPHash) != sha256.Size {
					t.Errorf("OTP stored as %x, want only a keyed hash", lr.OTPHash)
				}

				w = b.get("/login/" + ch)
				wantStatus(t, w, http.StatusOK)
				wantBody(t, w,
					`name="otp" autocomplete="one-time-code" inputmode="numeric" maxlength="6" required`,
					`By entering the code you agree to share with <strong>Indian Rail</strong>:`,
					`<li>your vaccination status (not, partially or fully vaccinated)</li>`,
					`+91******3210`,
					`data-wait="60"`, `>New code in 60 seconds</button>`, `>Change mobile or name</button>`,
					`Don't share`,
				)
				if strings.Contains(w.Body, "revoke") {
					t.Error("offline_access line shown though not asked for")
				}

				ts.clock.Advance(10 * time.Second)
				w = b.post("/login/"+ch+"/otp", url.Values{"otp": {otp}})
				wantRedirect(t, w, finishURL(ch))

				lr = wantState(t, ts, ch, store.LoginApproved)
				if lr.BeneficiaryID != "ben-asha" || lr.AuthTime == nil || !lr.AuthTime.Equal(ts.clock.Now()) || len(lr.OTPHash) != 0 {
					t.Errorf("approved request: %+v", lr)
				}
				var cookie *http.Cookie
				for _, c := range w.Cookies() {
					if c.Name == consent.SessionCookie {
						cookie = c
					}
				}
				if cookie == nil {
					t.Fatal("no session cookie")
				}
				if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" ||
					cookie.MaxAge != int(consent.DefaultSessionTTL/time.Second) || cookie.Secure != secure {
					t.Errorf("session cookie flags: %+v", cookie)
				}
				sum := sha256.Sum256([]byte(cookie.Value))
				if lr.SessionID != hex.EncodeToString(sum[:]) {
					t.Errorf("SessionID = %q, want hex SHA-256 of the cookie", lr.SessionID)
				}

				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.AddCookie(cookie)
				sess, err := ts.flow.CurrentSession(r)
				if err != nil {
					t.Fatal(err)
				}
				if sess.ID != lr.SessionID || sess.BeneficiaryID != "ben-asha" || sess.Mobile != mobileAsha ||
					!sess.AuthTime.Equal(*lr.AuthTime) || !sess.ExpiresAt.Equal(ts.clock.Now().Add(consent.DefaultSessionTTL)) {
					t.Errorf("session: %+v", sess)
				}
				if got := sess.Grants[clientRail]; len(got) != 2 || !got.Contains("openid") || !got.Contains("vaccination_status") {
					t.Errorf("grants = %v", sess.Grants)
				}

				// A double submit after approval goes to the finish URL again
				// without approving twice.
				wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {otp}}), finishURL(ch))
				if ts.request(ch).SessionID != lr.SessionID {
					t.Error("second submit changed the approval")
				}

				logs := ts.logs.String()
				for _, secret := range []string{otp, "9876543210", cookie.Value, csrf.Value} {
					if strings.Contains(logs, secret) {
						t.Errorf("logs contain %q:\n%s", secret, logs)
					}
				}
			})
		})
	}
}

func TestCSRF(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		b.get("/login/" + ch)
		tests := []struct {
			name  string
			token []string
		}{
			{"missing", nil},
			{"empty", []string{""}},
			{"wrong", []string{strings.Repeat("x", 43)}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				form := url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}
				form[web.CSRFField] = tt.token
				if tt.token == nil {
					// post fills the token unless the field is set; send
					// the request by hand to leave it out.
					w := b.do(http.MethodPost, "/login/"+ch, strings.NewReader(form.Encode()))
					wantStatus(t, w, http.StatusForbidden)
					wantBody(t, w, "This form has expired, go back and try again")
					return
				}
				w := b.post("/login/"+ch, form)
				wantStatus(t, w, http.StatusForbidden)
			})
		}
		t.Run("other browser's token", func(t *testing.T) {
			other := ts.browser()
			other.get("/login/" + ch)
			w := b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}, web.CSRFField: {other.token()}})
			wantStatus(t, w, http.StatusForbidden)
		})
		if n := len(ts.sms.All()); n != 0 {
			t.Errorf("%d SMS sent past a failed CSRF check", n)
		}
		wantState(t, ts, ch, store.LoginPending)
	})
}

func TestOTPExpiry(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		code := ts.lastOTP(mobileAsha)
		ts.clock.Advance(otp.DefaultTTL + time.Second)
		w := b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {code}}), ch, "expired")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "This code has expired. Ask for a new one.", `role="alert"`, `>Send a new code</button>`, `<title>Error: `)
		wantState(t, ts, ch, store.LoginOTPSent)

		wantRedirect(t, b.post("/login/"+ch+"/resend", nil), "/login/"+ch+"?m=sent")
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}}), finishURL(ch))
	})
}

func TestWrongTries(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		otp := ts.lastOTP(mobileAsha)
		wrong := fmt.Sprintf("%06d", (atoi(otp)+1)%1_000_000)

		w := b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {wrong}}), ch, "wrong")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, "That code is not right. You have 2 tries left.", `aria-invalid="true"`, `<title>Error: Enter the code`)
		// A reload shows the same page and submits nothing.
		wantBody(t, b.get("/login/"+ch+"?m=wrong"), "You have 2 tries left.")
		w = b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {wrong}}), ch, "wrong")
		wantBody(t, w, "You have 1 try left.")
		if lr := wantState(t, ts, ch, store.LoginOTPSent); lr.OTPTries != 2 {
			t.Errorf("tries = %d, want 2", lr.OTPTries)
		}
		w = b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {wrong}}), ch, "")
		wantStatus(t, w, http.StatusGone)
		wantBody(t, w, "Too many wrong codes", "start again", `action="/login/`+ch+`/back"`, ">Back to Indian Rail</button>")
		wantState(t, ts, ch, store.LoginDead)

		// The right code no longer helps, nor does a new one.
		wantStatus(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {otp}}), http.StatusGone)
		wantStatus(t, b.post("/login/"+ch+"/resend", nil), http.StatusGone)
		wantStatus(t, b.get("/login/"+ch), http.StatusGone)
		wantState(t, ts, ch, store.LoginDead)
		if ts.reg.callCount() != 0 {
			t.Error("registry read without a valid code")
		}
	})
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestResend(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		first := ts.lastOTP(mobileAsha)

		ts.clock.Advance(59 * time.Second)
		w := b.follow(b.post("/login/"+ch+"/resend", nil), ch, "wait")
		wantBody(t, w, `data-wait="1"`, ">New code in 1 second</button>", "ask for a new one when the wait is over")
		// The form on the first page, resubmitted (Back button), waits too.
		wantRedirect(t, b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}), "/login/"+ch+"?m=wait")
		if n := len(ts.sms.All()); n != 1 {
			t.Fatalf("%d SMS, want 1", n)
		}

		ts.clock.Advance(time.Second)
		// The wait is over: "wait" in the URL shows nothing any more.
		if body := b.get("/login/" + ch + "?m=wait").Body; strings.Contains(body, "wait is over") || strings.Contains(body, "data-wait") {
			t.Error("the wait is shown after it ended")
		}
		w = b.follow(b.post("/login/"+ch+"/resend", nil), ch, "sent")
		wantBody(t, w, `<p class="notice" role="status">We sent a new code.</p>`)
		if n := len(ts.sms.All()); n != 2 {
			t.Fatalf("%d SMS, want 2", n)
		}
		second := ts.lastOTP(mobileAsha)
		if first != second {
			w := b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {first}}), ch, "wrong")
			wantBody(t, w, "That code is not right")
		}
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {second}}), finishURL(ch))
		if lr := ts.request(ch); lr.OTPSends != 2 {
			t.Errorf("OTPSends = %d, want 2", lr.OTPSends)
		}
	})
}

func TestResendIntervalOff(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.ResendInterval = 0 }, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		wantBody(t, b.get("/login/"+ch), ">Send a new code</button>")
		wantRedirect(t, b.post("/login/"+ch+"/resend", nil), "/login/"+ch+"?m=sent")
	})
}

func TestSendLimits(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*testConfig)
		// mobile and ip of the nth send
		mobile func(n int) string
		ip     func(n int) string
	}{
		{
			name:   "daily limit per mobile",
			tweak:  func(c *testConfig) { c.OTP.DailyLimit = 2 },
			mobile: func(int) string { return mobileAsha },
			ip:     func(n int) string { return fmt.Sprintf("203.0.113.%d", n+1) },
		},
		{
			name:   "limit per IP",
			tweak:  func(c *testConfig) { c.OTP.IPLimit = 2 },
			mobile: func(n int) string { return fmt.Sprintf("+91987654321%d", n) },
			ip:     func(int) string { return "203.0.113.9" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, tt.tweak, func(t *testing.T, ts *testServer) {
				for n := 0; n < 3; n++ {
					ch := ts.newChallenge()
					b := ts.browser()
					b.from(tt.ip(n))
					w := b.start(ch, tt.mobile(n), nameAsha)
					if n < 2 {
						wantRedirect(t, w, "/login/"+ch)
						continue
					}
					w = b.follow(w, ch, "limit")
					wantStatus(t, w, http.StatusTooManyRequests)
					wantBody(t, w, "Too many codes")
					wantState(t, ts, ch, store.LoginPending)
				}
				if n := len(ts.sms.All()); n != 2 {
					t.Errorf("%d SMS sent, want 2", n)
				}
				// The limit's window ends.
				ts.clock.Advance(24*time.Hour + time.Second)
				ch := ts.newChallenge()
				b := ts.browser()
				b.from(tt.ip(3))
				wantRedirect(t, b.start(ch, tt.mobile(3), nameAsha), "/login/"+ch)
			})
		})
	}
}

// TestNoEnumeration: asking for a code says nothing about whether the
// mobile is registered: same status, same pages, an SMS either way, and
// the registry is not even asked.
func TestNoEnumeration(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		type answer struct {
			status   int
			location string
			start    string
			page     string
		}
		run := func(mobile string) answer {
			ch := ts.newChallenge()
			b := ts.browser()
			b.get("/login/" + ch)
			w := b.post("/login/"+ch, url.Values{"mobile": {mobile}, "name": {nameAsha}})
			page := b.get("/login/" + ch).Body
			norm := func(s string) string {
				s = strings.ReplaceAll(s, ch, "CHALLENGE")
				s = strings.ReplaceAll(s, b.token(), "CSRF")
				s = regexp.MustCompile(`nonce="[^"]*"`).ReplaceAllString(s, `nonce="NONCE"`)
				return s
			}
			return answer{w.Status, norm(w.Header.Get("Location")), norm(w.Body), norm(page)}
		}
		registered := run(mobileAsha)
		unregistered := run(mobileNobody)
		if registered != unregistered {
			t.Errorf("answers differ:\nregistered:   %+v\nunregistered: %+v", registered, unregistered)
		}
		sms := ts.sms.All()
		if len(sms) != 2 || sms[0].To != mobileAsha || sms[1].To != mobileNobody {
			t.Errorf("SMS = %+v, want one to each", sms)
		}
		if n := ts.reg.callCount(); n != 0 {
			t.Errorf("registry asked %d times before any code was entered", n)
		}
	})
}

func TestNameMismatch(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, "Asha K"), http.StatusSeeOther)
		w := b.follow(b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}}), ch, "")
		wantStatus(t, w, http.StatusOK)
		nomatch := []string{
			`No vaccination record matches this name for <span class="nowrap" dir="ltr">+91******3210</span>`,
			"Check the name: it must be spelt as on your vaccination certificate. Your code was right, so you do not need a new one.",
			`name="name" autocomplete="name" required maxlength="100" value="Asha K"`,
			`action="/login/` + ch + `/name"`, `action="/login/` + ch + `/cancel"`, `>Back to Indian Rail</button>`,
		}
		wantBody(t, w, nomatch...)
		lr := wantState(t, ts, ch, store.LoginVerified)
		if lr.AuthTime == nil || len(lr.OTPHash) != 0 {
			t.Errorf("verified request: %+v", lr)
		}
		wantBody(t, b.get("/login/"+ch), nomatch...)

		ts.clock.Advance(5 * time.Minute) // the code's life does not matter any more
		w = b.follow(b.post("/login/"+ch+"/name", url.Values{"name": {"Asha Kumar"}}), ch, "")
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `value="Asha Kumar"`, "No vaccination record matches")
		w = b.follow(b.post("/login/"+ch+"/name", url.Values{"name": {" "}}), ch, "name")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "Enter your full name", `aria-invalid="true"`)

		w = b.post("/login/"+ch+"/name", url.Values{"name": {nameAsha}})
		wantRedirect(t, w, finishURL(ch))
		lr = wantState(t, ts, ch, store.LoginApproved)
		if lr.BeneficiaryID != "ben-asha" || lr.Name != nameAsha {
			t.Errorf("approved request: %+v", lr)
		}
		if n := len(ts.sms.All()); n != 1 {
			t.Errorf("%d SMS, want 1: no new code for a corrected name", n)
		}
		if b.cookie(consent.SessionCookie) == nil {
			t.Error("no session after approval by name")
		}
	})
}

func TestRegistryUnavailable(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ts.reg.MatchFunc = func(context.Context, string, string) (*store.Beneficiary, error) {
			return nil, store.ErrUnavailable
		}
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		w := b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}})
		// A redirect to the page that says so, in the words of every
		// outage: 503 and Retry-After for programs, and a reload asks
		// nothing of the registry.
		retry := int(web.OutageRetryAfter / time.Second)
		wantRetryAfter(t, w, retry, retry)
		w = b.follow(w, ch, "registry")
		wantStatus(t, w, http.StatusServiceUnavailable)
		wantRetryAfter(t, w, retry, retry)
		outage := "kycvs cannot reach its database right now. Try again in a minute. Your code was right, so you do not need a new one."
		wantBody(t, w, "<title>Service unavailable", "<h1>Service unavailable</h1>", outage, `action="/login/`+ch+`/name"`)
		wantState(t, ts, ch, store.LoginVerified)
		if got := b.get("/login/" + ch); got.Status != http.StatusOK || strings.Contains(got.Body, outage) {
			t.Errorf("the page without the outcome: %d", got.Status)
		}

		ts.reg.MatchFunc = aRegistry
		wantRedirect(t, b.post("/login/"+ch+"/name", url.Values{"name": {nameAsha}}), finishURL(ch))
	})
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name   string
		reach  func(ts *testServer, b *browser, ch string) // brings ch to the step
		reason string
	}{
		{"from the mobile form", func(*testServer, *browser, string) {}, "cancelled"},
		{"from the OTP form", func(ts *testServer, b *browser, ch string) {
			b.start(ch, mobileAsha, nameAsha)
		}, "cancelled"},
		{"from no match", func(ts *testServer, b *browser, ch string) {
			b.start(ch, mobileAsha, "Someone Else")
			b.post("/login/"+ch+"/otp", url.Values{"otp": {ts.lastOTP(mobileAsha)}})
		}, "no_record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachBackend(t, nil, func(t *testing.T, ts *testServer) {
				ch := ts.newChallenge()
				b := ts.browser()
				b.get("/login/" + ch)
				tt.reach(ts, b, ch)
				wantRedirect(t, b.post("/login/"+ch+"/cancel", nil), finishURL(ch))
				if lr := wantState(t, ts, ch, store.LoginDenied); lr.DenyReason != tt.reason {
					t.Errorf("DenyReason = %q, want %q", lr.DenyReason, tt.reason)
				}
				// Cancelling twice, or a code after cancelling, only goes to
				// the finish URL again.
				wantRedirect(t, b.post("/login/"+ch+"/cancel", nil), finishURL(ch))
				wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {"123456"}}), finishURL(ch))
				wantState(t, ts, ch, store.LoginDenied)
			})
		})
	}
}

func TestSignedInConsent(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		b := ts.browser()
		first := ts.newChallenge()
		wantRedirect(t, b.signIn(first), finishURL(first))
		sessID := ts.request(first).SessionID
		authTime := *ts.request(first).AuthTime
		ts.clock.Advance(time.Minute)

		t.Run("share", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) {
				lr.ClientID = clientAir
				lr.Scopes = store.StringList{"openid", "vaccination_status", "profile", "offline_access"}
				lr.Claims = store.StringList{"vaccination_status", "name"}
			})
			w := b.get("/login/" + ch)
			wantStatus(t, w, http.StatusOK)
			wantBody(t, w,
				`<strong>Air &lt;Example&gt;</strong> asks for:`,
				`<li>your vaccination status (not, partially or fully vaccinated)</li>`, `<li>your name</li>`,
				`may keep reading them until you revoke its access`,
				`name="decision" value="share"`, `name="decision" value="deny"`,
				`Checking the record of <strong>Asha Kumari</strong>`,
				`>Share as Asha Kumari (<span class="nowrap" dir="ltr">+91******3210</span>)</button>`,
				`>Not you? Use another mobile or name</button>`,
			)
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"share"}}), finishURL(ch))
			lr := wantState(t, ts, ch, store.LoginApproved)
			if lr.BeneficiaryID != "ben-asha" || lr.SessionID != sessID || lr.AuthTime == nil || !lr.AuthTime.Equal(authTime) {
				t.Errorf("approved request: %+v", lr)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(b.cookie(consent.SessionCookie))
			sess, err := ts.flow.CurrentSession(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(sess.Grants[clientRail]) != 2 || len(sess.Grants[clientAir]) != 4 {
				t.Errorf("grants = %v", sess.Grants)
			}
			if n := len(ts.sms.All()); n != 1 {
				t.Errorf("%d SMS: a signed-in person needs no new code", n)
			}
		})
		t.Run("deny", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ClientID = clientAir })
			b.get("/login/" + ch)
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"deny"}}), finishURL(ch))
			if lr := wantState(t, ts, ch, store.LoginDenied); lr.DenyReason != "cancelled" {
				t.Errorf("DenyReason = %q", lr.DenyReason)
			}
		})
		t.Run("bad decision", func(t *testing.T) {
			ch := ts.newChallenge()
			wantStatus(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"maybe"}}), http.StatusBadRequest)
			wantState(t, ts, ch, store.LoginPending)
		})
		t.Run("force login asks for a code", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ForceLogin = true })
			wantBody(t, b.get("/login/"+ch), `name="mobile"`)
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"share"}}), "/login/"+ch)
			wantState(t, ts, ch, store.LoginPending)
			// The new sign-in replaces the old session.
			wantRedirect(t, b.signIn(ch), finishURL(ch))
			if got := ts.request(ch).SessionID; got == sessID {
				t.Error("forced sign-in kept the old session")
			}
		})
		t.Run("not you starts a fresh sign-in without declining", func(t *testing.T) {
			ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ClientID = clientAir })
			wantBody(t, b.get("/login/"+ch), `action="/login/`+ch+`/switch"`)
			wantRedirect(t, b.post("/login/"+ch+"/switch", nil), "/login/"+ch)
			if lr := wantState(t, ts, ch, store.LoginPending); !lr.ForceLogin {
				t.Error("the challenge does not ask for a new sign-in")
			}
			w := b.get("/login/" + ch)
			wantBody(t, w, `name="mobile"`, `name="name"`)
			if strings.Contains(w.Body, "Asha Kumari") {
				t.Error("the sign-in form shows the previous person's name")
			}
			// The one-tap answer is gone for this challenge: only a new code
			// approves it.
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"share"}}), "/login/"+ch)
			wantState(t, ts, ch, store.LoginPending)
		})
		t.Run("not you on a finished sign-in", func(t *testing.T) {
			ch := ts.newChallenge()
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"deny"}}), finishURL(ch))
			wantRedirect(t, b.post("/login/"+ch+"/switch", nil), finishURL(ch))
			wantState(t, ts, ch, store.LoginDenied)
		})
		t.Run("no session", func(t *testing.T) {
			ch := ts.newChallenge()
			other := ts.browser()
			wantBody(t, other.get("/login/"+ch), `name="mobile"`)
			wantRedirect(t, other.post("/login/"+ch+"/consent", url.Values{"decision": {"share"}}), "/login/"+ch)
			wantState(t, ts, ch, store.LoginPending)
		})
		t.Run("session expired", func(t *testing.T) {
			ts.clock.Advance(consent.DefaultSessionTTL)
			ch := ts.newChallenge()
			wantBody(t, b.get("/login/"+ch), `name="mobile"`)
			wantRedirect(t, b.post("/login/"+ch+"/consent", url.Values{"decision": {"share"}}), "/login/"+ch)
			wantState(t, ts, ch, store.LoginPending)
		})
	})
}

func TestEndSession(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		b := ts.browser()
		ch := ts.newChallenge()
		wantRedirect(t, b.signIn(ch), finishURL(ch))
		cookie := b.cookie(consent.SessionCookie)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(cookie)
		w := httptest.NewRecorder()
		if err := ts.flow.EndSession(w, r); err != nil {
			t.Fatal(err)
		}
		if c := w.Result().Cookies(); len(c) != 1 || c[0].Name != consent.SessionCookie || c[0].MaxAge >= 0 {
			t.Errorf("EndSession cookies: %+v", c)
		}
		if _, err := ts.flow.CurrentSession(r); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CurrentSession after EndSession: %v", err)
		}
		for _, v := range []string{"", "not base64!", "c2hvcnQ"} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.AddCookie(&http.Cookie{Name: consent.SessionCookie, Value: v})
			if _, err := ts.flow.CurrentSession(r); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("cookie %q: %v", v, err)
			}
		}
	})
}

func TestSenderFailure(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		var mu sync.Mutex
		failing := true
		ts.sms.SendFunc = func(context.Context, otp.SMS) error {
			mu.Lock()
			defer mu.Unlock()
			if failing {
				return errors.New("gateway down")
			}
			return nil
		}
		setFailing := func(v bool) { mu.Lock(); failing = v; mu.Unlock() }

		ch := ts.newChallenge()
		b := ts.browser()
		w := b.follow(b.start(ch, mobileAsha, nameAsha), ch, "unsent")
		wantBody(t, w, "We could not send the SMS, try again.", `value="&#43;919876543210"`, `value="Asha Kumari"`)
		lr := wantState(t, ts, ch, store.LoginPending)
		if lr.OTPSentAt != nil || len(lr.OTPHash) != 0 || lr.OTPSends != 0 {
			t.Errorf("failed send left %+v", lr)
		}

		// A retry right away works: no resend wait for a failed send.
		setFailing(false)
		wantRedirect(t, b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}), "/login/"+ch)
		good := ts.lastOTP(mobileAsha)

		// A failed resend keeps the code that did arrive.
		ts.clock.Advance(otp.DefaultResendInterval)
		setFailing(true)
		w = b.follow(b.post("/login/"+ch+"/resend", nil), ch, "unsent")
		wantBody(t, w, "We could not send the SMS, try again.", `name="otp"`, `>Send a new code</button>`)
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {good}}), finishURL(ch))
	})
}

// TestSignInFormPRG: the first form's refusals follow post/redirect/get,
// as the code page does: the POST answers 303 to the challenge's page with
// an outcome code only (what was typed stays with the challenge, never in
// the URL), and that page shows the error on the field (aria-invalid,
// focused, "Error:" title) with what was typed. Reloading it sends nothing.
// A form sent back from the code page (Back button) voids that code.
func TestSignInFormPRG(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		b.get("/login/" + ch)
		w := b.post("/login/"+ch, url.Values{"mobile": {"98765 4321"}, "name": {nameAsha}})
		wantRedirect(t, w, "/login/"+ch+"?m=mobile")
		for range 2 { // the page, then a reload of it
			w = b.get("/login/" + ch + "?m=mobile")
			wantStatus(t, w, http.StatusBadRequest)
			wantBody(t, w, "<title>Error: ", "Enter a valid mobile number", `value="98765 4321"`, `value="`+nameAsha+`"`,
				`aria-describedby="error mobile-hint" aria-invalid="true" autofocus`)
		}
		if n := len(ts.sms.All()); n != 0 {
			t.Fatalf("%d SMS sent for a refused form", n)
		}
		// Without the outcome code the page is the plain form, still filled in.
		w = b.get("/login/" + ch)
		wantStatus(t, w, http.StatusOK)
		wantBody(t, w, `value="98765 4321"`)
		if strings.Contains(w.Body, "aria-invalid") {
			t.Error("the plain form shows an error")
		}

		w = b.follow(b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {"Asha\x00"}}), ch, "name")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, "Enter your full name", `919876543210"`, `value="Asha"`, `aria-invalid="true" autofocus`)

		// From the code page's Back button: a refused form voids the code.
		wantRedirect(t, b.post("/login/"+ch, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}), "/login/"+ch)
		code := ts.lastOTP(mobileAsha)
		w = b.follow(b.post("/login/"+ch, url.Values{"mobile": {"12"}, "name": {nameAsha}}), ch, "mobile")
		wantStatus(t, w, http.StatusBadRequest)
		wantBody(t, w, `value="12"`, "Enter a valid mobile number")
		wantState(t, ts, ch, store.LoginPending)
		wantRedirect(t, b.post("/login/"+ch+"/otp", url.Values{"otp": {code}}), "/login/"+ch)
		wantState(t, ts, ch, store.LoginPending)
	})
}

func TestBadInputs(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		pending := ts.newChallenge()
		sent := ts.newChallenge()
		expired := ts.newChallenge(func(lr *store.LoginRequest) { lr.ExpiresAt = ts.clock.Now().Add(-time.Second) })
		used := ts.newChallenge(func(lr *store.LoginRequest) { lr.State = store.LoginUsed })
		b := ts.browser()
		wantStatus(t, b.start(sent, mobileAsha, nameAsha), http.StatusSeeOther)

		long := strings.Repeat("a", 300)
		tests := []struct {
			name   string
			method string
			path   string
			form   url.Values
			status int
			body   string
		}{
			{"unknown challenge", "GET", "/login/nope", nil, 404, "This sign-in link is not valid"},
			{"long challenge", "GET", "/login/" + long, nil, 404, ""},
			{"unknown challenge post", "POST", "/login/nope/otp", url.Values{"otp": {"123456"}}, 404, ""},
			{"unknown challenge cancel", "POST", "/login/nope/cancel", nil, 404, ""},
			{"expired challenge", "GET", "/login/" + expired, nil, 410, `action="/login/` + expired + `/back"`},
			{"expired challenge send", "POST", "/login/" + expired, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}, 410, ""},
			{"expired challenge cancel", "POST", "/login/" + expired + "/cancel", nil, 410, ""},
			{"used challenge", "GET", "/login/" + used, nil, 410, ""},
			{"malformed mobile", "SUBMIT", "/login/" + pending, url.Values{"mobile": {"12ab"}, "name": {nameAsha}}, 400, "Enter a valid mobile number"},
			{"empty mobile", "SUBMIT", "/login/" + pending, url.Values{"name": {nameAsha}}, 400, "Enter a valid mobile number"},
			{"landline", "SUBMIT", "/login/" + pending, url.Values{"mobile": {"+911123456789"}, "name": {nameAsha}}, 400, "Enter a valid mobile number"},
			{"empty name", "SUBMIT", "/login/" + pending, url.Values{"mobile": {mobileAsha}, "name": {"   "}}, 400, "Enter your full name"},
			{"long name", "SUBMIT", "/login/" + pending, url.Values{"mobile": {mobileAsha}, "name": {strings.Repeat("n", 101)}}, 400, "Enter your full name"},
			{"control character in name", "SUBMIT", "/login/" + pending, url.Values{"mobile": {mobileAsha}, "name": {"Asha\x00"}}, 400, "Enter your full name"},
			{"non-digit OTP", "POST", "/login/" + sent + "/otp", url.Values{"otp": {"12a456"}}, 303, ""},
			{"short OTP", "POST", "/login/" + sent + "/otp", url.Values{"otp": {"12345"}}, 303, ""},
			{"five unicode digits OTP", "POST", "/login/" + sent + "/otp", url.Values{"otp": {"١٢٣٤٥"}}, 303, ""},
			{"OTP format page", "GET", "/login/" + sent + "?m=format", nil, 200, "Enter the 6-digit code"},
			{"unknown outcome code", "GET", "/login/" + sent + "?m=%3Cscript%3E", nil, 200, ""},
			{"wrong without a wrong try", "GET", "/login/" + sent + "?m=wrong", nil, 200, ""},
			{"unknown challenge back", "POST", "/login/nope/back", nil, 404, "This sign-in link is not valid"},
			{"used challenge back", "POST", "/login/" + used + "/back", nil, 410, ""},
			{"change before any code", "POST", "/login/" + pending + "/change", nil, 303, ""},
			{"OTP before any code", "POST", "/login/" + pending + "/otp", url.Values{"otp": {"123456"}}, 303, ""},
			{"resend before any code", "POST", "/login/" + pending + "/resend", nil, 303, ""},
			{"name before the code", "POST", "/login/" + sent + "/name", url.Values{"name": {nameAsha}}, 303, ""},
			{"oversized body", "POST", "/login/" + pending, url.Values{"name": {strings.Repeat("x", 5000)}}, 413, "Too much data"},
			{"wrong method", "PUT", "/login/" + pending, nil, 405, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var w kycvstest.Page
				switch tt.method {
				case "GET":
					w = b.get(tt.path)
				case "POST":
					w = b.post(tt.path, tt.form)
				case "SUBMIT":
					// A refused form: 303 to its page with the outcome
					// code (nothing typed in the URL), which shows it.
					w = b.post(tt.path, tt.form)
					wantStatus(t, w, http.StatusSeeOther)
					loc := w.Header.Get("Location")
					if loc != tt.path+"?m=mobile" && loc != tt.path+"?m=name" {
						t.Fatalf("Location = %q", loc)
					}
					w = b.get(loc)
				default:
					w = b.do(tt.method, tt.path, nil)
				}
				wantStatus(t, w, tt.status)
				if tt.body != "" {
					wantBody(t, w, tt.body)
				}
			})
		}
		wantState(t, ts, pending, store.LoginPending)
		if lr := wantState(t, ts, sent, store.LoginOTPSent); lr.OTPTries != 0 {
			t.Errorf("malformed codes counted as tries: %d", lr.OTPTries)
		}
	})
}

// TestConcurrentOTP: several submits of the right code at once (a double
// click, two tabs) approve once and start one session. (Each may look the
// person up in the registry on the request as it read it; one approval
// is written.)
func TestConcurrentOTP(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		otp := ts.lastOTP(mobileAsha)
		csrf, token := b.cookie(web.CSRFCookie), b.token()

		const n = 8
		var wg sync.WaitGroup
		answers := make([]kycvstest.Page, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"otp": {otp}, web.CSRFField: {token}}
				r := httptest.NewRequest(http.MethodPost, "/login/"+ch+"/otp", strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
				w := httptest.NewRecorder()
				ts.engine.ServeHTTP(w, r)
				answers[i] = kycvstest.Page{Status: w.Code, Header: w.Header(), Body: w.Body.String()}
			}()
		}
		wg.Wait()
		var cookies []string
		for _, w := range answers {
			wantRedirect(t, w, finishURL(ch))
			for _, c := range w.Cookies() {
				if c.Name == consent.SessionCookie {
					cookies = append(cookies, c.Value)
				}
			}
		}
		if len(cookies) != 1 {
			t.Fatalf("%d sessions started, want 1", len(cookies))
		}
		sum := sha256.Sum256([]byte(cookies[0]))
		if lr := wantState(t, ts, ch, store.LoginApproved); lr.SessionID != hex.EncodeToString(sum[:]) {
			t.Error("approved with another session than the one set")
		}
	})
}

// TestConcurrentResend: racing resends send one code.
func TestConcurrentResend(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		b := ts.browser()
		wantStatus(t, b.start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		ts.clock.Advance(otp.DefaultResendInterval)
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.post("/login/"+ch+"/resend", nil)
			}()
		}
		wg.Wait()
		if n := len(ts.sms.All()); n != 2 {
			t.Errorf("%d SMS, want 2 (the first and one resend)", n)
		}
	})
}

// TestOTPUniform checks the rejection sampling: 4 random bytes at or
// above the largest multiple of 10^6 are drawn again.
func TestOTPUniform(t *testing.T) {
	tweak := func(c *testConfig) {
		c.OTP.Rand = io.MultiReader(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 42}), rand.Reader)
	}
	eachBackend(t, tweak, func(t *testing.T, ts *testServer) {
		ch := ts.newChallenge()
		wantStatus(t, ts.browser().start(ch, mobileAsha, nameAsha), http.StatusSeeOther)
		if got := ts.lastOTP(mobileAsha); got != "000042" {
			t.Errorf("OTP = %q, want 000042", got)
		}
	})
}

// TestMountedUnderPrefix: form actions follow the router's base path.
func TestMountedUnderPrefix(t *testing.T) {
	ts := newTestServer(t, string(store.SQLite), nil)
	engine, err := web.NewEngine(web.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	flow, err := consent.New(ts.cfg.Config, ts.st, ts.reg, ts.otps)
	if err != nil {
		t.Fatal(err)
	}
	flow.Register(engine.Group("/id"))
	ts.engine = engine
	ch := ts.newChallenge()
	w := ts.browser().get("/id/login/" + ch)
	wantStatus(t, w, http.StatusOK)
	if !regexp.MustCompile(`action="/id/login/` + ch + `"`).MatchString(w.Body) {
		t.Errorf("form action lacks the prefix:\n%s", w.Body)
	}
}

var testCSRFKey = secrets.Derive([]byte("0123456789abcdef0123456789abcdef"), secrets.CSRF)

// csrfPair GETs the page at path on engine and returns the CSRF cookie it
// set and the token its form carries.
func csrfPair(tb testing.TB, engine http.Handler, path string) (cookie, token string) {
	tb.Helper()
	b := kycvstest.NewBrowser(tb)
	b.Client.Transport = &kycvstest.HandlerTransport{Handler: engine}
	p := b.Get("http://example.com" + path)
	for _, c := range p.Cookies() {
		if c.Name == web.CSRFCookie {
			cookie = c.Value
		}
	}
	token = p.Hidden(web.CSRFField)
	if cookie == "" || token == "" {
		tb.Fatalf("%s: no CSRF cookie or token: %d %.300s", path, p.Status, p.Body)
	}
	return cookie, token
}

// The sign-in page authorize sends the browser to is shown from the
// request as authorize stored it, once; a reload reads the row.
func TestPageAfterAuthorize(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, ts *testServer) {
		var stored *store.LoginRequest
		ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ClientName = "Indian Rail"; stored = lr })
		loc := ts.flow.NewLoginURL(context.Background(), stored)
		if want := "/login/" + ch + "?v=0"; loc != want {
			t.Fatalf("NewLoginURL = %q, want %q", loc, want)
		}
		b := ts.browser()
		page := func() uint64 {
			t.Helper()
			before, _ := ts.st.Counts()
			w := b.get(loc)
			after, _ := ts.st.Counts()
			wantStatus(t, w, http.StatusOK)
			wantBody(t, w, `name="mobile"`, "Indian Rail")
			return after - before
		}
		if n := page(); n != 0 {
			t.Errorf("the sign-in page after authorize sent %d statements, want 0", n)
		}
		if n := page(); n == 0 {
			t.Error("a reload of the sign-in page was not read from the database")
		}
	})
}

// The send redirects to the code page with the version it wrote, and that
// page is shown from the write: no statement. A reload, or an address
// naming another version, reads the request.
func TestPageAfterSend(t *testing.T) {
	eachBackend(t, func(c *testConfig) { c.OTP.ResendInterval = 0 }, func(t *testing.T, ts *testServer) {
		// The client's name comes with the request, as authorize writes it.
		ch := ts.newChallenge(func(lr *store.LoginRequest) { lr.ClientName = "Indian Rail" })
		b := ts.browser()
		wantStatus(t, b.get("/login/"+ch), http.StatusOK)
		sent := b.start(ch, mobileAsha, nameAsha)
		loc := sent.Header.Get("Location")
		if want := fmt.Sprintf("/login/%s?v=%d", ch, ts.request(ch).Version); sent.Status != http.StatusSeeOther || loc != want {
			t.Fatalf("the send answers %d to %q, want 303 to %q", sent.Status, loc, want)
		}
		page := func(path string) (kycvstest.Page, uint64) {
			t.Helper()
			before, _ := ts.st.Counts()
			w := b.get(path)
			after, _ := ts.st.Counts()
			wantStatus(t, w, http.StatusOK)
			wantBody(t, w, `name="otp"`, claims.MaskMobile(mobileAsha))
			return w, after - before
		}
		if _, n := page(loc); n != 0 {
			t.Errorf("the code page after the send sent %d statements, want 0", n)
		}
		if _, n := page(loc); n == 0 {
			t.Error("a reload of the code page was not read from the database")
		}

		// A resend writes the next version, and its page is shown from it;
		// the first address then reads the request as it is.
		resent := b.post("/login/"+ch+"/resend", nil)
		wantRedirect(t, resent, "/login/"+ch+"?m=sent")
		w, n := page(resent.Header.Get("Location"))
		if n != 0 {
			t.Errorf("the code page after a resend sent %d statements, want 0", n)
		}
		wantBody(t, w, "We sent a new code.")
		if _, n := page(loc); n == 0 {
			t.Error("the code page at an older version was not read from the database")
		}
	})
}
