package oauth_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// Clients the authorize fuzz target registers, under fixed IDs so seeds
// can name them.
const (
	fuzzConfidential = "fuzz-airline"
	fuzzPublic       = "fuzz-spa"
	fuzzRedirect     = "https://rp.example/cb"
	// fuzzPublicRedirect is fuzzPublic's redirect URI.
	fuzzPublicRedirect = "https://spa.example/"
)

// testProvider is the real provider on the real engine over a fresh
// SQLite store, with two clients, benchPerson in the registry and nobody
// signed in: the fuzz target's server and the handler tests'.
type testProvider struct {
	engine *gin.Engine
	st     *store.Store
	// secret is fuzzConfidential's client secret.
	secret string
}

func newTestProvider(tb testing.TB) *testProvider {
	tb.Helper()
	ctx := context.Background()
	st := storetest.Open(tb, "sqlite")
	keys, err := oauth.NewKeys(st, benchSecret)
	if err != nil {
		tb.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		tb.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := oauth.New(oauth.Config{Issuer: benchIssuer, Secret: benchSecret, Logger: logger}, st, keys,
		claims.NewRegistry(st), claims.NewPairwise(benchSecret), benchNoSessions{})
	if err != nil {
		tb.Fatal(err)
	}
	engine, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	p.Register(engine)
	clients := oauth.NewClients(st, benchSecret)
	tp := &testProvider{engine: engine, st: st}
	for _, spec := range []oauth.ClientSpec{
		{ID: fuzzConfidential, Name: "Fuzz Airline", RedirectURIs: []string{fuzzRedirect, fuzzRedirect + "2"}, Scopes: []string{"openid", "vaccination_status", "profile", "phone", "offline_access"}},
		{ID: fuzzPublic, Name: "Fuzz SPA", RedirectURIs: []string{fuzzPublicRedirect}, Public: true},
	} {
		_, secret, err := clients.Create(ctx, spec)
		if err != nil {
			tb.Fatal(err)
		}
		if spec.ID == fuzzConfidential {
			tp.secret = secret
		}
	}
	registerBenchPerson(tb, st)
	return tp
}

// FuzzAuthorize sends any query (by GET) or form (by POST) to the real
// authorization endpoint. Whatever it is, the answer is never a 5xx or a
// panic, and it never sends the browser anywhere but a sign-in page of
// kycvs or, exactly, a redirect URI registered for the client named, and
// there never with a code (nobody is signed in). Seeds:
// testdata/fuzz/FuzzAuthorize.
func FuzzAuthorize(f *testing.F) {
	valid := url.Values{"response_type": {"code"}, "client_id": {fuzzConfidential}, "redirect_uri": {fuzzRedirect},
		"scope": {"openid vaccination_status"}, "state": {"state-0123456789"}, "nonce": {"nonce-0123456789"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	f.Add(valid.Encode(), false)
	f.Add(valid.Encode(), true)
	f.Add("response_type=code&client_id="+fuzzPublic+"&redirect_uri=https%3A%2F%2Fspa.example%2F&scope=openid&state=abcdefghij", false)
	f.Add("response_type=token&client_id="+fuzzConfidential+"&redirect_uri=https%3A%2F%2Fevil.example%2F", false)
	f.Add("client_id="+fuzzConfidential+"&request_uri=https%3A%2F%2Fevil.example%2Fr&redirect_uri=https%3A%2F%2Frp.example%2Fcb", false)
	f.Add("%zz&;;&&=", true)
	engine := newTestProvider(f).engine
	registered := map[string][]string{
		fuzzConfidential: {fuzzRedirect, fuzzRedirect + "2"},
		fuzzPublic:       {fuzzPublicRedirect},
	}
	f.Fuzz(func(t *testing.T, query string, post bool) {
		var r *http.Request
		if post {
			r = httptest.NewRequest(http.MethodPost, oauth.PathAuth, strings.NewReader(query))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			r = httptest.NewRequest(http.MethodGet, oauth.PathAuth, nil)
			r.URL.RawQuery = query
		}
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%d for %q: %s", w.Code, query, w.Body.String())
		}
		loc := w.Header().Get("Location")
		if loc == "" {
			return
		}
		if strings.HasPrefix(loc, "/login/") && !strings.ContainsAny(loc[len("/login/"):], "/?#\\") {
			return
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("unparseable Location %q", loc)
		}
		if u.Query().Get("code") != "" {
			t.Fatalf("a code without a sign-in: %s", loc)
		}
		u.RawQuery, u.Fragment = "", ""
		for _, uris := range registered {
			for _, uri := range uris {
				if u.String() == uri {
					return
				}
			}
		}
		t.Fatalf("redirect to %q, not a registered redirect URI (request %q)", loc, query)
	})
}
