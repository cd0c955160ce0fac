package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	josev4 "github.com/go-jose/go-jose/v4"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// logoutRP is a relying party's backchannel_logout_uri: it answers the
// statuses in fail first, then 200, and keeps every logout_token it got.
type logoutRP struct {
	mu     sync.Mutex
	fail   []int
	tokens []string
	forms  []string
}

func (rp *logoutRP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	_ = r.ParseForm()
	rp.forms = append(rp.forms, r.PostForm.Encode())
	if len(rp.fail) > 0 {
		code := rp.fail[0]
		rp.fail = rp.fail[1:]
		if code == http.StatusFound {
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
			return
		}
		w.WriteHeader(code)
		return
	}
	rp.tokens = append(rp.tokens, r.PostForm.Get("logout_token"))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

type countingMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *countingMetrics) LogoutDelivered(result string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[result]++
}

func (m *countingMetrics) get(result string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.n[result]
}

type logoutHarness struct {
	st      *store.Store
	p       *oauth.Provider
	engine  *gin.Engine
	now     time.Time
	metrics *countingMetrics
}

func newLogoutHarness(t *testing.T, dialect string) *logoutHarness {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, dialect)
	keys, err := oauth.NewKeys(st, benchSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := &logoutHarness{st: st, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), metrics: &countingMetrics{}}
	p, err := oauth.New(oauth.Config{Issuer: benchIssuer, Secret: benchSecret, Logger: logger, Now: func() time.Time { return h.now }}, st, keys,
		claims.NewRegistry(st), claims.NewPairwise(benchSecret), benchNoSessions{})
	if err != nil {
		t.Fatal(err)
	}
	engine, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	p.Register(engine)
	h.p, h.engine = p, engine
	return h
}

