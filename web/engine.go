package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// DefaultMaxBodyBytes is the request body limit when Config.MaxBodyBytes is 0.
// Every form and token request kycvs accepts is a few hundred bytes.
const DefaultMaxBodyBytes int64 = 64 << 10

// Config is what NewEngine needs. cmd/kycvs fills it from flags.
type Config struct {
	// Logger receives access logs and errors; nil means slog.Default().
	Logger *slog.Logger
	// TrustedProxies are the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For is believed. nil trusts none: the client IP is the TCP
	// peer. OTP limits key on the client IP, so trusting a header an
	// attacker can set would let them rotate past the per-IP limit.
	TrustedProxies []string
	// SecureCookies sets the Secure flag on the cookies the engine's
	// middleware sets (CSRF sets it when either this or its own argument
	// says so); false only for http:// development issuers.
	SecureCookies bool
	// HSTS sends Strict-Transport-Security, so browsers that once reached
	// kycvs over https never try plain http again (no SSL stripping on a
	// hostile network). Set it when the issuer is https.
	HSTS bool
	// Metrics, when set, counts and times every request (see Metrics).
	Metrics *Metrics
	// MaxBodyBytes caps request bodies; larger ones get 413. 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// NotFound answers unknown paths and paths no route can serve (see
	// wellFormedPath); nil renders the "Page not found" page.
	NotFound gin.HandlerFunc
	// TooLarge answers a body over MaxBodyBytes for the routes it names
	// (route templates, as registered), so an API answers in its own
	// format; other routes get the "too large" page.
	TooLarge map[string]gin.HandlerFunc
	// Now is the clock that stamps a language pick; default time.Now.
	Now func() time.Time
}

// Context keys under which the middleware leaves values for handlers.
const (
	requestIDKey     = "kycvs.request_id"
	secureCookiesKey = "kycvs.secure_cookies"
	loggerKey        = "kycvs.logger"
	csrfTokenKey     = "kycvs.csrf_token"
	csrfConfigKey    = "kycvs.csrf_config"
	cspNonceKey      = "kycvs.csp_nonce"
)

// HeaderRequestID carries the request ID in both directions.
const HeaderRequestID = "X-Request-ID"

// contentSecurityPolicy allows our own script files, styles and images
// only: no inline script, event handler attribute, javascript: URL or eval
// runs, except a <script nonce="..."> carrying this response's nonce
// (CSPNonce; %s below), so an injection that slipped past html/template
// still runs nothing. No page of ours has inline script today.
//
// form-action is deliberately absent. Browsers apply form-action to every
// redirect that follows a form POST (CSP3 §6.3.1, enforced by Chromium,
// WebKit and Firefox), and our OTP and consent forms end in a redirect to
// the relying party's redirect_uri, which may be any https or http origin
// or a native app's private-use scheme (RFC 8252 §7.1). A list that allows
// all of those protects nothing and would still break native apps, so we
// rely on our forms being ours (html/template escapes all input) instead.
const contentSecurityPolicy = "default-src 'none'; script-src 'self' 'nonce-%s'; style-src 'self'; img-src 'self'; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// hstsValue keeps browsers on https for a year. includeSubDomains is left
// out: kycvs does not own the operator's other hosts.
const hstsValue = "max-age=31536000"

// NewEngine builds the gin engine with kycvs's middleware, error pages and
// static assets; callers add their routes to it. It returns an error only
// for an invalid TrustedProxies entry.
//
// gin's release mode is set unless GIN_MODE was given (gin reads that
// variable itself at start; we only replace its debug default, which
// prints every route to stdout).
func NewEngine(cfg Config) (*gin.Engine, error) {
	if _, told := os.LookupEnv(gin.EnvGinMode); !told {
		gin.SetMode(gin.ReleaseMode)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	e := gin.New()
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("web: trusted proxies: %w", err)
	}
	e.HandleMethodNotAllowed = true
	e.Use(requestID(cfg.Logger, cfg.SecureCookies))
	if cfg.Metrics != nil {
		// Before recovery, so a panic's 500 is counted too.
		e.Use(cfg.Metrics.middleware())
	}
	notFound := cfg.NotFound
	if notFound == nil {
		notFound = func(c *gin.Context) {
			RenderError(c, http.StatusNotFound, "not_found")
		}
	}
	e.Use(
		recovery(),
		accessLog(),
		securityHeaders(cfg.HSTS),
		wellFormedPath(notFound),
		bodyLimit(cfg.MaxBodyBytes, cfg.TooLarge),
	)
	e.NoRoute(notFound)
	e.NoMethod(func(c *gin.Context) {
		RenderError(c, http.StatusMethodNotAllowed, "method")
	})
	e.GET(LangPath+":code", serveLang(cfg.SecureCookies, cfg.Now))
	e.GET("/static/*filepath", serveStatic)
	e.HEAD("/static/*filepath", serveStatic)
	return e, nil
}

