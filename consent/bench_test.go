package consent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

const (
	benchMobile = "+919876543210"
	benchName   = "Asha Kumari"
	benchClient = "bench-rail"
)

// benchFlow is the real flow on the real engine over a fresh store of
// dialect, with the real registry holding one person.
type benchFlow struct {
	st     *store.Store
	engine *gin.Engine
	sms    *kycvstest.Inbox
	cookie string // the CSRF cookie's value
	csrf   string // the pages' token for it
}

func newBenchFlow(b *testing.B, dialect string, tweak func(*testConfig)) *benchFlow {
	b.Helper()
	ctx := context.Background()
	st := storetest.Open(b, dialect)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := testConfig{
		Config: consent.Config{
			FinishURL: func(ch string) string { return "/finish/" + ch },
			CSRFKey:   testCSRFKey,
			Logger:    logger,
		},
		OTP: otp.Config{
			Secret: []byte("bench-secret-0123456789abcdef0123456789abcdef"),
			Limits: otp.Limits{
				MaxTries:       otp.DefaultMaxTries,
				ResendInterval: otp.DefaultResendInterval,
				DailyLimit:     otp.DefaultDailyLimit,
				IPLimit:        otp.DefaultIPLimit,
			},
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	engine, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	sms := &kycvstest.Inbox{}
	flow, _ := newFlow(b, cfg, st, claims.NewRegistry(st), sms)
	flow.Register(engine)
	if err := st.CreateClient(ctx, &store.Client{ID: benchClient, Name: "Indian Rail", RedirectURIs: store.StringList{"https://rail.example/cb"}}); err != nil {
		b.Fatal(err)
	}
	person := store.Beneficiary{ID: "bench-asha", Mobile: benchMobile, Name: benchName, NameKey: claims.NameKey(benchName), YearOfBirth: 1985,
		Doses: []store.Dose{{Vaccine: "Covaxin", DoseNumber: 1, TotalDoses: 2, DoseDate: "2021-09-15"}}}
	if _, err := st.ReplaceBeneficiaries(ctx, []store.Beneficiary{person}); err != nil {
		b.Fatal(err)
	}
	bf := &benchFlow{st: st, engine: engine, sms: sms}
	bf.cookie, bf.csrf = csrfPair(b, engine, "/login/"+bf.challenge(b))
	return bf
}

// challenge stores a login request as oauth would.
func (bf *benchFlow) challenge(b *testing.B) string {
	b.Helper()
	var id [16]byte
	_, _ = rand.Read(id[:])
	now := time.Now().UTC()
	lr := &store.LoginRequest{
		ID: hex.EncodeToString(id[:]), ClientID: benchClient, Form: "client_id=" + benchClient + "&response_type=code",
		Scopes: store.StringList{"openid", "vaccination_status"}, Claims: store.StringList{"vaccination_status"},
		State: store.LoginPending, CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute),
	}
	if err := bf.st.CreateLoginRequest(context.Background(), lr); err != nil {
		b.Fatal(err)
	}
	return lr.ID
}

// post submits a form with the browser's CSRF cookie and token from ip.
func (bf *benchFlow) post(path, ip string, form url.Values) *httptest.ResponseRecorder {
	form.Set(web.CSRFField, bf.csrf)
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: web.CSRFCookie, Value: bf.cookie})
	r.RemoteAddr = ip + ":40000"
	w := httptest.NewRecorder()
	bf.engine.ServeHTTP(w, r)
	return w
}

// sendOTP submits mobile and name for ch and returns the code sent. The
// answer is a redirect to the challenge's page (POST-redirect-GET), which
// a browser then loads; that GET is not part of the send.
func (bf *benchFlow) sendOTP(b *testing.B, ch, mobile, ip string) string {
	w := bf.post("/login/"+ch, ip, url.Values{"mobile": {mobile}, "name": {benchName}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login/"+ch {
		b.Fatalf("send code: %d %q", w.Code, w.Header().Get("Location"))
	}
	return bf.sms.LastCode(b, mobile)
}

// verifyOTP submits the right code; the challenge must be approved.
func (bf *benchFlow) verifyOTP(b *testing.B, ch, otp string) {
	w := bf.post("/login/"+ch+"/otp", "192.0.2.1", url.Values{"otp": {otp}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/finish/"+ch {
		b.Fatalf("verify code: %d %q", w.Code, w.Header().Get("Location"))
	}
}

// BenchmarkVerifyOTP measures the code check, which is the consent: the
// locked read of the challenge, the keyed hash, the registry match, the
// new session and the approval in one transaction, on each backend. The
// challenges and their codes are made before the timer starts.
func BenchmarkVerifyOTP(b *testing.B) {
	storetest.ForEachBench(b, func(b *testing.B, dialect string) {
		type sent struct{ ch, otp string }
		prepare := func(b *testing.B, bf *benchFlow) []sent {
			out := make([]sent, b.N)
			for i := range out {
				out[i].ch = bf.challenge(b)
				out[i].otp = bf.sendOTP(b, out[i].ch, benchMobile, "192.0.2.1")
			}
			return out
		}
		// The limits would stop one mobile after 50 codes; they are
		// BenchmarkSendOTP's subject, not this one's.
		noLimits := func(c *testConfig) { c.OTP.DailyLimit, c.OTP.IPLimit = 0, 0 }
		b.Run("serial", func(b *testing.B) {
			bf := newBenchFlow(b, dialect, noLimits)
			todo := prepare(b, bf)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				bf.verifyOTP(b, todo[i].ch, todo[i].otp)
			}
		})
		b.Run("parallel", func(b *testing.B) {
			bf := newBenchFlow(b, dialect, noLimits)
			todo := prepare(b, bf)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					s := todo[next.Add(1)-1]
					bf.verifyOTP(b, s.ch, s.otp)
				}
			})
		})
	})
}

// BenchmarkSendOTP measures "send code" with the default limits on: the
// per-IP and per-mobile counts, the code's keyed hash, the challenge's
// update and the SMS handed to the sender. Each send comes from its own
// IP to its own mobile, so no limit is reached.
func BenchmarkSendOTP(b *testing.B) {
	storetest.ForEachBench(b, func(b *testing.B, dialect string) {
		bf := newBenchFlow(b, dialect, nil)
		chs := make([]string, b.N)
		for i := range chs {
			chs[i] = bf.challenge(b)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			mobile := fmt.Sprintf("+9170000%05d", i%100000)
			ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
			if bf.sendOTP(b, chs[i], mobile, ip) == "" {
				b.Fatal("no code sent")
			}
		}
	})
}
