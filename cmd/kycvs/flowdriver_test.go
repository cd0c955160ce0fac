package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/oauth"
)

// flowDriver runs whole verifications like the load tool does, but never
// fails the test itself: it reports every response it saw and where the
// flow stopped, so tests that break things on purpose (the database, the
// SMS gateway) can judge each answer. Safe for concurrent use.
type flowDriver struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Gateway      *smsGateway
	// Route, if set, is called before each step with the step's name
	// (authorize, login, send, otp, token, userinfo), so a test
	// can choose which server process answers it.
	Route func(step string)
	// Header, if set, is added to every browser request.
	Header http.Header
}

// answer is one response the driver saw.
type answer struct {
	Step     string
	Status   int
	Location string
	Body     string
}

// flowRun is one verification's outcome: Err is nil when it completed, else
// why it stopped, and Last is the answer that stopped it (nil for a
// transport error).
type flowRun struct {
	Answers []answer
	Last    *answer
	Err     error
	// Status is the vaccination_status userinfo returned.
	Status int
	// IDToken and AccessToken are what the token endpoint issued.
	IDToken, AccessToken string
	// Nonce is the one the authorization request sent.
	Nonce string
}

func (d *flowDriver) route(step string) {
	if d.Route != nil {
		d.Route(step)
	}
}

// run performs one verification for the person with mobile (E.164) and name.
func (d *flowDriver) run(ctx context.Context, mobile, name string) (res flowRun) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	do := func(step, method, u string, form url.Values, prepare func(*http.Request)) (*answer, error) {
		d.route(step)
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range d.Header {
			req.Header[k] = v
		}
		if prepare != nil {
			prepare(req)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		a := answer{Step: step, Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(b)}
		res.Answers = append(res.Answers, a)
		return &res.Answers[len(res.Answers)-1], nil
	}
	stop := func(a *answer, err error, want string) flowRun {
		res.Last = a
		if err == nil {
			err = fmt.Errorf("%s: got %d %s, want %s", a.Step, a.Status, a.Location, want)
		}
		res.Err = err
		return res
	}

	verifier := oauth2.GenerateVerifier()
	state := randomString()
	res.Nonce = randomString()
	q := url.Values{
		"response_type": {"code"}, "client_id": {d.ClientID}, "redirect_uri": {d.RedirectURI},
		"scope": {"openid vaccination_status"}, "state": {state}, "nonce": {res.Nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
	}
	a, err := do("authorize", http.MethodGet, d.Issuer+oauth.PathAuth+"?"+q.Encode(), nil, nil)
	if err != nil || a.Status != http.StatusSeeOther || !strings.HasPrefix(a.Location, "/login/") {
		return stop(a, err, "303 to /login/")
	}
	first, perr := url.Parse(a.Location)
	if perr != nil {
		return stop(a, perr, "a sign-in address")
	}
	loginPath := first.Path
	a, err = do("login", http.MethodGet, d.Issuer+first.String(), nil, nil)
	if err != nil || a.Status != http.StatusOK {
		return stop(a, err, "200")
	}
	csrf := kycvstest.Page{Body: a.Body}.Hidden("csrf_token")
	if csrf == "" {
		return stop(a, fmt.Errorf("login: no CSRF token"), "")
	}
	before := d.Gateway.Delivered(mobile)
	a, err = do("send", http.MethodPost, d.Issuer+loginPath, url.Values{"mobile": {mobile}, "name": {name}, "csrf_token": {csrf}}, nil)
	// The code page's address names the version the send wrote.
	if err != nil || a.Status != http.StatusSeeOther || !strings.HasPrefix(a.Location, loginPath+"?v=") {
		return stop(a, err, "303 back to the challenge")
	}
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	code, ok := d.Gateway.waitCode(wait, mobile, before)
	cancel()
	if !ok {
		return stop(nil, fmt.Errorf("send: no SMS arrived"), "")
	}
	// A right code answers the relying party at once.
	a, err = do("otp", http.MethodPost, d.Issuer+loginPath+"/otp", url.Values{"otp": {code}, "csrf_token": {csrf}}, nil)
	if err != nil || a.Status != http.StatusSeeOther || !strings.HasPrefix(a.Location, d.RedirectURI+"?") {
		return stop(a, err, "303 to the relying party")
	}
	back, perr := url.Parse(a.Location)
	if perr != nil || back.Query().Get("code") == "" || back.Query().Get("state") != state {
		return stop(a, nil, "a code and the state")
	}
	tokenForm := url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"redirect_uri": {d.RedirectURI}, "code_verifier": {verifier}}
	a, err = do("token", http.MethodPost, d.Issuer+oauth.PathToken, tokenForm, func(r *http.Request) {
		r.SetBasicAuth(url.QueryEscape(d.ClientID), url.QueryEscape(d.ClientSecret))
	})
	if err != nil || a.Status != http.StatusOK {
		return stop(a, err, "200")
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal([]byte(a.Body), &tok); err != nil || tok.AccessToken == "" || tok.IDToken == "" {
		return stop(a, fmt.Errorf("token: %q: %v", a.Body, err), "")
	}
	res.IDToken, res.AccessToken = tok.IDToken, tok.AccessToken
	a, err = do("userinfo", http.MethodGet, d.Issuer+oauth.PathUserinfo, nil, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	})
	if err != nil || a.Status != http.StatusOK {
		return stop(a, err, "200")
	}
	var ui struct {
		Status *int `json:"vaccination_status"`
	}
	if err := json.Unmarshal([]byte(a.Body), &ui); err != nil || ui.Status == nil {
		return stop(a, fmt.Errorf("userinfo: %q: %v", a.Body, err), "")
	}
	res.Status = *ui.Status
	return res
}

// outageAnswer reports whether a is how kycvs answers while its database
// is away: 503, or, once the client's redirect URI is validated, the
// client's redirect URI with error=temporarily_unavailable (RFC 6749
// 4.1.2.1).
func outageAnswer(a answer) bool {
	if a.Status == http.StatusServiceUnavailable {
		return true
	}
	if a.Status == http.StatusSeeOther || a.Status == http.StatusFound {
		u, err := url.Parse(a.Location)
		return err == nil && u.Query().Get("error") == "temporarily_unavailable"
	}
	return false
}
