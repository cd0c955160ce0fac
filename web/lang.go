package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
)

// LangCookie keeps the language a person picked with the switch on every
// page, with the time of the pick: "hi.1765000000". The time lets a pick
// made during a sign-in beat that sign-in's ui_locales (see UseUILocales)
// while an older pick does not.
const LangCookie = "kycvs_lang"

// LangPath is where the language switch's links go: /lang/<code>?next=<path>
// sets the cookie and sends the browser back to next, one of our own
// pages. A GET, so the switch works from every page without a form or
// JavaScript; it changes nothing but a preference, so it needs no CSRF token.
const LangPath = "/lang/"

// langCookieAge keeps a pick for a year.
const langCookieAge = 365 * 24 * time.Hour

// Context keys for the language of the page being rendered.
const (
	langKey     = "kycvs.lang"
	pagePathKey = "kycvs.page_path"
)

// Language returns the language the page for c is written in: the one a
// handler set with UseUILocales, else the person's pick (the cookie), else
// the best match for Accept-Language, else English.
func Language(c *gin.Context) locale.Lang {
	if v, ok := c.Get(langKey); ok {
		if l, ok := v.(locale.Lang); ok {
			return l
		}
	}
	if l, _, ok := langCookie(c); ok {
		return l
	}
	if l, ok := locale.MatchAcceptLanguage(c.GetHeader("Accept-Language")); ok {
		return l
	}
	return locale.English
}

// UseUILocales makes the relying party's ui_locales (OIDC Core §3.1.2.1)
// the language of c's page, unless the person picked a language with the
// switch at or after since (the start of this sign-in): their pick wins
// over what the relying party guessed, but a pick from an earlier visit
// does not. A ui_locales with nothing supported changes nothing. consent
// calls it for every page of a sign-in.
func UseUILocales(c *gin.Context, uiLocales string, since time.Time) {
	l, ok := locale.MatchUILocales(uiLocales)
	if !ok {
		return
	}
	if _, at, picked := langCookie(c); picked && !at.Before(since.Truncate(time.Second)) {
		return
	}
	c.Set(langKey, l)
}

// SetPagePath names the page the language switch returns to when c's
// page answers a POST (whose URL cannot be loaded again): a GET page
// showing the same step. Pages answering a GET return to their own URL.
func SetPagePath(c *gin.Context, path string) { c.Set(pagePathKey, path) }

// langCookie reads the person's pick and when it was made.
func langCookie(c *gin.Context) (locale.Lang, time.Time, bool) {
	v, err := c.Cookie(LangCookie)
	if err != nil {
		return locale.English, time.Time{}, false
	}
	code, at, _ := strings.Cut(v, ".")
	l, ok := locale.Parse(code)
	if !ok {
		return locale.English, time.Time{}, false
	}
	secs, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		secs = 0
	}
	return l, time.Unix(secs, 0), true
}

// switchReturn is the page the language switch on c's page returns to.
func switchReturn(c *gin.Context) string {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		return c.Request.URL.RequestURI()
	}
	if p := c.GetString(pagePathKey); p != "" {
		return p
	}
	return "/"
}

// LangLink is one entry of the language switch.
type LangLink struct {
	Lang    locale.Lang
	Href    string
	Current bool
}

// langLinks is the switch for a page in cur returning to next.
func langLinks(cur locale.Lang, next string) []LangLink {
	q := url.Values{"next": {next}}.Encode()
	out := make([]LangLink, 0, len(locale.All()))
	for _, l := range locale.All() {
		out = append(out, LangLink{Lang: l, Href: LangPath + l.Code() + "?" + q, Current: l == cur})
	}
	return out
}

// nextPlaceholder stands for the escaped return path in langSwitches. It
// is made of letters only, so the template's URL escaping leaves it as it
// is.
const nextPlaceholder = "kycvsnextpath"

// langSwitches holds, per language, the language switch executed once
// from the "langswitch" template with nextPlaceholder as the return path.
// Executing the switch's thirteen links on every page cost more than the
// rest of the page together; only the return path differs from page to
// page.
var langSwitches = func() map[locale.Lang]string {
	out := make(map[locale.Lang]string, len(locale.All()))
	for _, l := range locale.All() {
		var b strings.Builder
		data := struct {
			Lang   locale.Lang
			Switch []LangLink
		}{l, langLinks(l, nextPlaceholder)}
		if err := pages[l]["error"].ExecuteTemplate(&b, "langswitch", data); err != nil {
			panic(err) // embedded at build time: cannot fail at run time
		}
		if n := strings.Count(b.String(), nextPlaceholder); n != len(locale.All()) {
			panic(fmt.Sprintf("web: the language switch holds its return path %d times, want %d", n, len(locale.All())))
		}
		out[l] = b.String()
	}
	return out
}()

// langSwitch is the language switch of a page in cur returning to next.
// The return path goes in query-escaped, which leaves only characters
// that are safe as they are inside a quoted attribute.
func langSwitch(cur locale.Lang, next string) template.HTML {
	return template.HTML(strings.ReplaceAll(langSwitches[cur], nextPlaceholder, url.QueryEscape(next)))
}

// localPath returns next when it is a path on this site ("/login/x?y"),
// else "/": the switch must not become an open redirect.
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// serveLang is GET /lang/:code: it keeps the pick in the cookie and sends
// the browser back to next (303, so the page is loaded fresh in the new
// language). An unknown code is a 404 page.
func serveLang(secure bool, now func() time.Time) gin.HandlerFunc {
	return func(c *gin.Context) {
		l, ok := locale.Parse(c.Param("code"))
		if !ok {
			RenderError(c, http.StatusNotFound, "not_found")
			return
		}
		http.SetCookie(c.Writer, &http.Cookie{
			Name:     LangCookie,
			Value:    l.Code() + "." + strconv.FormatInt(now().Unix(), 10),
			Path:     "/",
			MaxAge:   int(langCookieAge / time.Second),
			HttpOnly: true,
			Secure:   secure || c.GetBool(secureCookiesKey),
			SameSite: http.SameSiteLaxMode,
		})
		c.Header("Cache-Control", "no-store")
		c.Redirect(http.StatusSeeOther, localPath(c.Query("next")))
	}
}
