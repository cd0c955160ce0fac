package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
	for _, tc := range []struct{ mobile, name, want string }{
		{"9999900001", "Asha Verma", `data-status="2">Vaccination status: fully vaccinated, verified by kycvs`},
		{"9999900002", "Ravi Kumar", `data-status="1">Vaccination status: partially vaccinated, verified by kycvs`},
		{"9999900003", "Meera Nair", `data-status="0">Vaccination status: not vaccinated, verified by kycvs`},
		{"9999900003", "", `data-state="declined">Vaccination status not shared`},
	} {
		label := tc.name
		if label == "" {
			label = "declined"
		}
		t.Run(label, func(t *testing.T) {
			b := ts.newBrowser()
			home := b.get(ts.DemoURL + "/demo")
			if home.Status != http.StatusOK || !strings.Contains(home.Body, `class="kycvs-button"`) || !strings.Contains(home.Body, `integrity="sha384-`) {
				t.Fatalf("booking page: %d %s", home.Status, home.Body)
			}
			login := b.get(ts.DemoURL + "/demo/start")
			if !strings.Contains(login.Body, "Demo Airlines") {
				t.Fatalf("login page does not name the demo client: %s", login.Body)
			}
			var back page
			if tc.name == "" {
				back = b.post(login, login.URL.Path+"/cancel", url.Values{})
			} else {
				otpPage := b.post(login, login.URL.Path, url.Values{"mobile": {tc.mobile}, "name": {tc.name}})
				back = b.post(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+91" + tc.mobile)}})
			}
			callback := b.redirected(back)
			if !strings.HasPrefix(callback.String(), ts.DemoURL+"/demo/callback?") {
				t.Fatalf("kycvs returned to %s", callback)
			}
			done := b.get(callback.String())
			if done.Status != http.StatusSeeOther || !strings.HasPrefix(done.Location, "/demo") {
				t.Fatalf("callback: %d %q: %s", done.Status, done.Location, done.Body)
			}
			result := b.get(ts.DemoURL + "/demo")
			if !strings.Contains(result.Body, tc.want) {
				t.Fatalf("booking page lacks %s:\n%s", tc.want, result.Body)
			}
		})
	}
}
