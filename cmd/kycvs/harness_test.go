package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// testServer is a whole kycvs wired as `serve` wires it, on a loopback port.
type testServer struct {
	t       *testing.T
	URL     string
	cfg     serveConfig
	srv     *server
	smsFile string
	// logs holds the server's log (level error unless a test asks for
	// more); it is printed when the test fails.
	logs *logBuffer
	// DemoURL is Demo Airlines' origin, with Dev set.
	DemoURL string
}

const testSecret = "test-secret-0123456789-0123456789-abcdef"

// newTestServer starts kycvs on dialect's fresh database with the demo
// registry loaded; tweak changes only what a test needs.
func newTestServer(t *testing.T, dialect string, tweak func(*serveConfig)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ts := &testServer{t: t, URL: "http://" + ln.Addr().String(), smsFile: filepath.Join(dir, "sms.jsonl")}
	ts.cfg = serveConfig{
		Addr:              ln.Addr().String(),
		Issuer:            ts.URL,
		DatabaseURL:       storetest.URL(t, dialect),
		DatabaseMaxConns:  store.DefaultMaxConns,
		Secret:            testSecret,
		Migrate:           true,
		SMS:               "file:" + ts.smsFile,
		SMSTimeout:        5 * time.Second,
		OTPTTL:            3 * time.Minute,
		OTPMaxTries:       3,
		OTPResendInterval: time.Minute,
		OTPDailyLimit:     50,
		IPLimit:           100,
		SessionTTL:        15 * time.Minute,
		LoginTTL:          15 * time.Minute,
		CodeTTL:           5 * time.Minute,
		AccessTokenTTL:    15 * time.Minute,
		IDTokenTTL:        15 * time.Minute,
		RefreshTokenTTL:   30 * 24 * time.Hour,
		CleanupInterval:   time.Minute,
		LogFormat:         "text",
		LogLevel:          "error",
	}
	if tweak != nil {
		tweak(&ts.cfg)
	}
	if err := ts.cfg.validate(); err != nil {
		t.Fatal(err)
	}
	ts.logs = &logBuffer{}
	logger := newLogger(ts.cfg.LogFormat, ts.cfg.LogLevel, ts.logs)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kycvs log:\n%s", ts.logs.String())
		}
	})
	srv, err := newServer(context.Background(), ts.cfg, logger, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.handler}}
	hs.Start()
	if srv.demo != nil {
		ts.DemoURL = srv.demo.URL
		go srv.demo.serve()
	}
	t.Cleanup(func() {
		hs.Close()
		srv.close()
	})
	if _, err := srv.st.ReplaceBeneficiaries(context.Background(), claims.DemoRegistry()); err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testServer) store() *store.Store { return ts.srv.st }

// client registers a client and returns its ID and secret.
func (ts *testServer) client(spec oauth.ClientSpec) (string, string) {
	ts.t.Helper()
	if spec.Name == "" {
		spec.Name = "Test Airline"
	}
	if len(spec.RedirectURIs) == 0 {
		spec.RedirectURIs = []string{"http://127.0.0.1:9/callback"}
	}
	c, secret, err := oauth.NewClients(ts.store(), []byte(testSecret)).Create(context.Background(), spec)
	if err != nil {
		ts.t.Fatal(err)
	}
	return c.ID, secret
}

