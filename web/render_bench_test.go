package web

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
)

// The language switch made once per language and filled in with the
// return path is, byte for byte, the switch the template makes for that
// path, whatever characters the path holds.
func TestLangSwitchAsTheTemplateMakesIt(t *testing.T) {
	nexts := []string{"/", "/login/abc", "/login/a%20b?x=1&y=+é<\"'>", "/me?q=kycvsnextpath", "/x?a=b#frag"}
	for _, l := range locale.All() {
		for _, next := range nexts {
			var want strings.Builder
			data := struct {
				Lang   locale.Lang
				Switch []LangLink
			}{l, langLinks(l, next)}
			if err := pages[l]["login"].ExecuteTemplate(&want, "langswitch", data); err != nil {
				t.Fatal(err)
			}
			if got := string(langSwitch(l, next)); got != want.String() {
				t.Errorf("%s, next %q:\n got %s\nwant %s", l.Code(), next, got, want.String())
			}
		}
	}
}

// BenchmarkRenderLogin renders the sign-in page, one of the two pages
// every verification renders.
func BenchmarkRenderLogin(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	for b.Loop() {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("GET", "/login/abc", nil)
		Render(c, 200, "login", LoginPage{ClientName: "Demo Airlines", Action: "/login/abc", CancelAction: "/login/abc/cancel", CSRFToken: "tok"})
	}
}
