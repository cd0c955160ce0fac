package consent_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/consent"
	"github.com/kycvs/kycvs/internal/kycvstest"
	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
	"github.com/kycvs/kycvs/web"
)

// fuzzCode is the code every challenge of the fuzz harness gets, so seeds
// can hold the right code (see codeRand).
const fuzzCode = "123456"

// codeRand makes OTPs.newCode draw fuzzCode (it reads 4 bytes) and gives
// everything else (session cookies) real randomness.
type codeRand struct{}

func (codeRand) Read(p []byte) (int, error) {
	if len(p) == 4 {
		copy(p, []byte{0x00, 0x01, 0xe2, 0x40}) // 123456
		return 4, nil
	}
	return rand.Read(p)
}

// fuzzFlow is the sign-in flow on the real engine over SQLite, limits off
// (the fuzzer sends thousands of codes), the registry knowing Asha.
type fuzzFlow struct {
	tb     testing.TB
	st     *store.Store
	engine *gin.Engine
	sms    *kycvstest.Inbox
	cookie string // the CSRF cookie's value
	csrf   string // the pages' token for it
}

func newFuzzFlow(tb testing.TB) *fuzzFlow {
	tb.Helper()
	st := storetest.Open(tb, "sqlite")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine, err := web.NewEngine(web.Config{Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	sms := &kycvstest.Inbox{}
	flow, _ := newFlow(tb, testConfig{
		Config: consent.Config{FinishURL: finishURL, CSRFKey: testCSRFKey, Rand: codeRand{}, Logger: logger},
		OTP:    otp.Config{Secret: []byte("0123456789abcdef0123456789abcdef"), Limits: otp.Limits{MaxTries: 3}, Rand: codeRand{}},
	}, st, &fakeRegistry{MatchFunc: aRegistry}, sms)
	flow.Register(engine)
	if err := st.CreateClient(context.Background(), &store.Client{ID: clientRail, Name: "Indian <Rail>", RedirectURIs: store.StringList{"https://rail.example/cb"}}); err != nil {
		tb.Fatal(err)
	}
	ff := &fuzzFlow{tb: tb, st: st, engine: engine, sms: sms}
	ff.cookie, ff.csrf = csrfPair(tb, engine, "/login/"+ff.challenge(store.LoginPending))
	return ff
}

// challenge stores a fresh challenge at state, with a code sent when the
// state is otp_sent.
func (ff *fuzzFlow) challenge(state store.LoginState) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	lr := &store.LoginRequest{ID: hex.EncodeToString(b[:]), ClientID: clientRail, Form: "x", State: store.LoginPending,
		Scopes: store.StringList{"openid", "vaccination_status"}, Claims: store.StringList{"vaccination_status"},
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
	if err := ff.st.CreateLoginRequest(context.Background(), lr); err != nil {
		ff.tb.Fatal(err)
	}
	if state == store.LoginOTPSent {
		if w := ff.post("/login/"+lr.ID, url.Values{"mobile": {mobileAsha}, "name": {nameAsha}}); w.Code != http.StatusSeeOther {
			ff.tb.Fatalf("send: %d", w.Code)
		}
	}
	return lr.ID
}

// post submits form with a valid CSRF token, as the page's form would.
func (ff *fuzzFlow) post(path string, form url.Values) *httptest.ResponseRecorder {
	form.Set(web.CSRFField, ff.csrf)
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: web.CSRFCookie, Value: ff.cookie})
	w := httptest.NewRecorder()
	ff.engine.ServeHTTP(w, r)
	return w
}

// defang replaces the characters that make markup with harmless ones.
var defang = strings.NewReplacer("<", "x", ">", "x", `"`, "x", "'", "x", "&", "x")

// sameMarkup reports whether two answers have the same markup: as many
// tags and attribute quotes. Posting input and its defanged form must give
// the same markup when input is only ever shown escaped; an injection
// would add tags or end an attribute.
func sameMarkup(a, b string) bool {
	for _, c := range []string{"<", `"`, "'"} {
		if strings.Count(a, c) != strings.Count(b, c) {
			return false
		}
	}
	return true
}

