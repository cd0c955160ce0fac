package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// staticVersion is a short hash of every static file, appended to their
// URLs so a new release is never served a stale style sheet from a cache.
var staticVersion = func() string {
	h := sha256.New()
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// StaticURL is the address of the embedded static file name (e.g.
// "style.css") with the version that busts caches, for pages rendered
// outside this package (the admin console).
func StaticURL(name string) string { return "/static/" + name + "?v=" + staticVersion }

// pages holds, for every language, one template per page, each a clone
// of the layout with the page's "title" and "content" blocks and the
// language's template functions (see pageFuncs); parsed once at start.
var pages = func() map[locale.Lang]map[string]*template.Template {
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := make(map[locale.Lang]map[string]*template.Template)
	for _, l := range locale.All() {
		layout := template.Must(template.New("layout").Funcs(pageFuncs(l)).ParseFS(templateFiles, "templates/layout.html"))
		set := make(map[string]*template.Template)
		for _, n := range names {
			name := strings.TrimSuffix(path.Base(n), ".html")
			if name == "layout" {
				continue
			}
			set[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, n))
		}
		out[l] = set
	}
	return out
}()

// layoutData is what the layout is executed with: the page's own struct,
// which the page's blocks receive as their dot, and what every page shows
// around it (language, direction, the language switch).
type layoutData struct {
	Page any
	Lang locale.Lang
	// LangSwitch is the language switch, rendered by langSwitch.
	LangSwitch template.HTML
	// Error: the page shows a form error, so its title starts with
	// "Error:" (WCAG 3.3.1: a screen reader hears it first).
	Error bool
}

// formError is a page that may show a form error.
type formError interface{ hasError() bool }

func (p LoginPage) hasError() bool   { return p.Error.ID != "" }
func (p OTPPage) hasError() bool     { return p.Error.ID != "" }
func (p NoMatchPage) hasError() bool { return p.Error.ID != "" }
func (p ConsentPage) hasError() bool { return p.Error.ID != "" }

