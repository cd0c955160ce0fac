package me

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Defaults of Config.
const (
	DefaultSessionTTL = 15 * time.Minute
	DefaultSignInTTL  = 10 * time.Minute
	DefaultPageSize   = 20
)

// Cookie names over plain http (development); under https each is
// prefixed with "__Host-", which the browser accepts only with Secure,
// Path=/ and no Domain, so no other host can set or shadow it.
const (
	SessionCookie = "kycvs_me"
	SignInCookie  = "kycvs_me_signin"
	// FormCookie names the sign-in form last refused in this browser (a
	// store.MeRefused row): what was typed, and until when a send limit
	// holds, for the page the refusal redirects to. Apart from
	// SignInCookie, so a refused form leaves a code already sent usable.
	FormCookie = "kycvs_me_form"
)

// Config is what the page needs; cmd/kycvs fills it from flags.
type Config struct {
	// CSRFKey keys the forms' CSRF tokens (secrets.Derive(secret,
	// secrets.CSRF), the sign-in pages' key). Required.
	CSRFKey []byte
	// SecureCookies: Secure and __Host- cookies (false only for http://
	// development issuers).
	SecureCookies bool
	// SessionTTL is how long a sign-in lasts, from the right code; never
	// extended. Default DefaultSessionTTL.
	SessionTTL time.Duration
	// SignInTTL bounds the time from "send code" to the right code.
	// Default DefaultSignInTTL.
	SignInTTL time.Duration
	// PageSize is how many disclosures one page lists. Default
	// DefaultPageSize.
	PageSize int
	// Grievance is whom a person writes to with a complaint (an e-mail
	// address, a postal address); "" says "the operator of this service".
	Grievance string
	// Location is the time zone times are shown in. Default UTC.
	Location *time.Location
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the randomness of cookies; default crypto/rand.Reader.
	Rand io.Reader
	// Logger receives the page's events; nil means the engine's (web.Log).
	Logger *slog.Logger
}

// OTPs is what the page needs of the OTP service (otp.Service, shared with
// every other channel that sends codes).
type OTPs interface {
	Issue(ctx context.Context, req otp.Request) error
	Verify(s *otp.State, binding, code string, now time.Time) error
	// TriesLeft is how many codes may still be tried (otp.Service).
	TriesLeft(tries int) (left int, limited bool)
	// LogTag is the keyed tag logs and audit entries carry instead of a
	// mobile number.
	LogTag(mobile string) string
}

var _ OTPs = (*otp.Service)(nil)

// GrantEnder withdraws at once everything the person (beneficiaryID)
// granted the client: its refresh and access tokens stop working, and the
// client is told (oauth.Provider.EndGrant, through back-channel logout).
// It is called inside the transaction that records the withdrawal, with
// that transaction's context; an error rolls both back.
type GrantEnder func(ctx context.Context, clientID, beneficiaryID string) error

// Page serves /me. It is safe for concurrent use.
type Page struct {
	cfg      Config
	st       *store.Store
	otps     OTPs
	endGrant GrantEnder
}

// New returns the page over st and otps; endGrant ends OAuth grants. It
// panics when otps or endGrant is nil, a wiring mistake.
func New(cfg Config, st *store.Store, otps OTPs, endGrant GrantEnder) *Page {
	if otps == nil || endGrant == nil || len(cfg.CSRFKey) == 0 {
		panic("me: no OTP service, GrantEnder or CSRF key")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.SignInTTL <= 0 {
		cfg.SignInTTL = DefaultSignInTTL
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Page{cfg: cfg, st: st, otps: otps, endGrant: endGrant}
}

// Paths of the page.
const (
	Path         = "/me"
	pathSignIn   = "/me/signin"
	pathCode     = "/me/code"
	pathRestart  = "/me/restart"
	pathWithdraw = "/me/withdraw"
	pathDownload = "/me/data.json"
	pathSignOut  = "/me/signout"
)

// Register mounts the page (see the package comment), behind web.CSRF.
func (p *Page) Register(r gin.IRouter) {
	g := r.Group(Path, web.CSRF(web.CSRFConfig{Key: p.cfg.CSRFKey, Cookie: web.CSRFCookie, Secure: p.cfg.SecureCookies}), noStore)
	g.GET("", p.handleShow)
	g.POST("/signin", p.handleSignIn)
	g.GET("/code", p.handleCodePage)
	g.POST("/code", p.handleCode)
	g.POST("/restart", p.handleRestart)
	g.POST("/withdraw", p.handleWithdraw)
	g.GET("/data.json", p.handleDownload)
	g.POST("/signout", p.handleSignOut)
}

// noStore: every answer holds personal data or a form's token.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// Cookies.

// cookieTokenLen is a cookie's length in random bytes.
const cookieTokenLen = 32

func (p *Page) cookieName(base string) string {
	if p.cfg.SecureCookies {
		return "__Host-" + base
	}
	return base
}

func (p *Page) setCookie(c *gin.Context, base, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: p.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: p.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

func (p *Page) clearCookie(c *gin.Context, base string) { p.setCookie(c, base, "", -1) }

// rowID returns the ID of the row the cookie base names: the hex SHA-256
// of its value; false when there is no well-formed cookie.
func (p *Page) rowID(c *gin.Context, base string) (string, bool) {
	v, err := c.Cookie(p.cookieName(base))
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != cookieTokenLen {
		return "", false
	}
	return hashToken(v), true
}

// newToken returns a cookie value and the row ID it maps to.
func (p *Page) newToken() (cookie, id string, err error) {
	b := make([]byte, cookieTokenLen)
	if _, err := io.ReadFull(p.cfg.Rand, b); err != nil {
		return "", "", err
	}
	cookie = base64.RawURLEncoding.EncodeToString(b)
	return cookie, hashToken(cookie), nil
}

func hashToken(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// session returns the signed-in session of c's browser; store.ErrNotFound
// when there is none (no cookie, or it ended).
func (p *Page) session(c *gin.Context) (*store.MeSession, error) {
	id, ok := p.rowID(c, SessionCookie)
	if !ok {
		return nil, store.ErrNotFound
	}
	return p.st.GetMeSession(c.Request.Context(), id, store.MeSignedIn, p.now())
}

func (p *Page) now() time.Time { return p.cfg.Now().UTC() }

// log is the page's logger for c. Never give it a code, a cookie or a
// mobile number (OTPs.LogTag).
func (p *Page) log(c *gin.Context) *slog.Logger {
	if p.cfg.Logger == nil {
		return web.Log(c)
	}
	return p.cfg.Logger.With("request_id", web.RequestID(c))
}

// serverError answers a store failure with the error page.
func (p *Page) serverError(c *gin.Context, err error) {
	web.Fail(c, p.log(c), err)
}

// back answers a form with 303 to /me, with a message code (never text
// from the request) that the page turns into words.
func back(c *gin.Context, m string) {
	target := Path
	if m != "" {
		target += "?m=" + m
	}
	c.Redirect(http.StatusSeeOther, target)
}