// rp is a relying party built only from go-oidc and x/oauth2, as an
// integrator would build it.
type rp struct {
	t        *testing.T
	provider *oidc.Provider
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (ts *testServer) newRP(clientID, secret string, scopes ...string) *rp {
	ts.t.Helper()
	p, err := oidc.NewProvider(context.Background(), ts.URL)
	if err != nil {
		ts.t.Fatal(err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, claims.ScopeVaccinationStatus}
	}
	return &rp{
		t:        ts.t,
		provider: p,
		conf: &oauth2.Config{
			ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(),
			RedirectURL: "http://127.0.0.1:9/callback", Scopes: scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

// browser is a person's browser (kycvstest.Browser, on the server's URL):
// cookies kept, redirects followed on kycvs but never to the relying
// party's redirect URI (whose URL is the answer's Location).
type browser struct {
	*kycvstest.Browser
	t  *testing.T
	ts *testServer
}

func (ts *testServer) newBrowser() *browser {
	b := kycvstest.NewBrowser(ts.t)
	b.Base = ts.URL
	b.Client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), ts.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &browser{Browser: b, t: ts.t, ts: ts}
}

// lastOTP reads the code last sent to mobile from the SMS file.
func (ts *testServer) lastOTP(mobile string) string {
	ts.t.Helper()
	msgs, err := otp.ReadSMSFile(ts.smsFile)
	if err != nil {
		ts.t.Fatal(err)
	}
	code, ok := otp.LastCode(msgs, mobile)
	if !ok {
		ts.t.Fatalf("no OTP sent to %s", mobile)
	}
	return code
}

// authorization is one authorization request the RP started.
type authorization struct {
	state, nonce, verifier string
	URL                    string
}

func (r *rp) authorize(opts ...oauth2.AuthCodeOption) authorization {
	a := authorization{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier))
	a.URL = r.conf.AuthCodeURL(a.state, opts...)
	return a
}

// signIn runs mobile + name + OTP in the browser and returns the final
// redirect to the relying party.
func (b *browser) signIn(a authorization, mobile, name string) *url.URL {
	b.t.Helper()
	login := b.Get(a.URL)
	if login.Status != http.StatusOK || !strings.Contains(login.URL.Path, "/login/") {
		b.t.Fatalf("authorize: want the login page, got %d %s: %s", login.Status, login.URL, login.Body)
	}
	otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {mobile}, "name": {name}})
	if otpPage.Status != http.StatusOK || !strings.Contains(otpPage.Body, `name="otp"`) {
		b.t.Fatalf("send OTP: want the OTP page, got %d: %s", otpPage.Status, otpPage.Body)
	}
	e164, _ := claims.NormalizeMobile(mobile)
	done := b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {b.ts.lastOTP(e164)}})
	return b.redirected(done)
}

// redirected returns where kycvs sent the browser back to the RP.
func (b *browser) redirected(p kycvstest.Page) *url.URL {
	b.t.Helper()
	if p.Location == "" || strings.HasPrefix(p.Location, "/") {
		b.t.Fatalf("want a redirect to the relying party, got %d %s: %s", p.Status, p.Location, p.Body)
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// formPosted is the redirect URI with what the form_post page p posts to
// it in the query, so it reads as redirected's answer does.
func (b *browser) formPosted(p kycvstest.Page) *url.URL {
	b.t.Helper()
	action, fields := formPostResponse(b.t, p)
	u, err := url.Parse(action)
	if err != nil {
		b.t.Fatal(err)
	}
	u.RawQuery = fields.Encode()
	return u
}

// verified is what the relying party learned.
type verified struct {
	Token    *oauth2.Token
	IDToken  *oidc.IDToken
	Claims   map[string]any
	Userinfo map[string]any
	Status   int
}

// finish exchanges the code and verifies everything a careful RP verifies.
func (r *rp) finish(a authorization, back *url.URL) verified {
	r.t.Helper()
	if got := back.Query().Get("state"); got != a.state {
		r.t.Fatalf("state: got %q want %q (%s)", got, a.state, back)
	}
	if e := back.Query().Get("error"); e != "" {
		r.t.Fatalf("authorization error %s: %s", e, back.Query().Get("error_description"))
	}
	ctx := context.Background()
	tok, err := r.conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		r.t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != a.nonce {
		r.t.Fatalf("nonce: got %q want %q", idt.Nonce, a.nonce)
	}
	v := verified{Token: tok, IDToken: idt}
	if err := idt.Claims(&v.Claims); err != nil {
		r.t.Fatal(err)
	}
	ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		r.t.Fatalf("userinfo: %v", err)
	}
	if err := ui.Claims(&v.Userinfo); err != nil {
		r.t.Fatal(err)
	}
	if ui.Subject != idt.Subject {
		r.t.Fatalf("userinfo sub %q != ID token sub %q", ui.Subject, idt.Subject)
	}
	status, ok := v.Claims["vaccination_status"].(float64)
	if !ok {
		v.Status = -1
	} else {
		v.Status = int(status)
	}
	return v
}

// logBuffer collects a log for concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
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

func randomString() string { return oauth2.GenerateVerifier()[:32] }
