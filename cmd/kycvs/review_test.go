package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/oauth"
)

// regexpParam matches a route's parameters (":id", "*filepath").
var regexpParam = regexp.MustCompile(`[:*][a-z_]+`)

// Every route with an ID in its path answers 404 for an ID that is not
// UTF-8 text or holds a control character, and IDs elsewhere in a request
// (query, form) never reach PostgreSQL either: no 500 (SQLSTATE 22021).
func TestIllFormedIDs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dialect string) {
		ts := newTestServer(t, dialect, nil)
		id, secret := ts.client(oauth.ClientSpec{})
		b := newRawBrowser(t, ts.URL)
		for _, r := range ts.srv.engine.Routes() {
			if !strings.Contains(r.Path, ":") || strings.HasPrefix(r.Path, "/admin") {
				continue // the console's routes: admin TestIllFormedIDsAreNotFound
			}
			for _, bad := range []string{"abc%00def", "%00", "%ff", "a%0Ab"} {
				path := regexpParam.ReplaceAllString(r.Path, bad)
				var form url.Values
				if r.Method != http.MethodGet && r.Method != http.MethodHead {
					form = url.Values{}
				}
				resp, _ := b.do(r.Method, path, form)
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404", r.Method, path, resp.StatusCode)
				}
			}
		}
		q := authorizeQuery(id)
		q.Set("client_id", "a\x00b")
		for name, path := range map[string]string{
			"authorize, NUL client": oauth.PathAuth + "?" + q.Encode(),
			"authorize, bad UTF-8":  oauth.PathAuth + "?" + strings.ReplaceAll(q.Encode(), "%00", "%ff"),
			"logout, NUL client":    oauth.PathEndSession + "?client_id=%00&post_logout_redirect_uri=x",
		} {
			if resp, body := b.do(http.MethodGet, path, nil); resp.StatusCode >= 500 {
				t.Errorf("%s: %d %s", name, resp.StatusCode, body)
			}
		}
		for _, form := range []url.Values{
			{"grant_type": {"authorization_code"}, "code": {"a\x00b"}, "client_id": {id}, "client_secret": {secret}, "redirect_uri": {"http://127.0.0.1:9/callback"}},
			{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"a\xffb"}, "client_secret": {secret}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"a\x00b.c"}, "client_id": {id}, "client_secret": {secret}},
		} {
			if resp, body := b.do(http.MethodPost, oauth.PathToken, form); resp.StatusCode >= 500 {
				t.Errorf("token %v: %d %s", form, resp.StatusCode, body)
			}
		}
	})
}
