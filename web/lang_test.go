package web_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/web"
)

// langEngine serves /page, an OTP page whose sign-in began at started
// and whose relying party asked for uiLocales.
func langEngine(t *testing.T, uiLocales string, started time.Time) *gin.Engine {
	t.Helper()
	e, _ := newTestEngine(t, nil)
	e.GET("/page", func(c *gin.Context) {
		web.UseUILocales(c, uiLocales, started)
		web.Render(c, http.StatusOK, "otp", web.OTPPage{ClientName: "Rail", MaskedMobile: "+91******3210"})
	})
	return e
}

func htmlLang(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<html lang="([^"]+)" dir="([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no <html lang dir> in %s", body)
	}
	return m[1] + " " + m[2]
}

// TestLanguageOrder: ui_locales, then the person's pick (the cookie), then
// Accept-Language, then English; and a pick made during the sign-in beats
// its ui_locales.
func TestLanguageOrder(t *testing.T) {
	started := time.Now().Add(-time.Minute)
	pick := func(code string, at time.Time) *http.Cookie {
		return &http.Cookie{Name: web.LangCookie, Value: code + "." + strconv.FormatInt(at.Unix(), 10)}
	}
	tests := []struct {
		name   string
		ui     string
		cookie *http.Cookie
		accept string
		want   string
	}{
		{name: "nothing: English", want: "en ltr"},
		{name: "Accept-Language", accept: "hi-IN,hi;q=0.9,en;q=0.8", want: "hi ltr"},
		{name: "Accept-Language unsupported", accept: "fr", want: "en ltr"},
		{name: "cookie beats Accept-Language", cookie: pick("ur", started.Add(-time.Hour)), accept: "hi", want: "ur rtl"},
		{name: "ui_locales beats an older pick", ui: "hi", cookie: pick("ur", started.Add(-time.Hour)), want: "hi ltr"},
		{name: "a pick during the sign-in beats ui_locales", ui: "hi", cookie: pick("ur", started.Add(time.Second)), want: "ur rtl"},
		{name: "ui_locales list", ui: "fr ur hi", accept: "hi", want: "ur rtl"},
		{name: "ISO 639-2 code", ui: "hin", want: "hi ltr"},
		{name: "ui_locales unsupported falls through", ui: "fr", accept: "hi", want: "hi ltr"},
		{name: "cookie not ours is ignored", cookie: &http.Cookie{Name: web.LangCookie, Value: "xx.1"}, accept: "ur", want: "ur rtl"},
		{name: "cookie without time still a pick", cookie: &http.Cookie{Name: web.LangCookie, Value: "hi"}, want: "hi ltr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/page", nil)
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			w := do(langEngine(t, tt.ui, started), r)
			if got := htmlLang(t, w.Body.String()); got != tt.want {
				t.Errorf("<html> = %q, want %q", got, tt.want)
			}
			if got := w.Header().Get("Content-Language"); got != strings.Fields(tt.want)[0] {
				t.Errorf("Content-Language = %q", got)
			}
		})
	}
}

// TestLanguageSwitch: every page lists every language with a link that
// keeps the pick and returns to the page; the return address cannot leave
// the site.
func TestLanguageSwitch(t *testing.T) {
	e := langEngine(t, "", time.Now())
	body := do(e, httptest.NewRequest(http.MethodGet, "/page?x=1", nil)).Body.String()
	for _, l := range locale.All() {
		link := `href="/lang/` + l.Code() + `?next=%2Fpage%3Fx%3D1" lang="` + l.Code() + `"`
		if !strings.Contains(body, link) {
			t.Errorf("page lacks the switch link %s", link)
		}
		if !strings.Contains(body, ">"+l.Name()+"</a>") {
			t.Errorf("page lacks %s's name", l.Code())
		}
	}
	if !strings.Contains(body, `aria-current="true">English</a>`) {
		t.Error("the current language is not marked")
	}

	tests := []struct {
		path, location string
		status         int
	}{
		{"/lang/ur?next=%2Fpage%3Fx%3D1", "/page?x=1", http.StatusSeeOther},
		{"/lang/hi?next=https%3A%2F%2Fevil.example%2F", "/", http.StatusSeeOther},
		{"/lang/hi?next=%2F%2Fevil.example%2F", "/", http.StatusSeeOther},
		{"/lang/hi?next=%2F%5Cevil.example", "/", http.StatusSeeOther},
		{"/lang/hi", "/", http.StatusSeeOther},
		{"/lang/fr?next=%2Fpage", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := do(e, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			if tt.status != http.StatusSeeOther {
				return
			}
			if got := w.Header().Get("Location"); got != tt.location {
				t.Errorf("Location = %q, want %q", got, tt.location)
			}
			set := w.Result().Cookies()
			if len(set) != 1 || set[0].Name != web.LangCookie || !set[0].HttpOnly || set[0].MaxAge < 86400 {
				t.Fatalf("cookies = %v", set)
			}
			// The pick, sent back, decides the next page.
			r := httptest.NewRequest(http.MethodGet, "/page", nil)
			r.AddCookie(set[0])
			r.Header.Set("Accept-Language", "en")
			code := strings.TrimPrefix(strings.SplitN(tt.path, "?", 2)[0], "/lang/")
			if got := htmlLang(t, do(e, r).Body.String()); !strings.HasPrefix(got, code+" ") {
				t.Errorf("after the pick: <html> %q", got)
			}
		})
	}
}

