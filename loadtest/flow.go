package loadtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// Steps of one verification, in order; "flow" is the whole of it.
const (
	StepAuthorize = "authorize"
	StepLoginPage = "login_page"
	StepSendOTP   = "send_otp"
	StepVerifyOTP = "verify_otp"
	StepToken     = "token"
	StepUserinfo  = "userinfo"
	StepFlow      = "flow"
)

// Steps lists the step names in the order they run, the whole flow last.
var Steps = []string{StepAuthorize, StepLoginPage, StepSendOTP, StepVerifyOTP, StepToken, StepUserinfo, StepFlow}

// Bounds on what one page may make the tool do.
const (
	maxPage      = 1 << 20 // bytes of one response read
	maxRedirects = 5       // redirects followed within one step
)

// flowError is why a verification failed: the step and a short kind that
// groups like failures (a status, an OAuth2 error code), plus the detail
// of the first one of its kind for the report.
type flowError struct {
	step, kind, detail string
}

func (e *flowError) Error() string { return e.step + ": " + e.kind + ": " + e.detail }

func fail(step, kind, format string, args ...any) *flowError {
	return &flowError{step: step, kind: kind, detail: fmt.Sprintf(format, args...)}
}

// page is one response, read whole.
type page struct {
	status   int
	location *url.URL // resolved Location, for redirects
	body     []byte
	url      *url.URL // the URL that answered
}

func (p *page) redirect() bool { return p.status >= 300 && p.status < 400 && p.location != nil }

// browser is one person's browser for one verification: its own cookie
// jar (so no session carries over from the last flow), no automatic
// redirects (so each step is timed alone and the flow stops at the
// relying party's redirect URI).
type browser struct {
	client *http.Client
}

func newBrowser(t http.RoundTripper, timeout time.Duration) *browser {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &browser{client: &http.Client{
		Transport:     t,
		Jar:           jar,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*page, error) {
	req.Header.Set("User-Agent", "kycvs-bench")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage))
	if err != nil {
		return nil, err
	}
	p := &page{status: resp.StatusCode, body: body, url: req.URL}
	if loc := resp.Header.Get("Location"); loc != "" {
		if p.location, err = req.URL.Parse(loc); err != nil {
			return nil, fmt.Errorf("bad Location %q", loc)
		}
	}
	return p, nil
}

func (b *browser) get(ctx context.Context, u *url.URL) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

func (b *browser) post(ctx context.Context, u *url.URL, form url.Values) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// follow follows redirects within the issuer's origin, at most
// maxRedirects, and returns the first page that is not such a redirect: a
// page to show, or a redirect elsewhere (the relying party's).
func (r *runner) follow(ctx context.Context, b *browser, step string, p *page) (*page, error) {
	for range maxRedirects {
		if !p.redirect() || !r.sameOrigin(p.location) || r.atRedirectURI(p.location) {
			return p, nil
		}
		var err error
		if p, err = b.get(ctx, p.location); err != nil {
			return nil, fail(step, "request failed", "%v", err)
		}
	}
	return nil, fail(step, "too many redirects", "more than %d redirects", maxRedirects)
}

func (r *runner) sameOrigin(u *url.URL) bool {
	return u.Scheme == r.issuer.Scheme && u.Host == r.issuer.Host
}

// atRedirectURI reports whether u is the client's redirect URI (with the
// response in its query).
func (r *runner) atRedirectURI(u *url.URL) bool {
	return u != nil && u.Scheme == r.redirect.Scheme && u.Host == r.redirect.Host && u.Path == r.redirect.Path
}

// statusError describes a page that is not the one a step expects.
func statusError(step string, p *page) *flowError {
	kind := fmt.Sprintf("HTTP %d", p.status)
	if p.redirect() {
		return fail(step, kind, "redirect to %s", p.location.Redacted())
	}
	return fail(step, kind, "%s", pageTitle(p.body))
}

// verify runs one complete verification as user u and records each step's
// time in r.steps. It returns a *flowError, or ctx's error once the run is
// cancelled.
func (r *runner) verify(ctx context.Context, u *virtualUser) error {
	start := time.Now()
	v := &verification{u: u, b: newBrowser(r.transport, r.cfg.RequestTimeout)}
	v.state, v.nonce, v.verifier = randomString(), randomString(), oauth2.GenerateVerifier()
	for _, step := range []struct {
		name string
		run  func(context.Context, *verification) error
	}{
		{StepAuthorize, r.authorize},
		{StepLoginPage, r.loginPage},
		{StepSendOTP, r.sendOTP},
		{StepVerifyOTP, r.verifyOTP},
		{StepToken, r.token},
		{StepUserinfo, r.userinfo},
	} {
		t := time.Now()
		if err := step.run(ctx, v); err != nil {
			return err
		}
		r.record(step.name, t)
	}
	r.record(StepFlow, start)
	return nil
}

