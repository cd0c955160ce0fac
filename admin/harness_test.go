package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

const (
	testSecret = "admin-test-secret-0123456789abcdef-0123"
	issuer     = "https://kycvs.test"
)

// noSessions is the sign-in flow as oauth sees it when nobody is signed in.
type noSessions struct{}

func (noSessions) CurrentSession(*http.Request) (*store.Session, error) {
	return nil, store.ErrNotFound
}
func (noSessions) SessionID(*http.Request) (string, bool)              { return "", false }
func (noSessions) EndSession(http.ResponseWriter, *http.Request) error { return nil }

// testServer is the admin API and console wired as cmd/kycvs wires them,
// beside the OAuth provider (for the token endpoint), on one database.
type testServer struct {
	t       *testing.T
	st      *store.Store
	clock   *kycvstest.Clock
	svc     *admin.Service
	keys    *oauth.Keys
	api     http.Handler // the admin API's engine
	site    http.Handler // the provider and the console
	sms     *kycvstest.Inbox
	console *admin.Console
	// lockouts counts the console's lockout alerts; totp holds the
	// authenticator secrets enrolled, by mobile.
	lockouts *lockoutCounter
	totp     map[string]string
	doc      *openapi3.T
	router   routers.Router
	// owner is an owner's admin API key.
	owner string
	// logs holds everything the servers logged, from level info.
	logs *logBuffer
}

// logBuffer collects a log for concurrent writers.
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

func newTestServer(t *testing.T, dialect string) *testServer {
	// Tests sign the same admins in many times a simulated hour; the
	// console's limits per mobile have their own test (TestConsoleLimits).
	return newTestServerWith(t, dialect, func(c *otp.Config) { c.ConsoleHourlyLimit, c.ConsoleDailyLimit = 1000, 1000 })
}

// newTestServerWith is newTestServer with tweak applied to the OTP
// service's config.
func newTestServerWith(t *testing.T, dialect string, tweak func(*otp.Config)) *testServer {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, dialect)
	// The clock starts at the real time, so rows the database stamps
	// itself (OTP tallies) fall in the same days.
	clock := kycvstest.NewClock(time.Now().UTC().Truncate(time.Second))
	secret := []byte(testSecret)
	logs := &logBuffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(testLogOutput(), logs), &slog.HandlerOptions{Level: slog.LevelInfo}))

	keys, err := oauth.NewKeys(st, secret)
	if err != nil {
		t.Fatal(err)
	}
	keys.WithClock(clock.Now)
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	reg := claims.NewRegistry(st)
	provider, err := oauth.New(oauth.Config{Issuer: issuer, Secret: secret, Now: clock.Now, Logger: logger},
		st, keys, reg, claims.NewPairwise(secret), noSessions{})
	if err != nil {
		t.Fatal(err)
	}
	clients := oauth.NewClients(st, secret).WithClock(clock.Now)
	svc := admin.NewService(st, secret, clients, keys, kycvsapi.NewAPIKeys(st, secret), clock.Now)

	apiEngine, err := web.NewEngine(web.Config{Logger: logger, MaxBodyBytes: admin.MaxImportBytes, NotFound: admin.NotFound})
	if err != nil {
		t.Fatal(err)
	}
	admin.NewAPI(admin.APIConfig{Logger: logger}, svc).Register(apiEngine)

	sms := &kycvstest.Inbox{}
	otpCfg := otp.Config{Secret: secret, Limits: otp.Limits{MaxTries: 3, ResendInterval: time.Minute}, Now: clock.Now}
	tweak(&otpCfg)
	otps := otp.New(otpCfg, st, sms)
	sms.Settle = otps.Wait
	lockouts := &lockoutCounter{n: map[string]int{}}
	console := admin.NewConsole(admin.ConsoleConfig{Secret: secret, Now: clock.Now, Logger: logger, Lockouts: lockouts}, svc, otps)
	site, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	provider.Register(site)
	console.Register(site)

	doc, err := openapi3.NewLoader().LoadFromData(admin.OpenAPIDocument())
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	// The router matches full URLs against the servers; the tests' are
	// relative to this origin.
	doc.Servers = openapi3.Servers{{URL: "http://admin.test" + admin.APIPrefix}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, st: st, clock: clock, svc: svc, keys: keys, api: apiEngine, site: site, sms: sms, console: console, lockouts: lockouts, totp: map[string]string{}, doc: doc, router: router, logs: logs}
	ts.owner = ts.adminKey(admin.RoleOwner)
	return ts
}

var cliActor = admin.CLIActor("root", "test")

// adminKey makes an admin API key with role.
func (ts *testServer) adminKey(role admin.Role) string {
	ts.t.Helper()
	full, _, err := ts.svc.CreateAdminKey(context.Background(), cliActor, "test "+string(role), role)
	if err != nil {
		ts.t.Fatal(err)
	}
	return full
}

// response is one admin API answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// json decodes the body into v.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
}