// TestSwitchReturnsToPageAfterPost: a page answering a POST cannot be
// loaded again, so its switch returns to the page SetPagePath names.
func TestSwitchReturnsToPageAfterPost(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	e.POST("/login/abc/otp", func(c *gin.Context) {
		web.SetPagePath(c, "/login/abc")
		web.Render(c, http.StatusOK, "error", web.ErrorPage{Key: "expired"})
	})
	e.POST("/other", func(c *gin.Context) { web.Render(c, http.StatusOK, "error", web.ErrorPage{Key: "expired"}) })
	if body := do(e, httptest.NewRequest(http.MethodPost, "/login/abc/otp", nil)).Body.String(); !strings.Contains(body, `href="/lang/hi?next=%2Flogin%2Fabc"`) {
		t.Errorf("switch does not return to the challenge's page:\n%s", body)
	}
	if body := do(e, httptest.NewRequest(http.MethodPost, "/other", nil)).Body.String(); !strings.Contains(body, `href="/lang/hi?next=%2F"`) {
		t.Errorf("switch without a page path does not return to /:\n%s", body)
	}
}

// pageStates are the person-facing pages with data that takes every branch.
var pageStates = []struct {
	name string
	data any
}{
	{"login", web.LoginPage{ClientName: "Rail", Mobile: "+919876543210", Name: "Asha", Error: web.M("alert.bad_mobile")}},
	{"otp", web.OTPPage{ClientName: "Rail", Claims: []string{"vaccination_status", "fully_vaccinated", "name", "phone_number", "phone_number_verified"}, Offline: true, MaskedMobile: "+91******3210", ResendWait: 45 * time.Second, Notice: web.M("alert.resend_too_soon"), Error: web.M("alert.wrong_otp_left", "Count", 1)}},
	{"otp", web.OTPPage{ClientName: "Rail", MaskedMobile: "+91******3210", ResendWait: 3 * time.Minute, Error: web.M("alert.wrong_otp_left", "Count", 2)}},
	{"otp", web.OTPPage{ClientName: "Rail", MaskedMobile: "+91******3210", Error: web.M("alert.wrong_otp")}},
	{"consent", web.ConsentPage{ClientName: "Rail", Claims: []string{"vaccination_status"}, Offline: true, Name: "Asha", MaskedMobile: "+91******3210", Error: web.M("alert.bad_name")}},
	{"nomatch", web.NoMatchPage{ClientName: "Rail", MaskedMobile: "+91******3210", Name: "Asha"}},
	{"nomatch", web.NoMatchPage{ClientName: "Rail", MaskedMobile: "+91******3210", Name: "Asha", Unavailable: true, Error: web.M("alert.otp_expired")}},
}

// TestNoRawKeys renders every page state and every error page in every
// language and looks for a message ID or an unfilled placeholder in the
// result: either means a key is missing or misspelt.
func TestNoRawKeys(t *testing.T) {
	e, _ := newTestEngine(t, nil)
	states := pageStates
	for _, id := range locale.IDs() {
		if key, ok := strings.CutPrefix(id, "error."); ok && strings.HasSuffix(key, ".title") {
			states = append(states, struct {
				name string
				data any
			}{"error", web.ErrorPage{Key: strings.TrimSuffix(key, ".title"), RequestID: "rid"}})
		}
	}
	var current any
	var currentName string
	e.GET("/state", func(c *gin.Context) { web.Render(c, http.StatusOK, currentName, current) })
	ids := locale.IDs()
	for _, l := range locale.All() {
		for i, st := range states {
			currentName, current = st.name, st.data
			r := httptest.NewRequest(http.MethodGet, "/state", nil)
			r.AddCookie(&http.Cookie{Name: web.LangCookie, Value: l.Code()})
			w := do(e, r)
			body := w.Body.String()
			if w.Code != http.StatusOK {
				t.Errorf("%s %s #%d: status %d", l.Code(), st.name, i, w.Code)
				continue
			}
			for _, id := range ids {
				if strings.Contains(body, id) {
					t.Errorf("%s %s #%d shows the raw key %q", l.Code(), st.name, i, id)
				}
			}
			for _, bad := range []string{"<no value>", "{{", "error.", "%!"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s %s #%d contains %q", l.Code(), st.name, i, bad)
				}
			}
			if !strings.Contains(body, `<html lang="`+l.Code()+`" dir="`+l.Dir()+`">`) {
				t.Errorf("%s %s #%d: wrong <html lang dir>", l.Code(), st.name, i)
			}
		}
	}
}

// TestMessageIDsInCode finds every message ID the Go code and templates
// name (RenderError keys, web.M IDs, the t function of templates) and checks the English
// catalogue has it, so a misspelt or forgotten key fails here rather than
// on a person's screen.
func TestMessageIDsInCode(t *testing.T) {
	patterns := []struct {
		re     *regexp.Regexp
		prefix string
		suffix string
	}{
		{regexp.MustCompile(`RenderError\(c, [^,]+, "([a-z_]+)"\)`), "error.", ".title"},
		{regexp.MustCompile(`RenderError\(c, [^,]+, "([a-z_]+)"\)`), "error.", ".message"},
		{regexp.MustCompile(`web\.M\("([a-z_.]+)"`), "", ""},
		{regexp.MustCompile(`\bM\("([a-z_.]+)"`), "", ""},
		{regexp.MustCompile(`\{\{-?\s*t "([a-z_.]+)"`), "", ""},
	}
	found := 0
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".html")) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, pt := range patterns {
			for _, m := range pt.re.FindAllStringSubmatch(string(b), -1) {
				found++
				if id := pt.prefix + m[1] + pt.suffix; !locale.Has(id) {
					t.Errorf("%s names %q, which the English catalogue lacks", p, id)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 50 {
		t.Errorf("found only %d message IDs in the code; patterns out of date?", found)
	}
}