// verification is one verification in progress: what the relying party
// sent, and what each step hands the next.
type verification struct {
	u *virtualUser
	b *browser
	// state, nonce and verifier (PKCE) are the relying party's.
	state, nonce, verifier string
	// loginURL is where authorize sent the browser; loginForm and
	// loginAction the mobile form there.
	loginURL    *url.URL
	loginForm   form
	loginAction *url.URL
	// otpForm and otpAction are the code's form; code the SMS's code.
	otpForm   form
	otpAction *url.URL
	code      string
	// authCode is the authorization code at the redirect URI.
	authCode string
	tok      *oauth2.Token
	idt      *oidc.IDToken
	// idStatus is the ID token's vaccination_status.
	idStatus int
}

// authorize: the relying party sends the browser to kycvs.
func (r *runner) authorize(ctx context.Context, v *verification) error {
	authURL, _ := url.Parse(r.oauth2.AuthCodeURL(v.state, oidc.Nonce(v.nonce), oauth2.S256ChallengeOption(v.verifier)))
	p, err := v.b.get(ctx, authURL)
	if err != nil {
		return fail(StepAuthorize, "request failed", "%v", err)
	}
	if p.redirect() && r.atRedirectURI(p.location) {
		return fail(StepAuthorize, "answered without sign-in", "error=%q", p.location.Query().Get("error"))
	}
	if !p.redirect() || !r.sameOrigin(p.location) {
		return statusError(StepAuthorize, p)
	}
	v.loginURL = p.location
	return nil
}

// loginPage: the mobile + name form, which sets the CSRF cookie.
func (r *runner) loginPage(ctx context.Context, v *verification) error {
	p, err := v.b.get(ctx, v.loginURL)
	if err != nil {
		return fail(StepLoginPage, "request failed", "%v", err)
	}
	if p, err = r.follow(ctx, v.b, StepLoginPage, p); err != nil {
		return err
	}
	if p.status != http.StatusOK {
		return statusError(StepLoginPage, p)
	}
	loginForm, ok := findForm(p.body, "mobile")
	if !ok || loginForm.csrf == "" {
		return fail(StepLoginPage, "no mobile form", "%s", pageTitle(p.body))
	}
	action, err := p.url.Parse(loginForm.action)
	if err != nil || !r.sameOrigin(action) {
		return fail(StepLoginPage, "bad form action", "%q", loginForm.action)
	}
	v.loginForm, v.loginAction = loginForm, action
	return nil
}

// sendOTP: until the code is in hand, as a person waits for the SMS.
func (r *runner) sendOTP(ctx context.Context, v *verification) error {
	u := v.u
	u.inbox.Clear()
	p, err := v.b.post(ctx, v.loginAction, url.Values{"mobile": {u.Mobile}, "name": {u.Name}, "csrf_token": {v.loginForm.csrf}})
	if err != nil {
		return fail(StepSendOTP, "request failed", "%v", err)
	}
	if p, err = r.follow(ctx, v.b, StepSendOTP, p); err != nil {
		return err
	}
	otpForm, ok := findForm(p.body, "otp")
	if p.status != http.StatusOK || !ok {
		return statusError(StepSendOTP, p)
	}
	otpAction, err := p.url.Parse(otpForm.action)
	if err != nil || !r.sameOrigin(otpAction) {
		return fail(StepSendOTP, "bad form action", "%q", otpForm.action)
	}
	code, err := u.inbox.Wait(ctx, r.cfg.OTPTimeout)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail(StepSendOTP, "no SMS", "no code for %s within %s", maskMobile(u.Mobile), r.cfg.OTPTimeout)
	}
	v.otpForm, v.otpAction, v.code = otpForm, otpAction, code
	return nil
}

