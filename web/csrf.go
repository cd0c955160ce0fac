package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// CSRFField is the hidden form field that carries the CSRF token.
const CSRFField = "csrf_token"

// CSRFHeader carries the token for requests that are not forms.
const CSRFHeader = "X-CSRF-Token"

// CSRFCookie holds this browser's CSRF token.
const CSRFCookie = "kycvs_csrf"

// csrfTokenLen is the token's length in bytes before base64url.
const csrfTokenLen = 32

// CSRF protects forms with the double-submit pattern: a random token lives
// in the HttpOnly cookie kycvs_csrf (set on the first request that lacks
// one) and every page repeats it in a hidden field. POST, PUT, PATCH and
// DELETE must send the field csrf_token (or the header X-CSRF-Token) equal
// to the cookie; otherwise the 403 error page is shown. A cross-site page
// can make the browser send our cookie but cannot read it to fill the
// field. SameSite=Lax is a second line: the cookie is not sent with
// cross-site POSTs at all.
//
// secure sets the cookie's Secure flag (false only for http:// issuers),
// as does Config.SecureCookies of the engine.
// Handlers behind CSRF read the token for their pages with CSRFToken. The
// form is parsed here, so a body over the limit gets 413 before the check.
func CSRF(secure bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := csrfCookie(c)
		if !ok {
			token = newCSRFToken()
			setCSRFCookie(c, token, secure || c.GetBool(secureCookiesKey))
		}
		c.Set(csrfTokenKey, token)

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
		// A fresh token (no cookie came in) can match nothing the browser sent.
		if !ok || sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			Log(c).Info("csrf check failed", "path", routeOf(c), "cookie_present", ok, "field_present", sent != "")
			RenderError(c, http.StatusForbidden, "form_expired")
			c.Abort()
			return
		}
		c.Next()
	}
}

// CSRFToken returns the token to put in a form's csrf_token field; "" when
// the route is not behind CSRF.
func CSRFToken(c *gin.Context) string {
	return c.GetString(csrfTokenKey)
}

// csrfCookie returns the cookie's token when it is well formed.
func csrfCookie(c *gin.Context) (string, bool) {
	v, err := c.Cookie(CSRFCookie)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != csrfTokenLen {
		return "", false
	}
	return v, true
}

func newCSRFToken() string {
	b := make([]byte, csrfTokenLen)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func setCSRFCookie(c *gin.Context, token string, secure bool) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     CSRFCookie,
		Value:    token,
		Path:     "/",
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	})
}