// wellFormedPath answers notFound for a path that is not UTF-8 text or
// holds a control character (a NUL, a newline). No route, challenge or ID
// of kycvs can contain one, and PostgreSQL refuses such bytes in a text
// parameter (SQLSTATE 22021): an ID taken from such a path would have
// been a server error instead of "not found".
func wellFormedPath(notFound gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !WellFormedText(c.Request.URL.Path) {
			notFound(c)
			c.Abort()
			return
		}
		c.Next()
	}
}

// WellFormedText reports whether s is valid UTF-8 without control
// characters: what any identifier, name or path segment kycvs accepts
// must be.
func WellFormedText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// RequestID returns the ID of the request c is serving, as sent back in
// X-Request-ID; "" outside the engine's middleware.
func RequestID(c *gin.Context) string {
	return c.GetString(requestIDKey)
}

// Log returns the engine's logger with this request's request_id attached.
// Never log an OTP, a secret, a cookie or a full mobile number with it.
func Log(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		if l, ok := l.(*slog.Logger); ok {
			return l
		}
	}
	return slog.Default()
}

// validRequestID accepts an incoming X-Request-ID only when it is short and
// plain, so a client cannot inject text into logs or headers through it.
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// requestID also leaves the engine-wide settings handlers need in c.
func requestID(logger *slog.Logger, secureCookies bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(secureCookiesKey, secureCookies)
		id := c.GetHeader(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(requestIDKey, id)
		c.Set(loggerKey, logger.With("request_id", id))
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// recovery turns a panic in a handler into a logged error and the 500
// error page, instead of a dropped connection.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // the server's own way of aborting a response
			}
			Log(c).Error("panic", "panic", fmt.Sprint(p), "path", routeOf(c), "stack", string(debug.Stack()))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			RenderError(c, http.StatusInternalServerError, "internal")
			c.Abort()
		}()
		c.Next()
	}
}

// accessLog writes one line per request. The path is logged as its route
// template ("/login/:challenge"), or "unmatched": query strings carry
// authorization codes, states and hints, path parameters carry challenges
// and record IDs, and an unmatched path is whatever a caller typed. The
// client's address is logged as its network only (ClientNet), so the log
// holds no address of a person; the per-IP limits count full addresses in
// the database, where they expire with the counters.
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		Log(c).LogAttrs(c.Request.Context(), level, "request",
			slog.String("method", c.Request.Method),
			slog.String("path", routeOf(c)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("client_net", ClientNet(c.ClientIP())),
		)
	}
}

// securityHeaders refuses framing (frame-ancestors, X-Frame-Options: the
// sign-in pages must never run inside another site's page, where clicks
// could be hijacked) and sets no Cross-Origin-Opener-Policy on purpose: the
// button script opens kycvs in a popup and learns that it was closed through
// the opener link, which COOP same-origin would sever.
//
// Referrer-Policy no-referrer keeps the sign-in URL (its challenge) and
// anything in query strings out of other sites' logs.
func securityHeaders(hsts bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		nonce := newCSPNonce()
		c.Set(cspNonceKey, nonce)
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, nonce))
		if hsts {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		c.Next()
	}
}

// CSPNonce returns this response's Content-Security-Policy nonce: the only
// inline <script> a page may carry is one with nonce="CSPNonce(c)". It is
// fresh for every response, so an attacker cannot learn it in advance.
func CSPNonce(c *gin.Context) string { return c.GetString(cspNonceKey) }

func newCSPNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawStdEncoding.EncodeToString(b[:])
}

// bodyLimit refuses bodies above max: at once when Content-Length says so
// (with the route's answer from answers, if any), otherwise when reading passes it (ParseForm fails with
// *http.MaxBytesError, which CSRF and FormTooLarge turn into 413).
func bodyLimit(max int64, answers map[string]gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			if h, ok := answers[c.FullPath()]; ok {
				h(c)
			} else {
				RenderError(c, http.StatusRequestEntityTooLarge, "too_large")
			}
			c.Abort()
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// routeOf is the route template c matched, or "unmatched".
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// ClientNet is what logs say instead of a client's IP address: its /24
// network for IPv4, its /48 for IPv6 ("203.0.113.0/24"), enough to see
// where traffic comes from and to block a network, too coarse to point at
// a person. "" when ip is not an address.
func ClientNet(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := 48
	if a.Unmap().Is4() {
		a, bits = a.Unmap(), 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// ParseForm parses the request's URL-encoded form. On failure it renders
// the error page (413 for a body over the limit, 400 otherwise) and
// returns false; the handler should then return.
func ParseForm(c *gin.Context) bool {
	err := c.Request.ParseForm()
	if err == nil {
		return true
	}
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		RenderError(c, http.StatusRequestEntityTooLarge, "too_large")
	} else {
		RenderError(c, http.StatusBadRequest, "unreadable_form")
	}
	c.Abort()
	return false
}