func (h *logoutHarness) sender(cfg oauth.LogoutDeliveryConfig) *oauth.LogoutSender {
	cfg.Now = func() time.Time { return h.now }
	if cfg.Retries == nil {
		cfg.Retries = []time.Duration{10 * time.Second, 30 * time.Second}
	}
	return oauth.NewLogoutSender(cfg, h.p, h.metrics, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// client registers a client whose backchannel_logout_uri is uri and
// records one sign-in of it in the session sid.
func (h *logoutHarness) client(t *testing.T, id, uri, alg, sid string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := oauth.NewClients(h.st, benchSecret).Create(ctx, oauth.ClientSpec{ID: id, Name: id, RedirectURIs: []string{"https://rp.example/cb"},
		BackchannelLogoutURI: uri, BackchannelLogoutSessionRequired: true, IDTokenSignedResponseAlg: alg}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.RecordRPSession(ctx, &store.RPSession{SID: sid, ClientID: id, Subject: "sub-" + id, BeneficiaryID: "asha",
		CreatedAt: h.now, ExpiresAt: h.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

func (h *logoutHarness) queue(t *testing.T) []store.LogoutDelivery {
	t.Helper()
	rows, err := h.st.LogoutDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// jwks is the provider's published key set, as a relying party reads it.
func (h *logoutHarness) jwks(t *testing.T) josev4.JSONWebKeySet {
	t.Helper()
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, oauth.PathJWKS, nil))
	var set josev4.JSONWebKeySet
	if err := json.Unmarshal(w.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

// verifyLogoutToken checks a logout token as Back-Channel Logout 1.0 2.6
// tells a relying party to, and returns its claims.
func verifyLogoutToken(t *testing.T, set josev4.JSONWebKeySet, token string, alg josev4.SignatureAlgorithm) map[string]any {
	t.Helper()
	sig, err := josev4.ParseSigned(token, []josev4.SignatureAlgorithm{alg})
	if err != nil {
		t.Fatalf("logout token: %v", err)
	}
	h := sig.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[josev4.HeaderType].(string); typ != oauth.LogoutTokenType {
		t.Fatalf("typ %q", typ)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", h.KeyID)
	}
	payload, err := sig.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLogoutDelivery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, dialect string) {
		h := newLogoutHarness(t, dialect)
		rp := &logoutRP{fail: []int{http.StatusServiceUnavailable, http.StatusFound}}
		srv := httptest.NewServer(rp)
		defer srv.Close()
		h.client(t, "air", srv.URL+"/backchannel?tenant=1", "", "sid-1")
		h.client(t, "rail", srv.URL+"/rail", oauth.ES256, "sid-2")
		ctx := context.Background()
		if n, err := h.p.Logouts().EndClient(ctx, "air"); err != nil || n != 1 {
			t.Fatalf("EndClient: %d, %v", n, err)
		}
		s := h.sender(oauth.LogoutDeliveryConfig{AllowPrivateAddresses: true})

		// 503, then a redirect (never followed), then delivered: each
		// failure waits its turn in the schedule.
		for i, step := range []struct {
			advance time.Duration
			claimed int
		}{{0, 1}, {0, 0}, {9 * time.Second, 0}, {time.Second, 1}, {29 * time.Second, 0}, {time.Second, 1}} {
			h.now = h.now.Add(step.advance)
			n, err := s.RunOnce(ctx)
			if err != nil || n != step.claimed {
				t.Fatalf("step %d: claimed %d, %v", i, n, err)
			}
		}
		if q := h.queue(t); len(q) != 0 {
			t.Fatalf("left in the queue: %+v", q)
		}
		if len(rp.tokens) != 1 || len(rp.forms) != 3 {
			t.Fatalf("tokens %d, requests %d", len(rp.tokens), len(rp.forms))
		}
		if h.metrics.get("failed") != 2 || h.metrics.get("delivered") != 1 {
			t.Fatalf("metrics %v", h.metrics.n)
		}
		c := verifyLogoutToken(t, h.jwks(t), rp.tokens[0], josev4.RS256)
		events, _ := c["events"].(map[string]any)
		ev, ok := events[oauth.LogoutEvent].(map[string]any)
		iat, _ := c["iat"].(float64)
		exp, _ := c["exp"].(float64)
		if c["iss"] != benchIssuer || c["aud"] != "air" || c["sub"] != "sub-air" || c["sid"] != "sid-1" || !ok || len(ev) != 0 ||
			int64(iat) != h.now.Unix() || int64(exp) != h.now.Add(oauth.LogoutTokenTTL).Unix() || c["jti"] == "" || c["nonce"] != nil {
			t.Fatalf("claims %v", c)
		}
		// The other client's sign-in was not ended; ending it signs
		// with the client's ID token algorithm.
		if n, err := h.p.Logouts().EndSession(ctx, "sid-2"); err != nil || n != 1 {
			t.Fatalf("EndSession: %d, %v", n, err)
		}
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		c = verifyLogoutToken(t, h.jwks(t), rp.tokens[1], josev4.ES256)
		if c["aud"] != "rail" || c["sid"] != "sid-2" {
			t.Fatalf("claims %v", c)
		}
	})
}

// An address the client registered is not a way into the private network:
// without AllowPrivateAddresses a URI resolving to loopback is never
// dialled, and the delivery is dropped once too old.
func TestLogoutDeliveryRefusesPrivateAddresses(t *testing.T) {
	h := newLogoutHarness(t, "sqlite")
	rp := &logoutRP{}
	srv := httptest.NewServer(rp)
	defer srv.Close()
	h.client(t, "air", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)+"/bc", "", "sid-1")
	ctx := context.Background()
	if _, err := h.p.Logouts().EndSession(ctx, "sid-1"); err != nil {
		t.Fatal(err)
	}
	s := h.sender(oauth.LogoutDeliveryConfig{MaxAge: time.Minute, Retries: []time.Duration{20 * time.Second}})
	if _, err := s.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	q := h.queue(t)
	if len(q) != 1 || q[0].Attempts != 1 || !strings.Contains(q[0].LastError, "non-public address") || strings.Contains(q[0].LastError, "/bc") {
		t.Fatalf("queue %+v", q)
	}
	for range 3 {
		h.now = h.now.Add(20 * time.Second)
		if _, err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if q := h.queue(t); len(q) != 0 || len(rp.forms) != 0 || h.metrics.get("dropped") != 1 {
		t.Fatalf("queue %+v, requests %d, metrics %v", q, len(rp.forms), h.metrics.n)
	}
}

// A delivery whose client was deleted or no longer takes logout tokens is
// dropped, not retried.
func TestLogoutDeliveryDropsGoneClients(t *testing.T) {
	h := newLogoutHarness(t, "sqlite")
	h.client(t, "air", "https://air.example/bc", "", "sid-1")
	ctx := context.Background()
	if _, err := h.p.Logouts().EndSession(ctx, "sid-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := oauth.NewClients(h.st, benchSecret).Update(ctx, "air", func(s *oauth.ClientSpec) error {
		s.BackchannelLogoutURI = ""
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.sender(oauth.LogoutDeliveryConfig{}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if q := h.queue(t); len(q) != 0 || h.metrics.get("dropped") != 1 {
		t.Fatalf("queue %+v, metrics %v", q, h.metrics.n)
	}
}

func TestBackchannelLogoutURIValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		uri string
		ok  bool
	}{
		"https":               {"https://rp.example/logout?tenant=a", true},
		"http on localhost":   {"http://localhost:8081/logout", true},
		"http on loopback":    {"http://127.0.0.1:8081/logout", true},
		"http elsewhere":      {"http://rp.example/logout", false},
		"fragment":            {"https://rp.example/logout#x", false},
		"relative":            {"/logout", false},
		"other scheme":        {"ftp://rp.example/logout", false},
		"user and password":   {"https://rp:secret@rp.example/logout", false},
		"not a URL":           {"https://rp.example/%zz", false},
		"none (no logout)":    {"", true},
		"scheme only":         {"https:", false},
		"javascript":          {"javascript:alert(1)", false},
		"too long":            {"https://rp.example/" + strings.Repeat("a", 2000), false},
		"query is fine":       {"https://rp.example/logout?" + url.Values{"a": {"b"}}.Encode(), true},
		"session required ok": {"https://rp.example/logout", true},
	} {
		t.Run(name, func(t *testing.T) {
			err := oauth.ClientSpec{Name: "RP", RedirectURIs: []string{"https://rp.example/cb"}, BackchannelLogoutURI: tc.uri,
				BackchannelLogoutSessionRequired: true}.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("%q: %v", tc.uri, err)
			}
			if err != nil && !strings.Contains(err.Error(), "backchannel logout URI") {
				t.Fatalf("error does not name the field: %v", err)
			}
		})
	}
}
