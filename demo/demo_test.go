package demo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kycvs/kycvs/demo"
	"github.com/kycvs/kycvs/web"
)

// Demo Airlines pastes the script tag as the docs show it; the hash it
// pins must be the script kycvs serves.
func TestButtonIntegrity(t *testing.T) {
	if demo.ButtonIntegrity != web.ButtonIntegrity() {
		t.Fatalf("demo.ButtonIntegrity = %s, the script is %s", demo.ButtonIntegrity, web.ButtonIntegrity())
	}
	if demo.ButtonScriptPath != web.ButtonPath {
		t.Fatalf("demo.ButtonScriptPath = %s, kycvs serves %s", demo.ButtonScriptPath, web.ButtonPath)
	}
}

// GET /demo/start from a browser with no cookies (a bookmark, a link in a
// chat) starts a check of its own: a booking cookie and a redirect to the
// authorization endpoint with state, nonce and S256, never a panic. With
// kycvs unreachable, the person lands on the booking page with the reason.
func TestStartWithoutCookies(t *testing.T) {
	issuer := httptest.NewServer(nil)
	t.Cleanup(issuer.Close)
	issuer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": issuer.URL, "authorization_endpoint": issuer.URL + "/oauth2/auth", "token_endpoint": issuer.URL + "/oauth2/token",
			"jwks_uri": issuer.URL + "/jwks.json", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})

	t.Run("kycvs reachable", func(t *testing.T) {
		a := demo.New(demo.Config{Issuer: issuer.URL, ClientID: "demo-airlines", BaseURL: "http://localhost:8081"})
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest(http.MethodGet, demo.StartPath, nil))
		if w.Code != http.StatusFound {
			t.Fatalf("status %d, want 302: %s", w.Code, w.Body)
		}
		u, err := url.Parse(w.Header().Get("Location"))
		if err != nil || u.Path != "/oauth2/auth" {
			t.Fatalf("Location = %q", w.Header().Get("Location"))
		}
		q := u.Query()
		for _, k := range []string{"state", "nonce", "code_challenge"} {
			if q.Get(k) == "" {
				t.Errorf("no %s in %s", k, u)
			}
		}
		if q.Get("code_challenge_method") != "S256" || q.Get("redirect_uri") != "http://localhost:8081"+demo.CallbackPath {
			t.Errorf("authorization request %s", u)
		}
		if len(w.Result().Cookies()) != 1 {
			t.Errorf("cookies %v, want the booking's", w.Result().Cookies())
		}
	})

	t.Run("kycvs unreachable", func(t *testing.T) {
		a := demo.New(demo.Config{Issuer: "http://127.0.0.1:1", ClientID: "demo-airlines", BaseURL: "http://localhost:8081"})
		w := httptest.NewRecorder()
		a.ServeHTTP(w, httptest.NewRequest(http.MethodGet, demo.StartPath, nil))
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != demo.HomePath {
			t.Fatalf("status %d to %q, want 303 to %s", w.Code, w.Header().Get("Location"), demo.HomePath)
		}
		r := httptest.NewRequest(http.MethodGet, demo.HomePath, nil)
		for _, c := range w.Result().Cookies() {
			r.AddCookie(c)
		}
		home := httptest.NewRecorder()
		a.ServeHTTP(home, r)
		if home.Code != http.StatusOK || !strings.Contains(home.Body.String(), "kycvs could not be reached") {
			t.Fatalf("booking page %d without the reason: %.300s", home.Code, home.Body)
		}
	})
}
