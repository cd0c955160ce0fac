package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// CSRFField is the hidden form field that carries the CSRF token.
const CSRFField = "csrf_token"

// CSRFHeader carries the token for requests that are not forms.
const CSRFHeader = "X-CSRF-Token"

// The CSRF cookies' names over http (development). Over https they carry
// the __Host- prefix (CSRFCookieName): a browser then takes them only from
// this origin, over https, for Path=/ and without Domain, so a sibling
// host or a plain-http answer on a hostile network cannot plant one.
const (
	// CSRFCookie is the public pages' (sign-in, consent).
	CSRFCookie = "kycvs_csrf"
	// ConsoleCSRFCookie is the admin console's, apart from the public
	// pages' so a token of one never passes on the other.
	ConsoleCSRFCookie = "kycvs_admin_csrf"
)

// hostPrefix is the cookie prefix browsers hold to its rules (RFC 6265bis
// 4.1.3.2).
const hostPrefix = "__Host-"

// CSRFCookieName is the name a CSRF cookie has: name itself over http,
// __Host-name when secure.
func CSRFCookieName(name string, secure bool) string {
	if secure {
		return hostPrefix + name
	}
	return name
}

// csrfTokenLen is the cookie's random value's length in bytes before
// base64url.
const csrfTokenLen = 32

// CSRFConfig configures one CSRF scope: its cookie, its key and the
// session its tokens are bound to.
type CSRFConfig struct {
	// Key keys the tokens: secrets.Derive(secret, secrets.CSRF). Required.
	Key []byte
	// Cookie is the cookie's name over http (CSRFCookie or
	// ConsoleCSRFCookie); it also separates the scopes' tokens.
	Cookie string
	// Session, when set, names the session cookie the tokens are bound
	// to: a token minted without that session, or with another, fails.
	// Set it only where no page changes that cookie while rendering a
	// form (the console changes its session only in POSTs that redirect).
	Session string
	// Secure sets the Secure flag and the __Host- prefix (false only for
	// http:// issuers); the engine's Config.SecureCookies sets both too.
	Secure bool
}

// CSRF protects forms with a signed double-submit token bound to the
// session: a random value lives in an HttpOnly cookie (set on the first
// request that lacks one), and every page carries, in a hidden field, the
// HMAC under cfg.Key of the scope, that value and the session cookie's
// value. POST, PUT, PATCH and DELETE must send that HMAC in the field
// csrf_token (or the header X-CSRF-Token); otherwise the 403 error page is
// shown. A cross-site page can make the browser send our cookies but
// cannot read them; a cookie and field chosen by an attacker fail without
// the key; a pair the attacker got from kycvs for their own browser fails
// once the victim's session differs, and cannot be planted over https
// (__Host-). SameSite=Lax is a further line: the cookie is not sent with
// cross-site POSTs at all.
//
// Handlers behind CSRF read the token for their pages with CSRFToken. The
// form is parsed here, so a body over the limit gets 413 before the check.
func CSRF(cfg CSRFConfig) gin.HandlerFunc {
	if len(cfg.Key) == 0 || cfg.Cookie == "" {
		panic("web: CSRFConfig needs Key and Cookie")
	}
	return func(c *gin.Context) {
		secure := cfg.Secure || c.GetBool(secureCookiesKey)
		name := CSRFCookieName(cfg.Cookie, secure)
		value, ok := csrfCookie(c, name)
		if !ok {
			value = newCSRFValue()
			setCSRFCookie(c, name, value, secure)
		}
		session := ""
		if cfg.Session != "" {
			session, _ = c.Cookie(cfg.Session)
		}
		token := csrfMAC(cfg, value, session)
		c.Set(csrfTokenKey, token)
		c.Set(csrfConfigKey, cfg)

		switch c.Request.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			c.Next()
			return
		}
		if !ParseForm(c) {
			return
		}
		sent := c.Request.PostForm.Get(CSRFField)
		if sent == "" {
			sent = c.GetHeader(CSRFHeader)
		}
		// A fresh value (no cookie came in) can match nothing the browser sent.
		if !ok || sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			Log(c).Info("csrf check failed", "path", routeOf(c), "cookie_present", ok, "field_present", sent != "")
			RenderError(c, http.StatusForbidden, "form_expired")
			c.Abort()
			return
		}
		c.Next()
	}
}

// RotateCSRF gives this browser a new CSRF cookie, after a handler behind
// CSRF changed who is signed in (the console's sign-in): tokens of pages
// shown before stop working. session is the new session cookie's value,
// which the next pages' tokens are bound to.
func RotateCSRF(c *gin.Context, session string) {
	v, ok := c.Get(csrfConfigKey)
	cfg, _ := v.(CSRFConfig)
	if !ok {
		return
	}
	secure := cfg.Secure || c.GetBool(secureCookiesKey)
	value := newCSRFValue()
	setCSRFCookie(c, CSRFCookieName(cfg.Cookie, secure), value, secure)
	c.Set(csrfTokenKey, csrfMAC(cfg, value, session))
}

// CSRFToken returns the token to put in a form's csrf_token field; "" when
// the route is not behind CSRF.
func CSRFToken(c *gin.Context) string {
	return c.GetString(csrfTokenKey)
}

// csrfMAC is a form's token: the HMAC of the scope, the cookie's value and
// the session, each length-prefixed so no two inputs collide.
func csrfMAC(cfg CSRFConfig, value, session string) string {
	m := hmac.New(sha256.New, cfg.Key)
	for _, s := range []string{cfg.Cookie, value, session} {
		m.Write([]byte{byte(len(s) >> 8), byte(len(s))})
		m.Write([]byte(s))
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfCookie returns the cookie's value when it is well formed.
func csrfCookie(c *gin.Context, name string) (string, bool) {
	v, err := c.Cookie(name)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != csrfTokenLen {
		return "", false
	}
	return v, true
}

func newCSRFValue() string {
	b := make([]byte, csrfTokenLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func setCSRFCookie(c *gin.Context, name, value string, secure bool) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/", // __Host- requires it
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}
