package oauth

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// allowTokenOrigin applies the token endpoint's cross-origin rule, so a
// public client's page (the button script) can redeem its code with fetch.
//
// A request without an Origin header comes from a server or a same-origin
// page and passes untouched. A browser request from another origin passes
// only when that origin is the origin of one of the client's registered
// redirect URIs: it then gets Access-Control-Allow-Origin naming exactly
// that origin (never "*", and never Access-Control-Allow-Credentials: the
// endpoint reads no cookies). Any other origin is refused before the code
// is looked at, so a page that could not read the answer cannot spend the
// code either. It returns false when it has written that refusal.
//
// The answer exposes DPoP-Nonce, so a browser app using DPoP (RFC 9449)
// can read the nonce kycvs asks for and the next one it sends.
//
// A preflight (handleTokenPreflight) is answered only for the DPoP and
// Content-Type headers: a browser page that wants to send HTTP Basic
// client credentials is a confidential client leaking its secret, which a
// failing preflight stops.
func (p *Provider) allowTokenOrigin(c *gin.Context) bool {
	c.Writer.Header().Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" || origin == originOf(p.cfg.Issuer) {
		return true
	}
	client, err := getClient(c.Request.Context(), p.st, tokenRequestClientID(c.Request))
	if errors.Is(err, store.ErrUnavailable) {
		return true // the handler answers the outage, and nothing is issued
	}
	if err == nil && !client.Disabled && originAllowed(client.RedirectURIs, origin) {
		c.Header("Access-Control-Allow-Origin", origin)
		c.Header("Access-Control-Expose-Headers", "DPoP-Nonce")
		return true
	}
	writeJSONError(c, http.StatusForbidden, "invalid_request", "This client does not accept token requests from this web origin. Register a redirect URI on it.")
	return false
}

// tokenRequestClientID is the client a token request names, in HTTP Basic
// (RFC 6749 2.3.1: form-encoded) or in the form body; "" when none.
func tokenRequestClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return u
		}
		return id
	}
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get("client_id")
}

// originAllowed reports whether origin (as a browser serializes it in the
// Origin header) is the origin of one of redirectURIs.
func originAllowed(redirectURIs []string, origin string) bool {
	return origin != "" && slices.ContainsFunc(redirectURIs, func(u string) bool { return originOf(u) == origin })
}

// originOf returns the web origin of an http(s) URL, serialized the way
// browsers send it (RFC 6454 6.2): lower-case scheme and host, the port
// only when it is not the scheme's default. Anything else has no origin
// and returns "".
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host
}

// userinfoOrigin applies userinfo's cross-origin rule, so a public client's
// single-page app (oidc-client-ts with loadUserInfo) can read userinfo with
// fetch. A request without Origin, or from kycvs's own origin, passes
// untouched and cross is false. A browser request from another origin
// passes only when that origin is the origin of a redirect URI of an
// enabled public client: it gets Access-Control-Allow-Origin naming exactly
// that origin (never "*", never credentials: userinfo reads no cookies) and
// cross is true; handleUserinfo then also checks that the origin belongs to
// the token's own client. Any other origin is refused here, before the
// token is looked at. ok is false when the refusal has been written.
func (p *Provider) userinfoOrigin(c *gin.Context) (cross, ok bool) {
	c.Writer.Header().Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" || origin == originOf(p.cfg.Issuer) {
		return false, true
	}
	uris, err := p.st.PublicRedirectURIs(c.Request.Context())
	if err != nil {
		p.writeUserinfoOutage(c, err)
		return true, false
	}
	if !originAllowed(uris, origin) {
		writeJSONError(c, http.StatusForbidden, "invalid_request", "No public client is registered with a redirect URI on this web origin.")
		return true, false
	}
	c.Header("Access-Control-Allow-Origin", origin)
	// The scheme and error of a refusal, for the app to act on (RFC 6750 3),
	// and a DPoP nonce asked for (RFC 9449 9).
	c.Header("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
	return true, true
}

// handleUserinfoPreflight answers CORS preflight for userinfo (the
// Authorization header is not CORS-safelisted, so every cross-origin
// userinfo call from a browser starts with one). A preflight carries no
// token, so the origin is checked against every public client; the actual
// request is then held to the token's client. Browsers may cache the
// answer for ten minutes.
func (p *Provider) handleUserinfoPreflight(c *gin.Context) {
	c.Header("Allow", "GET, POST, OPTIONS")
	if c.GetHeader("Origin") == "" {
		c.Status(http.StatusNoContent)
		return
	}
	method := c.GetHeader("Access-Control-Request-Method")
	if method != http.MethodGet && method != http.MethodPost {
		c.Writer.Header().Add("Vary", "Origin")
		writeJSONError(c, http.StatusForbidden, "invalid_request", "Userinfo answers GET and POST only.")
		return
	}
	if _, ok := p.userinfoOrigin(c); !ok {
		return
	}
	c.Header("Access-Control-Allow-Methods", "GET, POST")
	c.Header("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}

// tokenPreflightHeaders are the request headers a browser may send to the
// token endpoint beyond the CORS-safelisted ones: the form's Content-Type
// and a DPoP proof (RFC 9449), never Authorization.
var tokenPreflightHeaders = []string{"content-type", "dpop"}

// handleTokenPreflight answers CORS preflight for the token endpoint, which
// a browser sends before a request with a DPoP header (oidc-client-ts and
// other single-page apps with DPoP, redeeming a code or refreshing). A
// preflight names no client, so its origin is checked against the redirect
// URIs of every enabled public client, as userinfo's is; the actual
// request is then held to its own client's (allowTokenOrigin). A preflight
// asking for any header but Content-Type and DPoP (Authorization: client
// credentials in a page) gets no CORS headers, so the browser sends
// nothing. Browsers may cache the answer for ten minutes.
func (p *Provider) handleTokenPreflight(c *gin.Context) {
	c.Header("Allow", "POST, OPTIONS")
	c.Writer.Header().Add("Vary", "Origin")
	origin := c.GetHeader("Origin")
	if origin == "" {
		c.Status(http.StatusNoContent)
		return
	}
	if c.GetHeader("Access-Control-Request-Method") != http.MethodPost {
		writeJSONError(c, http.StatusForbidden, "invalid_request", "The token endpoint answers POST only.")
		return
	}
	for _, h := range strings.Split(c.GetHeader("Access-Control-Request-Headers"), ",") {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" && !slices.Contains(tokenPreflightHeaders, h) {
			writeJSONError(c, http.StatusForbidden, "invalid_request", "A browser may send the token endpoint Content-Type and DPoP headers only; a client with credentials belongs on a server.")
			return
		}
	}
	uris, err := p.st.PublicRedirectURIs(c.Request.Context())
	if err != nil {
		f := web.FailureOf(err)
		f.Answer(c, web.Log(c), err)
		code := "server_error"
		if f.Outage {
			code = "temporarily_unavailable"
		}
		writeJSONError(c, f.Status, code, f.Message)
		return
	}
	if !originAllowed(uris, origin) {
		writeJSONError(c, http.StatusForbidden, "invalid_request", "No public client is registered with a redirect URI on this web origin.")
		return
	}
	c.Header("Access-Control-Allow-Origin", origin)
	c.Header("Access-Control-Allow-Methods", "POST")
	c.Header("Access-Control-Allow-Headers", "Content-Type, DPoP")
	c.Header("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
}
