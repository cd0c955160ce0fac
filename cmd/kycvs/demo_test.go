package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/kycvs/kycvs/internal/kycvstest"
)

// `serve --dev`: Demo Airlines runs on its own origin; a traveller without
// JavaScript completes a verification through its redirect flow, for each
// status value and for "don't share", and the booking page shows the badge.
// (The button is driven in a real browser by TestButtonInBrowser.)
func TestDevDemo(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})
	if ts.DemoURL == "" || ts.DemoURL == ts.URL {
		t.Fatalf("demo airline at %q, kycvs at %q: want its own origin", ts.DemoURL, ts.URL)
	}
	// /demo on kycvs itself points a newcomer to the airline.
	if p := ts.newBrowser().Get(ts.URL + "/demo"); p.Location != ts.DemoURL+"/demo" {
		t.Fatalf("/demo on kycvs: %d %q", p.Status, p.Location)
	}
	for _, tc := range []struct{ mobile, name, want string }{
		{"9999900001", "Asha Verma", `data-status="2">Vaccination status of Asha Verma: fully vaccinated, verified by kycvs`},
		{"9999900002", "Ravi Kumar", `data-status="1">Vaccination status of Ravi Kumar: partially vaccinated, verified by kycvs`},
		{"9999900003", "Meera Nair", `data-status="0">Vaccination status of Meera Nair: not vaccinated, verified by kycvs`},
		{"9999900003", "", `data-state="declined">Vaccination status not shared`},
	} {
		label := tc.name
		if label == "" {
			label = "declined"
		}
		t.Run(label, func(t *testing.T) {
			b := ts.newBrowser()
			home := b.Get(ts.DemoURL + "/demo")
			if home.Status != http.StatusOK || !strings.Contains(home.Body, `class="kycvs-button"`) || !strings.Contains(home.Body, `integrity="sha384-`) {
				t.Fatalf("booking page: %d %s", home.Status, home.Body)
			}
			// The booking form itself goes to kycvs, passenger name and all.
			passenger := "Passenger " + label
			req, _ := http.NewRequest(http.MethodPost, ts.DemoURL+"/demo/start", strings.NewReader(url.Values{"passenger": {passenger}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			login := b.Do(req)
			if !strings.Contains(login.Body, "Demo Airlines") {
				t.Fatalf("login page does not name the demo client: %s", login.Body)
			}
			var back kycvstest.Page
			if tc.name == "" {
				back = b.Submit(login, login.URL.Path+"/cancel", url.Values{})
			} else {
				otpPage := b.Submit(login, login.URL.Path, url.Values{"mobile": {tc.mobile}, "name": {tc.name}})
				back = b.Submit(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+91" + tc.mobile)}})
			}
			callback := b.redirected(back)
			if !strings.HasPrefix(callback.String(), ts.DemoURL+"/demo/callback?") {
				t.Fatalf("kycvs returned to %s", callback)
			}
			done := b.Get(callback.String())
			if done.Status != http.StatusSeeOther || !strings.HasPrefix(done.Location, "/demo") {
				t.Fatalf("callback: %d %q: %s", done.Status, done.Location, done.Body)
			}
			result := b.Get(ts.DemoURL + "/demo")
			for _, want := range []string{tc.want, `value="` + passenger + `"`} {
				if !strings.Contains(result.Body, want) {
					t.Fatalf("booking page lacks %s:\n%s", want, result.Body)
				}
			}
		})
	}
}

// Demo Airlines' backend believes an ID token only for the booking whose
// nonce it carries: a code obtained elsewhere (here: with another nonce)
// and slipped into a booking is refused, and so are requests without a
// booking or without JSON.
func TestDevDemoVerifyRefusesForeignCodes(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})
	b := ts.newBrowser()
	b.Get(ts.DemoURL + "/demo") // the booking, with its nonce
	verify := func(body, contentType string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.DemoURL+"/demo/verify", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		p := b.Do(req)
		return p.Status, p.Body
	}

	// An authorization for the demo client, through the button's redirect
	// URI, but with a nonce this booking never made.
	a := authorization{state: "kycvs1." + randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	a.URL = ts.URL + "/oauth2/auth?" + url.Values{
		"response_type": {"code"}, "client_id": {demoClientID}, "scope": {"openid vaccination_status"},
		"redirect_uri": {ts.DemoURL + "/demo/kycvs-callback"}, "state": {a.state}, "nonce": {a.nonce},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(a.verifier)}, "code_challenge_method": {"S256"},
	}.Encode()
	back := ts.newBrowser().signIn(a, "9999900003", "Meera Nair")
	in, _ := json.Marshal(map[string]string{"code": back.Query().Get("code"), "code_verifier": a.verifier})
	if status, body := verify(string(in), "application/json"); status != http.StatusBadGateway || !strings.Contains(body, "nonce mismatch") {
		t.Fatalf("a code for another nonce: %d %s", status, body)
	}
	if status, _ := verify(string(in), "application/x-www-form-urlencoded"); status != http.StatusUnsupportedMediaType {
		t.Fatalf("a form post: %d", status)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.DemoURL+"/demo/verify", strings.NewReader(string(in)))
	req.Header.Set("Content-Type", "application/json")
	if p := ts.newBrowser().Do(req); p.Status != http.StatusUnauthorized {
		t.Fatalf("without a booking: %d %s", p.Status, p.Body)
	}
	if page := b.Get(ts.DemoURL + "/demo"); strings.Contains(page.Body, "verified by kycvs") {
		t.Fatal("the booking shows a verified status")
	}
}
