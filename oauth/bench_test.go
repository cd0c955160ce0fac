package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

const (
	benchIssuer   = "http://127.0.0.1:8080"
	benchRedirect = "http://127.0.0.1:9/callback"
	benchPerson   = "bench-asha"
)

var benchSecret = []byte("bench-secret-0123456789abcdef0123456789abcdef")

// benchNoSessions is a browser that is never signed in: every
// authorization goes through a login request.
type benchNoSessions struct{}

func (benchNoSessions) CurrentSession(*http.Request) (*store.Session, error) {
	return nil, store.ErrNotFound
}
func (benchNoSessions) SessionID(*http.Request) (string, bool)              { return "", false }
func (benchNoSessions) EndSession(http.ResponseWriter, *http.Request) error { return nil }

// benchProvider is the real provider on the real engine over a fresh store
// of dialect, with one registered person and one confidential client.
type benchProvider struct {
	st       *store.Store
	engine   *gin.Engine
	clientID string
	secret   string
}

func newBenchProvider(b *testing.B, dialect, alg string) *benchProvider {
	b.Helper()
	ctx := context.Background()
	st := storetest.Open(b, dialect)
	keys, err := oauth.NewKeys(st, benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	reg := claims.NewRegistry(st)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := oauth.New(oauth.Config{Issuer: benchIssuer, Secret: benchSecret, Logger: logger}, st, keys, reg, claims.NewPairwise(benchSecret), benchNoSessions{})
	if err != nil {
		b.Fatal(err)
	}
	engine, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	p.Register(engine)
	c, secret, err := oauth.NewClients(st, benchSecret).Create(ctx, oauth.ClientSpec{
		Name: "Bench Airline", RedirectURIs: []string{benchRedirect}, IDTokenSignedResponseAlg: alg,
	})
	if err != nil {
		b.Fatal(err)
	}
	registerBenchPerson(b, st)
	return &benchProvider{st: st, engine: engine, clientID: c.ID, secret: secret}
}

// registerBenchPerson puts benchPerson, fully vaccinated, in st's registry.
func registerBenchPerson(tb testing.TB, st *store.Store) {
	tb.Helper()
	person := store.Beneficiary{
		ID: benchPerson, Mobile: "+919876543210", Name: "Asha Verma", NameKey: claims.NameKey("Asha Verma"), YearOfBirth: 1985,
		Doses: []store.Dose{
			{Vaccine: "Covishield", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-05-10"},
			{Vaccine: "Covishield", DoseNumber: 2, TotalDoses: 2, DoseDate: "2021-08-02"},
		},
	}
	if _, err := st.ReplaceBeneficiaries(context.Background(), []store.Beneficiary{person}); err != nil {
		tb.Fatal(err)
	}
}

func (bp *benchProvider) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	bp.engine.ServeHTTP(w, r)
	return w
}

// grant is an authorization code ready to be exchanged.
type grant struct {
	code, verifier string
}

// authorize runs the authorization endpoint, approves the login request
// as the sign-in flow would, and resumes it for a code.
func (bp *benchProvider) authorize(b *testing.B) grant {
	b.Helper()
	return issueCode(b, bp.engine, bp.st, bp.clientID, benchRedirect)
}

// issueCode asks engine's authorization endpoint for a code for clientID
// at redirect with PKCE, approves the login request for benchPerson as the
// sign-in flow would, and resumes it for the code.
func issueCode(tb testing.TB, engine http.Handler, st *store.Store, clientID, redirect string) grant {
	tb.Helper()
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, r)
		return w
	}
	verifier := benchRandom(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirect},
		"scope": {"openid vaccination_status"}, "state": {benchRandom(16)}, "nonce": {benchRandom(16)},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	w := serve(httptest.NewRequest(http.MethodGet, oauth.PathAuth+"?"+q.Encode(), nil))
	challenge, ok := strings.CutPrefix(w.Header().Get("Location"), oauth.LoginPath(""))
	if w.Code != http.StatusSeeOther || !ok {
		tb.Fatalf("authorize: %d %q", w.Code, w.Header().Get("Location"))
	}
	now := time.Now().UTC()
	if _, err := st.UpdateLoginRequest(context.Background(), challenge, func(lr *store.LoginRequest) error {
		lr.State, lr.BeneficiaryID, lr.AuthTime = store.LoginApproved, benchPerson, &now
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	w = serve(httptest.NewRequest(http.MethodGet, oauth.ResumeURL(challenge), nil))
	loc, err := url.Parse(w.Header().Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		tb.Fatalf("resume: %d %q", w.Code, w.Header().Get("Location"))
	}
	return grant{code: loc.Query().Get("code"), verifier: verifier}
}

// exchange is the token request a confidential relying party sends.
func (bp *benchProvider) exchange(b *testing.B, g grant) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {g.code}, "redirect_uri": {benchRedirect}, "code_verifier": {g.verifier}}
	r := httptest.NewRequest(http.MethodPost, oauth.PathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(bp.clientID), url.QueryEscape(bp.secret))
	w := bp.serve(r)
	var body struct {
		IDToken string `json:"id_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.IDToken == "" {
		b.Fatalf("token: %d %s", w.Code, w.Body.String())
	}
}

// BenchmarkTokenExchange measures the token endpoint alone: client
// authentication, code and PKCE check, access token and signed ID token,
// through the real engine on each backend, with ID tokens signed RS256
// (the default) and ES256. Codes are issued before the timer starts.
func BenchmarkTokenExchange(b *testing.B) {
	storetest.ForEachBench(b, func(b *testing.B, dialect string) {
		for _, alg := range []string{oauth.RS256, oauth.ES256} {
			b.Run(alg, func(b *testing.B) {
				bp := newBenchProvider(b, dialect, alg)
				grants := make([]grant, b.N)
				for i := range grants {
					grants[i] = bp.authorize(b)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					bp.exchange(b, grants[i])
				}
			})
		}
		b.Run(oauth.RS256+"/parallel", func(b *testing.B) {
			bp := newBenchProvider(b, dialect, oauth.RS256)
			grants := make([]grant, b.N)
			for i := range grants {
				grants[i] = bp.authorize(b)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bp.exchange(b, grants[next.Add(1)-1])
				}
			})
		})
	})
}

// BenchmarkAuthorizeAndResume measures the protocol side of the sign-in:
// the authorization request that stores a login request, and the resume
// that issues the code once it is approved (the approval itself is a store
// update standing in for the consent flow).
func BenchmarkAuthorizeAndResume(b *testing.B) {
	storetest.ForEachBench(b, func(b *testing.B, dialect string) {
		bp := newBenchProvider(b, dialect, "")
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			bp.authorize(b)
		}
	})
}

func benchRandom(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)
}
