package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// `serve --dev`: a person completes a verification through /demo in a
// browser, for each status value and for "don't share".
func TestDevDemo(t *testing.T) {
	ts := newTestServer(t, "sqlite", func(c *serveConfig) {
		c.Dev = true
		c.DataDir = t.TempDir()
	})
	for _, tc := range []struct{ mobile, name, want string }{
		{"9999900001", "Asha Verma", "Fully vaccinated</strong> (2)"},
		{"9999900002", "Ravi Kumar", "Partially vaccinated</strong> (1)"},
		{"9999900003", "Meera Nair", "Not vaccinated</strong> (0)"},
		{"9999900003", "", "chose not to share"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ts.newBrowser()
			login := b.get(ts.URL + "/demo/start")
			if !strings.Contains(login.Body, "Demo Airlines") {
				t.Fatalf("login page does not name the demo client: %s", login.Body)
			}
			var result page
			if tc.name == "" {
				result = b.post(login, login.URL.Path+"/cancel", url.Values{})
			} else {
				otpPage := b.post(login, login.URL.Path, url.Values{"mobile": {tc.mobile}, "name": {tc.name}})
				result = b.post(otpPage, login.URL.Path+"/otp", url.Values{"otp": {ts.lastOTP("+91" + tc.mobile)}})
			}
			if result.Status != http.StatusOK || result.URL.Path != "/demo/callback" || !strings.Contains(result.Body, tc.want) {
				t.Fatalf("got %d %s: %s", result.Status, result.URL, result.Body)
			}
		})
	}
}