// Render writes the page called name ("login", "otp", "consent",
// "nomatch", "error") with data, which must be the page's struct
// (LoginPage for "login", and so on), and status, in the language of the
// request (Language). The page is executed into a buffer first, so a
// template error becomes a plain 500 page rather than half a page; headers
// are set before the status is written.
func Render(c *gin.Context, status int, name string, data any) {
	lang := Language(c)
	t, ok := pages[lang][name]
	if !ok {
		Log(c).Error("render: no such page", "page", name)
		writeFallback(c)
		return
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	fe, ok := data.(formError)
	err := t.ExecuteTemplate(buf, "layout", layoutData{Page: data, Lang: lang, LangSwitch: langSwitch(lang, switchReturn(c)), Error: ok && fe.hasError()})
	if err != nil {
		Log(c).Error("render: template failed", "page", name, "err", err)
		writeFallback(c)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", lang.Code())
	// Pages carry CSRF tokens and personal data: never cached, and the
	// browser asks again on Back, which also refreshes an expired token.
	h.Set("Cache-Control", "no-store")
	// The same URL answers in another language after a pick or with
	// another Accept-Language.
	h.Add("Vary", "Accept-Language, Cookie")
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// pageBuffers hold pages while they are made: a page is written whole,
// so that a template error can still answer with the fallback, and a
// buffer kept for the next page spares growing one for each (about 8 kB
// of a page's 28 kB allocated).
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage is the largest buffer kept: an unusually large page's
// buffer goes to the garbage collector rather than stay in the pool.
const maxPooledPage = 64 << 10

func putPageBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledPage {
		return
	}
	buf.Reset()
	pageBuffers.Put(buf)
}

// RenderError writes the error page for key, which names a title and a
// message in the catalogues ("expired" for error.expired.title and
// error.expired.message), with the request ID to quote to support. It
// does not abort the handler chain; middleware that calls it also calls
// c.Abort.
func RenderError(c *gin.Context, status int, key string) {
	Render(c, status, "error", ErrorPage{Key: key, RequestID: RequestID(c)})
}

// writeFallback answers 500 without templates, for when rendering failed.
func writeFallback(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	c.Status(http.StatusInternalServerError)
	fmt.Fprintf(c.Writer, "<!doctype html><html lang=\"en\"><title>Something went wrong</title><h1>Something went wrong</h1><p>Please try again in a moment. Reference: %s</p></html>",
		template.HTMLEscapeString(RequestID(c)))
}

// serveStatic serves the embedded files under /static/, and nothing else:
// no directory listings.
func serveStatic(c *gin.Context) {
	name := path.Clean("static/" + strings.TrimPrefix(c.Param("filepath"), "/"))
	var b []byte
	err := fs.ErrNotExist
	if strings.HasPrefix(name, "static/") {
		b, err = staticFiles.ReadFile(name)
	}
	if err != nil {
		RenderError(c, http.StatusNotFound, "not_found")
		return
	}
	// Page URLs carry ?v=<hash of the files>, so a day of caching never
	// serves an old file to a new page.
	c.Header("Cache-Control", "public, max-age=86400")
	// Static files are public. Relying parties load the button script from
	// their own pages with crossorigin="anonymous", which the browser needs
	// to check its Subresource Integrity hash; no credentials are involved.
	c.Header("Access-Control-Allow-Origin", "*")
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(b))
}

// ErrorPage is the data of the "error" page.
type ErrorPage struct {
	// Key names the page's title and message in the catalogues:
	// error.<Key>.title and error.<Key>.message.
	Key       string
	RequestID string
	// BackAction, when set, is the form of "Back to ClientName": it ends
	// the sign-in and returns the person to the relying party with the
	// outcome. Only a page whose sign-in has a validated redirect URI
	// sets it; others offer nothing that redirects.
	BackAction string
	ClientName string
	CSRFToken  string
}

// Msg is a message for people, by catalogue ID (see package locale) with
// its arguments as name and value pairs; the zero Msg is no message.
// Pages carry Msgs rather than text, so they are written in the page's
// language.
type Msg struct {
	ID   string
	Args []any
}

// M returns the message id with args ("Count", 2).
func M(id string, args ...any) Msg { return Msg{ID: id, Args: args} }

// Catalogue IDs of the wrong-code message, for pages that mark the code
// field when it is shown.
const (
	MsgWrongOTP     = "alert.wrong_otp"
	MsgWrongOTPLeft = "alert.wrong_otp_left"
)

// WrongOTP is the message for a wrong code: with the tries left when the
// OTP policy limits them (otp.Service.TriesLeft's answer), without
// otherwise. The sign-in's code page and the person's own page say it
// alike.
func WrongOTP(left int, limited bool) Msg {
	if !limited {
		return M(MsgWrongOTP)
	}
	return M(MsgWrongOTPLeft, "Count", left)
}

// LoginPage is the data of the "login" page: mobile number and name.
type LoginPage struct {
	// ClientName is the display name of the service asking.
	ClientName string
	// Action receives the mobile and name; CancelAction the cancel button.
	Action       string
	CancelAction string
	CSRFToken    string
	// Mobile and Name pre-fill the fields (after an error, or from a hint).
	Mobile string
	Name   string
	// Error, when set, explains what to correct; ErrorField names the
	// field in error ("mobile" or "name"), which gets the focus.
	Error      Msg
	ErrorField string
}

// OTPPage is the data of the "otp" page. Its consent statement is the
// consent: entering the code agrees to share Claims with ClientName.
type OTPPage struct {
	ClientName string
	// Claims name what will be shared (claim names, "vaccination_status");
	// the page describes each in its language, and no claims as "that you
	// signed in with this mobile number".
	Claims []string
	// Offline says the service asked to keep reading the claims until
	// access is revoked (offline_access).
	Offline bool
	// MaskedMobile is where the code went, e.g. +91******3210.
	MaskedMobile string
	// Name is the name given, whose record is being checked: on a shared
	// phone it tells whose status is about to be shared.
	Name         string
	Action       string
	ResendAction string
	// ChangeAction is "Change mobile or name": back to the first form.
	ChangeAction string
	CancelAction string
	CSRFToken    string
	// Nonce is the response's CSP nonce (CSPNonce), for the page's one
	// script: the resend countdown and the WebOTP autofill.
	Nonce string
	// ResendWait, when positive, is how long until a new code may be asked
	// for. The button says so and still submits (the server answers with
	// the exact wait); the script counts down and disables it meanwhile.
	ResendWait time.Duration
	// Notice is a neutral status line, e.g. "We sent a new code."
	Notice Msg
	// Error is shown above the form; CodeInvalid says it is about the
	// code typed (the field gets aria-invalid).
	Error       Msg
	CodeInvalid bool
}

// ConsentPage is the data of the "consent" page, the one-tap screen for a
// person already signed in: "Share as Name (mobile)" or "Don't share",
// posted as decision=share|deny to Action, and "Not you?", posted to
// SwitchAction.
type ConsentPage struct {
	ClientName   string
	Claims       []string
	Offline      bool
	Name         string
	MaskedMobile string
	Action       string
	SwitchAction string
	CSRFToken    string
	Error        Msg
}

// NoMatchPage is the data of the "nomatch" page: the OTP was right but no
// vaccination record matches the name; the person may correct it.
type NoMatchPage struct {
	ClientName   string
	MaskedMobile string
	Name         string
	Action       string
	CancelAction string
	CSRFToken    string
	// Unavailable: the registry could not be read (an outage, as FailureOf
	// classifies it), so nothing is known yet: the page says so in Fail's
	// words (error.unavailable) and the same form tries again.
	Unavailable bool
	Error       Msg
}

// FormPostPage is the data of the "form_post" page (OAuth 2.0 Form Post
// Response Mode): Fields are POSTed to Action, the client's redirect URI.
// Nonce is the response's CSP nonce (CSPNonce), for the one inline script
// that submits the form; without JavaScript the page shows a button.
type FormPostPage struct {
	Action string
	Fields []FormField
	Nonce  string
}

// FormField is one hidden input of a FormPostPage.
type FormField struct {
	Name, Value string
}

// HomePage is the data of the "home" page, the root: what kycvs is, for
// whom, and the privacy notice with the lifetimes in force.
type HomePage struct {
	// Retention is how long disclosures are kept; 0 keeps them.
	Retention       time.Duration
	LoginTTL        time.Duration
	SessionTTL      time.Duration
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// MePath is the person's own page; GuidePath the integration guide.
	MePath    string
	GuidePath string
}

// GuidePage is the data of the "guide" page: a guide's Markdown, shown as
// preformatted text.
type GuidePage struct {
	Text string
}
