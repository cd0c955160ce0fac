package kycvsapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

const (
	testSecret = "kycvsapi-test-secret-0123456789abcdef"
	issuer     = "https://kycvs.test"
	clientAir  = "air"
	clientRail = "rail"
)

// registry is the real registry unless MatchFunc or BeneficiaryFunc say
// otherwise.
type registry struct {
	real            *claims.Registry
	MatchFunc       func(ctx context.Context, mobile, name string) (*store.Beneficiary, error)
	BeneficiaryFunc func(ctx context.Context, id string) (*store.Beneficiary, error)
}

func (r *registry) Match(ctx context.Context, mobile, name string) (*store.Beneficiary, error) {
	if r.MatchFunc != nil {
		return r.MatchFunc(ctx, mobile, name)
	}
	return r.real.Match(ctx, mobile, name)
}

func (r *registry) Beneficiary(ctx context.Context, id string) (*store.Beneficiary, error) {
	if r.BeneficiaryFunc != nil {
		return r.BeneficiaryFunc(ctx, id)
	}
	return r.real.Beneficiary(ctx, id)
}

type harness struct {
	t       *testing.T
	st      *store.Store
	clock   *kycvstest.Clock
	sms     *kycvstest.Inbox
	reg     *registry
	keys    *oauth.Keys
	apiKeys *kycvsapi.APIKeys
	engine  *gin.Engine
	otps    *otp.Service
	// key holds each client's API key.
	key map[string]string
}

// newHarness wires the API as cmd/kycvs does, over a fresh store of
// dialect with the demo registry, clients air and rail, and a key each.
func newHarness(t *testing.T, dialect string, tweak func(*otp.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, dialect)
	clock := kycvstest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	ocfg := otp.Config{
		Secret: []byte(testSecret),
		Limits: otp.Limits{
			MaxTries:       otp.DefaultMaxTries,
			ResendInterval: otp.DefaultResendInterval,
			DailyLimit:     otp.DefaultDailyLimit,
			IPLimit:        otp.DefaultIPLimit,
		},
		Now: clock.Now,
	}
	if tweak != nil {
		tweak(&ocfg)
	}
	sms := &kycvstest.Inbox{}
	otps := otp.New(ocfg, st, sms)
	keys, err := oauth.NewKeys(st, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	reg := &registry{real: claims.NewRegistry(st)}
	apiKeys := kycvsapi.NewAPIKeys(st, []byte(testSecret))
	api, err := kycvsapi.New(kycvsapi.Config{Issuer: issuer, Now: clock.Now, Logger: slog.New(slog.DiscardHandler)},
		st, apiKeys, otps, reg, claims.NewPairwise([]byte(testSecret)), keys)
	if err != nil {
		t.Fatal(err)
	}
	engine, err := web.NewEngine(web.Config{Logger: slog.New(slog.DiscardHandler), TooLarge: kycvsapi.TooLarge()})
	if err != nil {
		t.Fatal(err)
	}
	api.Register(engine)
	if _, err := st.ReplaceBeneficiaries(ctx, claims.DemoRegistry()); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, clock: clock, sms: sms, reg: reg, keys: keys, apiKeys: apiKeys, engine: engine, otps: otps, key: map[string]string{}}
	for _, c := range []store.Client{
		{ID: clientAir, Name: "Example Air", RedirectURIs: store.StringList{"https://air.example/cb"}},
		{ID: clientRail, Name: "Rail", RedirectURIs: store.StringList{"https://rail.example/cb"}},
	} {
		if err := st.CreateClient(ctx, &c); err != nil {
			t.Fatal(err)
		}
		full, _, err := apiKeys.Create(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		h.key[c.ID] = full
	}
	return h
}

// eachBackend runs fn on a fresh harness of every backend.
func eachBackend(t *testing.T, tweak func(*otp.Config), fn func(t *testing.T, h *harness)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, dialect string) { fn(t, newHarness(t, dialect, tweak)) })
}

// response is one answer, its JSON body decoded when it has one.
type response struct {
	Code   int
	Header http.Header
	Body   string
	JSON   map[string]any
}

func (r response) errorCode() string { s, _ := r.JSON["errorCode"].(string); return s }

// call makes one request from ip with the given headers.
func (h *harness) call(method, path, body, ip string, headers map[string]string) response {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = ip + ":50000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.engine.ServeHTTP(w, r)
	resp := response{Code: w.Code, Header: w.Header(), Body: w.Body.String()}
	if strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(w.Body.Bytes(), &resp.JSON); err != nil {
			h.t.Fatalf("%s %s: body is not JSON: %q", method, path, w.Body.String())
		}
	}
	return resp
}

func jsonBody(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

const callerIP = "192.0.2.10"

func (h *harness) generate(client, mobile, name string) response {
	return h.call(http.MethodPost, kycvsapi.PathGenerateOTP, jsonBody(map[string]any{"mobile_number": mobile, "full_name": name}),
		callerIP, map[string]string{kycvsapi.HeaderAPIKey: h.key[client]})
}

func (h *harness) confirm(txn, otpDigest string, headers map[string]string) response {
	return h.call(http.MethodPost, kycvsapi.PathConfirmOTP, jsonBody(map[string]any{"otp": otpDigest, "txnId": txn}), callerIP, headers)
}

func (h *harness) status(token string, headers map[string]string) response {
	hd := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range headers {
		hd[k] = v
	}
	return h.call(http.MethodGet, kycvsapi.PathStatus, "", callerIP, hd)
}

// lastOTP is the code in the latest SMS to mobile (E.164).
func (h *harness) lastOTP(mobile string) string {
	h.t.Helper()
	return h.sms.LastCode(h.t, mobile)
}

func digest(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// txn runs generateOTP and returns the txnId and the code the person got.
func (h *harness) txn(client, mobile10, name string) (string, string) {
	h.t.Helper()
	r := h.generate(client, mobile10, name)
	want(h.t, r, http.StatusOK, "")
	txn, _ := r.JSON["txnId"].(string)
	if txn == "" {
		h.t.Fatalf("no txnId: %s", r.Body)
	}
	return txn, h.lastOTP("+91" + mobile10)
}

// token runs generateOTP and confirmOTP and returns the bearer token.
func (h *harness) token(client, mobile10, name string) (string, string) {
	h.t.Helper()
	txn, code := h.txn(client, mobile10, name)
	r := h.confirm(txn, digest(code), nil)
	want(h.t, r, http.StatusOK, "")
	tok, _ := r.JSON["token"].(string)
	if tok == "" {
		h.t.Fatalf("no token: %s", r.Body)
	}
	return tok, txn
}

// want checks the status and, for errors, the errorCode, the error
// message and the no-store header.
func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Code != status || r.errorCode() != code {
		t.Fatalf("got %d %s, want %d %q", r.Code, r.Body, status, code)
	}
	if code != "" {
		if msg, _ := r.JSON["error"].(string); msg == "" {
			t.Errorf("error answer without a message: %s", r.Body)
		}
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" && r.JSON != nil {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}