// errorCode is the "error" of an error answer.
func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	r.json(t, &e)
	if e.Error == "" || e.Message == "" {
		t.Fatalf("error answer without error and message: %s", r.Body)
	}
	return e.Error
}

// call sends one request to the admin API with key (none when "") and
// checks the answer against the OpenAPI document: every answer must be
// documented for its route and status, and every error must be the JSON
// error object. body is JSON-encoded unless it is a string or []byte.
func (ts *testServer) call(method, path, key string, body any, contentType ...string) response {
	ts.t.Helper()
	var raw []byte
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		raw = j
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	req := httptest.NewRequest(method, "http://admin.test"+path, rd)
	if rd != nil && ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	ts.api.ServeHTTP(rec, req)
	resp := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	ts.checkDocumented(req, resp)
	if resp.Status < 400 {
		// What the API accepted, the document must allow.
		again := httptest.NewRequest(method, "http://admin.test"+path, bytes.NewReader(raw))
		again.Header = req.Header.Clone()
		if body == nil {
			again.Body, again.ContentLength = http.NoBody, 0
		}
		ts.checkRequestDocumented(again)
	}
	return resp
}

// checkRequestDocumented validates an accepted request against the
// document.
func (ts *testServer) checkRequestDocumented(req *http.Request) {
	ts.t.Helper()
	route, params, err := ts.router.FindRoute(req)
	if err != nil {
		ts.t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		ts.t.Errorf("%s %s was accepted but is not a request the document allows: %v", req.Method, req.URL.Path, err)
	}
}

func init() {
	// Registry CSVs and change feeds are text; the document describes
	// them as a string.
	asText := func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	}
	openapi3filter.RegisterBodyDecoder("text/csv", asText)
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", asText)
}

// checkDocumented validates resp against the OpenAPI document.
func (ts *testServer) checkDocumented(req *http.Request, resp response) {
	ts.t.Helper()
	if resp.Status >= 500 {
		ts.t.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.Status, resp.Body)
	}
	if resp.Status >= 400 {
		ts.checkErrorShape(req, resp)
	}
	route, params, err := ts.router.FindRoute(req)
	if err != nil {
		// Only unknown routes and methods may be missing from the document.
		if resp.Status != http.StatusNotFound && resp.Status != http.StatusMethodNotAllowed {
			ts.t.Errorf("%s %s is not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: resp.Status,
		Header: resp.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	in.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		ts.t.Errorf("%s %s answered %d, not as documented: %v\nbody: %s", req.Method, req.URL.Path, resp.Status, err, resp.Body)
	}
}

// checkErrorShape: every error is {"error": code, "message": text}.
func (ts *testServer) checkErrorShape(req *http.Request, resp response) {
	ts.t.Helper()
	var e map[string]any
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		ts.t.Errorf("%s %s: error %d as %q: %s", req.Method, req.URL.Path, resp.Status, ct, resp.Body)
		return
	}
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		ts.t.Errorf("%s %s: error body %q: %v", req.Method, req.URL.Path, resp.Body, err)
		return
	}
	if code, _ := e["error"].(string); code == "" {
		ts.t.Errorf("%s %s: error without a code: %s", req.Method, req.URL.Path, resp.Body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		ts.t.Errorf("%s %s: error without a message: %s", req.Method, req.URL.Path, resp.Body)
	}
}

// token asks the token endpoint for tokens with a made-up code: a client
// that authenticates gets invalid_grant (400), one that does not gets
// invalid_client (401). It returns the error code.
func (ts *testServer) token(clientID, secret string) string {
	ts.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"made-up-code.made-up-signature"}, "redirect_uri": {"https://air.example/cb"}}
	req := httptest.NewRequest(http.MethodPost, issuer+oauth.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	rec := httptest.NewRecorder()
	ts.site.ServeHTTP(rec, req)
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &e)
	return e.Error
}

// audit returns the audit entries for target, newest first.
func (ts *testServer) audit(targetType, targetID string) []store.AuditEntry {
	ts.t.Helper()
	es, _, err := ts.st.ListAuditEntries(context.Background(), store.AuditFilter{TargetType: targetType, TargetID: targetID})
	if err != nil {
		ts.t.Fatal(err)
	}
	return es
}

var _ = gin.New

// testLogOutput is where the servers' errors go: nowhere, unless
// KYCVS_TEST_LOG is set.
func testLogOutput() io.Writer {
	if os.Getenv("KYCVS_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// lockoutCounter is the console's lockout counter (web.Metrics in the
// server).
type lockoutCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (l *lockoutCounter) ConsoleLockout(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[reason]++
}

func (l *lockoutCounter) count(reason string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[reason]
}

// auditActions returns the audit entries with action, newest first.
func (ts *testServer) auditActions(action string) []store.AuditEntry {
	ts.t.Helper()
	es, _, err := ts.st.ListAuditEntries(context.Background(), store.AuditFilter{Action: action, Limit: 1000})
	if err != nil {
		ts.t.Fatal(err)
	}
	return es
}