// FuzzLoginForm posts any mobile and name to the real sign-in form. The
// answer is a redirect to the code page, with one SMS to the number the
// mobile normalises to, exactly when the mobile is a valid number and the
// name a valid name; otherwise a redirect to the form's page, a 400 that
// sends nothing. Never a 5xx, a
// panic, or the input echoed unescaped. Seeds: testdata/fuzz/FuzzLoginForm.
func FuzzLoginForm(f *testing.F) {
	for _, s := range [][2]string{{"9876543210", "Asha Kumari"}, {"+91 98765 43210", "  asha   KUMARI "}, {"", ""},
		{"98765", "Asha"}, {"9876543210", strings.Repeat("A", 101)}, {"<script>", "<script>alert(1)</script>"}, {"9876543210", "Asha\x00"}} {
		f.Add(s[0], s[1])
	}
	ff := newFuzzFlow(f)
	f.Fuzz(func(t *testing.T, mobile, name string) {
		ch := ff.challenge(store.LoginPending)
		before := len(ff.sms.All())
		w := ff.submit("/login/"+ch, url.Values{"mobile": {mobile}, "name": {name}})
		sent := ff.sms.All()[before:]
		want, mobileErr := claims.NormalizeMobile(truncateRunes(mobile, 64))
		nameOK := otp.ValidName(strings.TrimSpace(name))
		switch w.Code {
		case http.StatusSeeOther:
			if mobileErr != nil || !nameOK {
				t.Fatalf("accepted mobile %q (%v) and name %q (valid %v)", mobile, mobileErr, name, nameOK)
			}
			// The code page names the version the send wrote: the
			// fresh challenge's first write.
			if loc := w.Header().Get("Location"); loc != "/login/"+ch+"?v=1" {
				t.Fatalf("redirect to %q", loc)
			}
			if len(sent) != 1 || sent[0].To != want {
				t.Fatalf("SMS %+v, want one to %s", sent, want)
			}
		case http.StatusBadRequest:
			if mobileErr == nil && nameOK {
				t.Fatalf("refused valid mobile %q and name %q: %s", mobile, name, w.Body.String())
			}
			if len(sent) != 0 {
				t.Fatalf("a refused form sent %d SMS", len(sent))
			}
		default:
			t.Fatalf("status %d for mobile %q name %q: %s", w.Code, mobile, name, w.Body.String())
		}
		if strings.ContainsAny(mobile+name, `<>"'&`) {
			plain := ff.submit("/login/"+ff.challenge(store.LoginPending), url.Values{"mobile": {defang.Replace(mobile)}, "name": {defang.Replace(name)}})
			if plain.Code == w.Code && !sameMarkup(plain.Body.String(), w.Body.String()) {
				t.Fatalf("input changed the page's markup:\n%s\n---\n%s", w.Body.String(), plain.Body.String())
			}
		}
	})
}

// submit posts the sign-in form; a refusal (a 303 to the page with an
// outcome code, the only kind of redirect a refusal makes) is followed,
// and the page it shows returned.
func (ff *fuzzFlow) submit(path string, form url.Values) *httptest.ResponseRecorder {
	w := ff.post(path, form)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusSeeOther || (loc != path+"?m=mobile" && loc != path+"?m=name") {
		return w
	}
	r := httptest.NewRequest(http.MethodGet, loc, nil)
	r.AddCookie(&http.Cookie{Name: web.CSRFCookie, Value: ff.cookie})
	page := httptest.NewRecorder()
	ff.engine.ServeHTTP(page, r)
	return page
}

// FuzzOTPForm posts any OTP to the real code form of a challenge whose
// code is fuzzCode. Only that code (surrounding space allowed, in any
// script's digits) approves
// the challenge; anything else is a 303 back to the code page (with the
// outcome "wrong" or "format", never the input) that counts a try when it
// is six digits, and approves nothing. Never a 5xx or a panic. Seeds:
// testdata/fuzz/FuzzOTPForm.
func FuzzOTPForm(f *testing.F) {
	for _, s := range []string{fuzzCode, " 123456 ", "000000", "12345", "1234567", "١٢٣٤٥٦", "12345a", "", "<b>123456</b>"} {
		f.Add(s)
	}
	ff := newFuzzFlow(f)
	f.Fuzz(func(t *testing.T, otp string) {
		ch := ff.challenge(store.LoginOTPSent)
		w := ff.post("/login/"+ch+"/otp", url.Values{"otp": {otp}})
		lr, err := ff.st.GetLoginRequest(context.Background(), ch)
		if err != nil {
			t.Fatal(err)
		}
		// The code typed in Arabic-Indic, Devanagari... digits is the code.
		right := locale.ASCIIDigits(strings.TrimSpace(otp)) == fuzzCode
		switch {
		case right && (w.Code != http.StatusSeeOther || lr.State != store.LoginApproved):
			t.Fatalf("the right code %q: %d, state %s", otp, w.Code, lr.State)
		case !right && (w.Code != http.StatusSeeOther || (w.Header().Get("Location") != "/login/"+ch+"?m=wrong" && w.Header().Get("Location") != "/login/"+ch+"?m=format")):
			t.Fatalf("wrong code %q: %d to %q", otp, w.Code, w.Header().Get("Location"))
		case !right && lr.State != store.LoginOTPSent:
			t.Fatalf("wrong code %q moved the challenge to %s", otp, lr.State)
		case !right && lr.OTPTries > 1:
			t.Fatalf("one wrong code counted %d tries", lr.OTPTries)
		}
		if strings.ContainsAny(otp, `<>"'&`) {
			plain := ff.post("/login/"+ff.challenge(store.LoginOTPSent)+"/otp", url.Values{"otp": {defang.Replace(otp)}})
			if plain.Code == w.Code && !sameMarkup(plain.Body.String(), w.Body.String()) {
				t.Fatalf("input changed the page's markup")
			}
		}
	})
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