// verifyOTP: the code is the consent; the browser ends up at the relying
// party with the authorization code.
func (r *runner) verifyOTP(ctx context.Context, v *verification) error {
	csrf := v.otpForm.csrf
	if csrf == "" {
		csrf = v.loginForm.csrf
	}
	p, err := v.b.post(ctx, v.otpAction, url.Values{"otp": {v.code}, "csrf_token": {csrf}})
	if err != nil {
		return fail(StepVerifyOTP, "request failed", "%v", err)
	}
	if p, err = r.follow(ctx, v.b, StepVerifyOTP, p); err != nil {
		return err
	}
	if !p.redirect() || !r.atRedirectURI(p.location) {
		return statusError(StepVerifyOTP, p)
	}
	q := p.location.Query()
	if e := q.Get("error"); e != "" {
		return fail(StepVerifyOTP, "error="+e, "%s", q.Get("error_description"))
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(v.state)) != 1 {
		return fail(StepVerifyOTP, "state mismatch", "the redirect's state is not the one sent")
	}
	v.authCode = q.Get("code")
	if v.authCode == "" {
		return fail(StepVerifyOTP, "no code", "the redirect carries no code")
	}
	return nil
}

// token: what the relying party's back end does: exchange the code,
// verify the ID token's signature, issuer, audience, expiry and nonce.
func (r *runner) token(ctx context.Context, v *verification) error {
	tok, err := r.oauth2.Exchange(ctx, v.authCode, oauth2.VerifierOption(v.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return fail(StepToken, fmt.Sprintf("HTTP %d %s", re.Response.StatusCode, re.ErrorCode), "%s", re.ErrorDescription)
		}
		return fail(StepToken, "request failed", "%v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return fail(StepToken, "no ID token", "the token response has no id_token")
	}
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		return fail(StepToken, "ID token invalid", "%v", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(v.nonce)) != 1 {
		return fail(StepToken, "nonce mismatch", "the ID token's nonce is not the one sent")
	}
	var idClaims statusClaim
	if err := idt.Claims(&idClaims); err != nil || idClaims.VaccinationStatus == nil {
		return fail(StepToken, "no vaccination_status", "the ID token carries no vaccination_status")
	}
	v.tok, v.idt, v.idStatus = tok, idt, *idClaims.VaccinationStatus
	return nil
}

// userinfo: the same claim, read with the access token.
func (r *runner) userinfo(ctx context.Context, v *verification) error {
	ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(v.tok))
	if err != nil {
		return fail(StepUserinfo, "request failed", "%v", err)
	}
	var uiClaims statusClaim
	if err := ui.Claims(&uiClaims); err != nil || uiClaims.VaccinationStatus == nil {
		return fail(StepUserinfo, "no vaccination_status", "userinfo carries no vaccination_status")
	}
	if *uiClaims.VaccinationStatus != v.idStatus || ui.Subject != v.idt.Subject {
		return fail(StepUserinfo, "disagrees with ID token", "userinfo and the ID token tell different things")
	}
	return nil
}

type statusClaim struct {
	VaccinationStatus *int `json:"vaccination_status"`
}

// form is what a step needs from an HTML form.
type form struct {
	action string
	csrf   string
}

// findForm returns the form that has an input named field, with its action
// and the value of its csrf_token input.
func findForm(body []byte, field string) (form, bool) {
	z := html.NewTokenizer(bytes.NewReader(body))
	var cur form
	var has, in bool
	for {
		switch z.Next() {
		case html.ErrorToken:
			return form{}, false
		case html.StartTagToken, html.SelfClosingTagToken:
			name, attrs := z.TagName()
			switch string(name) {
			case "form":
				cur, has, in = form{}, false, true
				for attrs {
					var k, v []byte
					k, v, attrs = z.TagAttr()
					if string(k) == "action" {
						cur.action = string(v)
					}
				}
			case "input":
				if !in {
					continue
				}
				var n, v string
				for attrs {
					var k, val []byte
					k, val, attrs = z.TagAttr()
					switch string(k) {
					case "name":
						n = string(val)
					case "value":
						v = string(val)
					}
				}
				switch n {
				case field:
					has = true
				case "csrf_token":
					cur.csrf = v
				}
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "form" {
				if has {
					return cur, true
				}
				in = false
			}
		}
	}
}

// pageTitle returns a page's <title>, for error reports; "" if none.
func pageTitle(body []byte) string {
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken:
			if name, _ := z.TagName(); string(name) == "title" {
				if z.Next() == html.TextToken {
					return strings.TrimSpace(string(z.Text()))
				}
				return ""
			}
		}
	}
}

// maskMobile keeps the last four digits, as the server's own logs do.
func maskMobile(m string) string {
	if len(m) <= 4 {
		return "****"
	}
	return strings.Repeat("*", len(m)-4) + m[len(m)-4:]
}

// randomString returns 128 random bits, base64url: state and nonce.
func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
