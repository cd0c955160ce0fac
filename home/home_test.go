package home_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kycvs/kycvs/home"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/web"
)

// TestPrivacyNotice: the root page's notice says what is really kept and
// for how long, from the configured lifetimes: each code is kept as a
// keyed hash (never "not stored"), the send counters are per mobile (under
// a keyed hash) and per network address, for a day.
func TestPrivacyNotice(t *testing.T) {
	engine, err := web.NewEngine(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	home.New(home.Config{Retention: 365 * 24 * time.Hour, SessionTTL: time.Hour,
		Lifetimes: oauth.Lifetimes{LoginTTL: 10 * time.Minute, AccessTokenTTL: time.Hour, RefreshTokenTTL: 30 * 24 * time.Hour}}).Register(engine)
	for _, tc := range []struct {
		lang string
		want []string
		not  []string
	}{
		{"en", []string{"deleted once it expires, 10 minutes after it began", "Each code is kept only as a keyed hash, and deleted with them.",
			"codes sent to each mobile number (under a keyed hash) and the codes asked for from each network address", "deleted after 365 days"},
			[]string{"never stored"}},
		{"hi", []string{"कुंजी-युक्त हैश के रूप में रखा जाता है", "हर नेटवर्क पते से"}, []string{"कभी संग्रहीत नहीं"}},
		{"ur", []string{"ہیش کی صورت میں رکھا جاتا ہے", "ہر نیٹ ورک ایڈریس سے", `dir="rtl"`}, []string{"کبھی محفوظ نہیں"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Accept-Language", tc.lang)
			engine.ServeHTTP(w, r)
			b, _ := io.ReadAll(w.Result().Body)
			body := string(b)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("the notice lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Errorf("the notice still says %q", s)
				}
			}
		})
	}
}

// The notice states the session and token lifetimes it was given, not the
// defaults.
func TestPrivacyNoticeStatesConfiguredLifetimes(t *testing.T) {
	engine, err := web.NewEngine(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	home.New(home.Config{
		Retention:  90 * 24 * time.Hour,
		Lifetimes:  oauth.Lifetimes{LoginTTL: 7 * time.Minute, AccessTokenTTL: 20 * time.Minute, RefreshTokenTTL: 2 * 24 * time.Hour},
		SessionTTL: 11 * time.Minute,
	}).Register(engine)
	w := httptest.NewRecorder()
	engine.ServeHTTP(w, httptest.NewRequest(http.MethodGet, home.PathRoot, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	for _, want := range []string{"7 minutes after it began", "signed in for 11 minutes", "deleted after 90 days", "for 20 minutes; if you let it keep reading, for up to 2 days"} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("the notice lacks %q", want)
		}
	}
}
