package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Cookies of the console, both HttpOnly, SameSite=Strict, Path=/admin: the
// session of a signed-in admin, and the sign-in waiting for its OTP. They
// are the console's own, apart from the sign-in flow's kycvs_session.
const (
	SessionCookie = "kycvs_admin"
	LoginCookie   = "kycvs_admin_login"
)

// Defaults of ConsoleConfig.
const (
	DefaultIdleTimeout = 15 * time.Minute
	DefaultSessionTTL  = 12 * time.Hour
	DefaultLoginTTL    = 10 * time.Minute
)

// ConsoleConfig is the console's configuration.
type ConsoleConfig struct {
	// Secret is the server secret. Required.
	Secret []byte
	// SecureCookies sets the Secure flag (false only for http:// issuers).
	SecureCookies bool
	// IdleTimeout ends a session nobody used for that long.
	IdleTimeout time.Duration
	// SessionTTL ends every session that long after sign-in.
	SessionTTL time.Duration
	// LoginTTL bounds the time to enter the OTP.
	LoginTTL time.Duration
	// Location is the time zone of "today" and of the times shown.
	Location *time.Location
	Now      func() time.Time
	Logger   *slog.Logger
	// Lockouts counts locked-out sign-ins for alerting (web.Metrics);
	// nil counts nothing.
	Lockouts Lockouts
}

// Lockouts is told of every console sign-in locked out, by reason:
// "codes" (wrong SMS codes), "totp" (wrong authenticator codes), "limit"
// (the mobile's console code limit).
type Lockouts interface{ ConsoleLockout(reason string) }

var _ Lockouts = (*web.Metrics)(nil)

// OTPs is what the console needs of the OTP service (otp.Service, the one
// the sign-in flow uses too: the same policy, limits and counters).
type OTPs interface {
	Issue(ctx context.Context, req otp.Request) error
	Verify(s *otp.State, binding, code string, now time.Time) error
	MaxTries() int
	// LogTag is the keyed tag logs carry instead of a mobile number.
	LogTag(mobile string) string
}

var _ OTPs = (*otp.Service)(nil)

// Console is the admin console: server-rendered pages under /admin, for
// admin users who sign in with an OTP. Every page works without
// JavaScript; the one script copies a new secret to the clipboard.
type Console struct {
	cfg  ConsoleConfig
	svc  *Service
	otps OTPs
	// reveals seals the secrets waiting to be shown once (console_reveal.go).
	reveals *sealedBox
}

// NewConsole returns the console. It panics without cfg.Secret, a wiring
// mistake.
func NewConsole(cfg ConsoleConfig, svc *Service, otps OTPs) *Console {
	if len(cfg.Secret) == 0 {
		panic("admin: ConsoleConfig.Secret is empty")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.LoginTTL <= 0 {
		cfg.LoginTTL = DefaultLoginTTL
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Console{cfg: cfg, svc: svc, otps: otps, reveals: newSealedBox(secrets.Derive(cfg.Secret, secrets.AdminReveal))}
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// consolePages holds one template per page, each the layout with the
// page's blocks.
var consolePages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"webstatic": web.StaticURL,
		"static":    func(name string) string { return "/admin/static/" + name + "?v=" + staticVersion },
		"pct":       func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
		"status":    statusText,
		"deref":     func(b *bool) bool { return b != nil && *b },
		"join":      strings.Join,
		"add":       func(a, b int64) int64 { return a + b },
		"f":         func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
		"minutes":   func(d time.Duration) string { return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + " minutes" },
		"changes":   changesText,
		"period": func(label string, p Period, pg page) periodView {
			return periodView{ID: strings.ToLower(strings.ReplaceAll(label, " ", "-")), Label: label, P: p, Page: pg}
		},
	}
	layout := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFiles, n))
	}
	return out
}()

// staticVersion busts caches of the console's static files.
var staticVersion = func() string {
	h := sha256.New()
	_ = fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := staticFiles.ReadFile(p)
		h.Write([]byte(p))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// periodView is one period of the dashboard with the page around it.
type periodView struct {
	ID, Label string
	P         Period
	Page      page
}

// changesText shows an audit entry's changes as compact JSON.
func changesText(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}

func statusText(s any) string {
	switch v := s.(type) {
	case *int:
		if v == nil {
			return "not disclosed"
		}
		return claims.Status(*v).String()
	case int:
		return claims.Status(v).String()
	case string:
		switch v {
		case "0", "1", "2":
			return claims.Status(int(v[0] - '0')).String()
		}
		return "not disclosed"
	}
	return ""
}

// page is what every console page gets.
type page struct {
	Title     string
	Nav       string // the section, for the navigation's aria-current
	User      *Actor
	CSRFToken string
	Notice    string
	Error     string
	Problems  []string
	Data      any
	Can       func(string) bool
	loc       *time.Location
}

// When shows an instant (a time.Time, *time.Time or RFC 3339 string) in
// the console's time zone; "" for none.
func (p page) When(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	case string:
		var err error
		if t, err = time.Parse(time.RFC3339, x); err != nil {
			return x
		}
	}
	if t.IsZero() {
		return ""
	}
	return t.In(p.loc).Format("2006-01-02 15:04:05 MST")
}

func (cn *Console) render(c *gin.Context, status int, name string, p page) {
	t, ok := consolePages[name]
	if !ok {
		web.RenderError(c, http.StatusInternalServerError, "internal")
		return
	}
	p.CSRFToken = web.CSRFToken(c)
	p.loc = cn.cfg.Location
	if a, ok := c.Get(actorKey); ok {
		actor := a.(Actor)
		p.User = &actor
	}
	p.Can = func(perm string) bool { return p.User != nil && p.User.Role.Can(Permission(perm)) }
	if p.Notice == "" {
		p.Notice = notices[c.Query("done")]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		cn.log(c).Error("admin console: render failed", "page", name, "err", err)
		web.RenderError(c, http.StatusInternalServerError, "internal")
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// notices are the messages a redirect after a change asks for (?done=...).
var notices = map[string]string{
	"updated": "Saved.", "disabled": "The client is disabled: it gets no tokens, and its tokens stop working.",
	"enabled": "The client is enabled again.", "deleted": "Deleted.", "rotated": "The new key is published; it signs from the time shown.",
	"retired": "The key is retired.", "signedout": "You are signed out.", "created": "Created.",
	"registered":            "The client is registered.",
	"api_key_revoked":       "The API key is revoked: it authenticates no more calls.",
	"initial_token_revoked": "The initial access token is revoked: it registers no more clients.",
	"sessions_ended":        "The person is signed out everywhere; the clients they signed in to are told.",
}

func (cn *Console) log(c *gin.Context) *slog.Logger {
	if cn.cfg.Logger == nil {
		return web.Log(c)
	}
	return cn.cfg.Logger.With("request_id", web.RequestID(c))
}

func (cn *Console) now() time.Time { return cn.cfg.Now().UTC() }

const actorKey = "kycvs.admin.actor"

// Register mounts the console under /admin, behind web.CSRF.
func (cn *Console) Register(r gin.IRouter) {
	r.GET("/admin/static/*filepath", serveConsoleStatic)
	// The console's own CSRF cookie and tokens, bound to the admin's
	// session and renewed at sign-in (handleOTP): a public page's token,
	// or one from before the sign-in, does not pass here.
	csrf := web.CSRF(web.CSRFConfig{Key: secrets.Derive(cn.cfg.Secret, secrets.CSRF), Cookie: web.ConsoleCSRFCookie, Session: SessionCookie, Secure: cn.cfg.SecureCookies})
	g := r.Group("/admin", csrf, noFraming)
	g.GET("/login", cn.handleLoginPage)
	g.POST("/login", cn.handleLogin)
	g.GET("/login/otp", cn.handleOTPPage)
	g.POST("/login/otp", cn.handleOTP)
	g.GET("/login/totp", cn.handleTOTPPage)
	g.POST("/login/totp", cn.handleTOTP)
	g.POST("/logout", cn.handleLogout)

	for _, rt := range cn.routes() {
		g.Handle(rt.Method, strings.TrimPrefix(rt.Path, "/admin"), cn.requireSession(rt.Permission), rt.handler)
	}
}

// consoleRoute is one signed-in page or form and the permission it needs.
type consoleRoute struct {
	Method, Path string
	Permission   Permission
	handler      gin.HandlerFunc
}

// ConsoleRoutes lists the signed-in routes and their permissions, for
// tests that check every one is enforced.
func (cn *Console) ConsoleRoutes() [][3]string {
	var out [][3]string
	for _, r := range cn.routes() {
		out = append(out, [3]string{r.Method, r.Path, string(r.Permission)})
	}
	return out
}

func (cn *Console) routes() []consoleRoute {
	return []consoleRoute{
		{http.MethodGet, "/admin", PermRead, cn.handleDashboard},
		{http.MethodGet, "/admin/clients", PermRead, cn.handleClients},
		{http.MethodGet, "/admin/clients/new", PermClients, cn.handleNewClient},
		{http.MethodPost, "/admin/clients", PermClients, cn.handleCreateClient},
		{http.MethodGet, "/admin/clients/:id", PermRead, cn.handleClient},
		{http.MethodPost, "/admin/clients/:id", PermClients, cn.handleUpdateClient},
		{http.MethodPost, "/admin/clients/:id/disable", PermClients, cn.handleSetDisabled(true)},
		{http.MethodPost, "/admin/clients/:id/enable", PermClients, cn.handleSetDisabled(false)},
		{http.MethodPost, "/admin/clients/:id/rotate-secret", PermClients, cn.handleRotateSecret},
		{http.MethodPost, "/admin/clients/:id/delete", PermClients, cn.handleDeleteClient},
		{http.MethodPost, "/admin/clients/:id/api-keys", PermClients, cn.handleCreateAPIKey},
		{http.MethodPost, "/admin/clients/:id/api-keys/:key_id/revoke", PermClients, cn.handleRevokeAPIKey},
		{http.MethodGet, "/admin/initial-tokens", PermRead, cn.handleInitialTokens},
		{http.MethodPost, "/admin/initial-tokens", PermClients, cn.handleCreateInitialToken},
		{http.MethodPost, "/admin/initial-tokens/:id/revoke", PermClients, cn.handleRevokeInitialToken},
		{http.MethodGet, "/admin/registry", PermRead, cn.handleRegistry},
		{http.MethodGet, "/admin/registry/new", PermRegistry, cn.handleNewBeneficiary},
		{http.MethodPost, "/admin/registry", PermRegistry, cn.handleCreateBeneficiary},
		{http.MethodGet, "/admin/registry/:id", PermRead, cn.handleBeneficiary},
		{http.MethodPost, "/admin/registry/:id", PermRegistry, cn.handleUpdateBeneficiary},
		{http.MethodPost, "/admin/registry/:id/end-sessions", PermRegistry, cn.handleEndSessions},
		{http.MethodGet, "/admin/disclosures", PermRead, cn.handleDisclosures},
		{http.MethodGet, "/admin/disclosures.csv", PermRead, cn.handleDisclosuresCSV},
		{http.MethodGet, "/admin/keys", PermRead, cn.handleKeys},
		{http.MethodPost, "/admin/keys/rotate", PermKeys, cn.handleRotateKey},
		{http.MethodPost, "/admin/keys/:kid/retire", PermKeys, cn.handleRetireKey},
		{http.MethodGet, "/admin/audit", PermRead, cn.handleAudit},
	}
}

// noFraming: console pages carry secrets once; they are never framed and
// never sent as a referrer (web's headers say so for every page already;
// this also keeps them out of any shared cache).
func noFraming(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

func serveConsoleStatic(c *gin.Context) {
	name := path.Clean("static/" + strings.TrimPrefix(c.Param("filepath"), "/"))
	b, err := staticFiles.ReadFile(name)
	if err != nil || !strings.HasPrefix(name, "static/") {
		web.RenderError(c, http.StatusNotFound, "not_found")
		return
	}
	c.Header("Cache-Control", "public, max-age=86400")
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(b))
}

// Sessions.

func hashCookie(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (cn *Console) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/admin", MaxAge: maxAge,
		HttpOnly: true, Secure: cn.cfg.SecureCookies, SameSite: http.SameSiteStrictMode,
	})
}

// requireSession admits a signed-in admin whose role has perm; others go
// to the sign-in page (403 for a role without perm). A request keeps the
// session alive (the idle timeout counts from the last one, to the
// minute).
func (cn *Console) requireSession(perm Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		actor, ok := cn.session(c)
		if !ok {
			return
		}
		if !actor.Role.Can(perm) {
			c.Set(actorKey, actor)
			cn.render(c, http.StatusForbidden, "forbidden", page{Title: "Not allowed"})
			c.Abort()
			return
		}
		c.Set(actorKey, actor)
		c.Next()
	}
}

// session returns the signed-in admin; without one it has redirected to
// the sign-in page (or answered an error) and returns false.
func (cn *Console) session(c *gin.Context) (Actor, bool) {
	ctx := c.Request.Context()
	v, err := c.Cookie(SessionCookie)
	if err != nil || len(v) != 43 {
		cn.toLogin(c)
		return Actor{}, false
	}
	id := hashCookie(v)
	now := cn.now()
	sess, err := cn.svc.st.GetAdminSession(ctx, id, now, now.Add(-cn.cfg.IdleTimeout))
	if errors.Is(err, store.ErrNotFound) {
		cn.setCookie(c, SessionCookie, "", -1)
		cn.toLogin(c)
		return Actor{}, false
	}
	if err != nil {
		cn.serverError(c, err)
		return Actor{}, false
	}
	user, err := cn.svc.st.GetAdminUser(ctx, sess.UserID)
	if err != nil {
		cn.setCookie(c, SessionCookie, "", -1)
		cn.toLogin(c)
		return Actor{}, false
	}
	_ = cn.svc.st.TouchAdminSession(ctx, id, now, now.Add(-time.Minute))
	c.Set(sessionIDKey, id)
	return Actor{Type: ActorUser, ID: user.ID, Name: user.Name, Role: Role(user.Role), IP: c.ClientIP(), RequestID: web.RequestID(c)}, true
}

func (cn *Console) toLogin(c *gin.Context) {
	c.Redirect(http.StatusSeeOther, "/admin/login")
	c.Abort()
}

func (cn *Console) serverError(c *gin.Context, err error) {
	web.Fail(c, cn.log(c), err)
	c.Abort()
}

// Sign-in.

type loginData struct {
	Mobile       string
	MaskedMobile string
	MaxTries     int
}

func (cn *Console) handleLoginPage(c *gin.Context) {
	cn.render(c, http.StatusOK, "login", page{Title: "Admin sign-in", Data: loginData{}})
}

// handleLogin sends a code to an admin's mobile. It answers the same for
// a mobile that belongs to no admin (the code is withheld, and no code
// works), so neither the page nor the limits tell who is an admin.
func (cn *Console) handleLogin(c *gin.Context) {
	ctx := c.Request.Context()
	raw := strings.TrimSpace(c.PostForm("mobile"))
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		cn.render(c, http.StatusBadRequest, "login", page{Title: "Admin sign-in", Error: "Enter your 10-digit mobile number, or + and the country code.", Data: loginData{Mobile: raw}})
		return
	}
	now := cn.now()
	l := &store.AdminLogin{ID: randomToken(), Mobile: mobile, State: store.AdminLoginOTPSent, CreatedAt: now, ExpiresAt: now.Add(cn.cfg.LoginTTL)}
	// A mobile that is no admin's gets the same sign-in, limits and
	// answers, and no SMS: its code is withheld (no enumeration).
	user, err := cn.svc.st.AdminUserByMobile(ctx, mobile)
	withhold := errors.Is(err, store.ErrNotFound)
	name := ""
	switch {
	case withhold:
		err = nil
	case err == nil:
		l.UserID, name = user.ID, user.Name
	}
	if err == nil {
		err = cn.otps.Issue(ctx, otp.Request{
			Binding: l.ID, Mobile: mobile, ClientIP: c.ClientIP(), Name: name, Entity: "kycvs admin console", Notice: otp.NoticeAdmin,
			// Every "send code" is a new sign-in: the resend wait is kept
			// in the shared counters, per mobile.
			ResendScope: "admin-console",
			Withhold:    withhold,
			Console:     true,
			Save: func(ctx context.Context, s otp.State) error {
				l.OTPHash, l.OTPSentAt, l.OTPExpiresAt, l.OTPTries = s.Hash, s.SentAt, s.ExpiresAt, s.Tries
				return cn.svc.st.CreateAdminLogin(ctx, l)
			},
			Undo: func(ctx context.Context, _ otp.State) {
				_, _ = cn.svc.st.UpdateAdminLogin(ctx, l.ID, func(l *store.AdminLogin) error {
					l.State, l.OTPHash = store.AdminLoginDead, nil
					return nil
				})
			},
		})
	}
	if withhold && err == nil {
		// Never the number, not even masked (docs/operations.md): the keyed
		// tag lets an operator follow one number's events.
		cn.log(c).Info("admin console: sign-in for a mobile that is no admin's", "mobile_tag", cn.otps.LogTag(mobile))
	}
	var limited *otp.LimitError
	var unsent *otp.SendError
	switch {
	case errors.As(err, &limited):
		if limited.Limit == otp.LimitConsole {
			cn.lockout(c, &store.AdminLogin{UserID: l.UserID, Mobile: mobile}, "limit")
		}
		msg := fmt.Sprintf("Too many codes were asked for. Try again in %d minute(s).", (limited.RetryAfter+time.Minute-1)/time.Minute)
		if limited.Limit == otp.LimitResend {
			msg = fmt.Sprintf("A code was sent a moment ago. Wait %d seconds before asking for another.", limited.RetryAfter/time.Second)
		}
		c.Header("Retry-After", strconv.Itoa(int(limited.RetryAfter/time.Second)))
		cn.render(c, http.StatusTooManyRequests, "login", page{Title: "Admin sign-in", Error: msg, Data: loginData{Mobile: raw}})
		return
	case errors.As(err, &unsent):
		cn.log(c).Error("admin console: SMS not sent", "err", unsent.Err)
		cn.render(c, http.StatusServiceUnavailable, "login", page{Title: "Admin sign-in", Error: "The SMS could not be sent. Try again in a minute.", Data: loginData{Mobile: raw}})
		return
	case err != nil:
		cn.serverError(c, err)
		return
	}
	cn.setCookie(c, LoginCookie, l.ID, int(cn.cfg.LoginTTL/time.Second))
	c.Redirect(http.StatusSeeOther, "/admin/login/otp")
}

// login returns the sign-in this browser started, in state, or has
// redirected to the start.
func (cn *Console) login(c *gin.Context, state string) (*store.AdminLogin, bool) {
	id, err := c.Cookie(LoginCookie)
	if err == nil && len(id) == 43 {
		l, err := cn.svc.st.GetAdminLogin(c.Request.Context(), id)
		if err == nil && l.State == state && cn.now().Before(l.ExpiresAt) {
			return l, true
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			cn.serverError(c, err)
			return nil, false
		}
	}
	cn.setCookie(c, LoginCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/admin/login")
	return nil, false
}

func (cn *Console) handleOTPPage(c *gin.Context) {
	l, ok := cn.login(c, store.AdminLoginOTPSent)
	if !ok {
		return
	}
	cn.render(c, http.StatusOK, "otp", page{Title: "Enter the code", Data: loginData{MaskedMobile: claims.MaskMobile(l.Mobile)}})
}

var errNoCode = errors.New("admin: no code for this mobile")

// errOwnerWithoutTOTP: an owner signs in only with an authenticator.
var errOwnerWithoutTOTP = errors.New("admin: an owner without an authenticator")

// handleOTP checks the SMS code of a sign-in: then the authenticator code
// follows, for an admin with one enrolled, or the admin is signed in.
func (cn *Console) handleOTP(c *gin.Context) {
	l, ok := cn.login(c, store.AdminLoginOTPSent)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	code := strings.TrimSpace(c.PostForm("otp"))
	now := cn.now()
	var user *store.AdminUser
	if l.UserID != "" {
		u, err := cn.svc.st.GetAdminUser(ctx, l.UserID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cn.setCookie(c, LoginCookie, "", -1)
			cn.render(c, http.StatusForbidden, "login", page{Title: "Admin sign-in", Error: "This admin was removed.", Data: loginData{}})
			return
		case err != nil:
			cn.serverError(c, err)
			return
		}
		user = u
	}
	l, err := cn.checkSMSCode(ctx, l.ID, user, code, now)
	if err != nil {
		cn.refuseSMSCode(c, l, err)
		return
	}
	if l.State == store.AdminLoginTOTP {
		c.Redirect(http.StatusSeeOther, "/admin/login/totp")
		return
	}
	cn.signIn(c, user, now)
}

// checkSMSCode checks code against sign-in id, in one locked update, and
// moves it on: to the authenticator step, or done. It returns the sign-in
// as written (nil when it could not be read) and otp.ErrWrong,
// otp.ErrTooManyTries (the sign-in is dead), otp.ErrExpired (also for a
// mobile that is no admin's), errOwnerWithoutTOTP, or a store error.
func (cn *Console) checkSMSCode(ctx context.Context, id string, user *store.AdminUser, code string, now time.Time) (*store.AdminLogin, error) {
	return cn.svc.st.UpdateAdminLogin(ctx, id, func(r *store.AdminLogin) error {
		if r.State != store.AdminLoginOTPSent || !now.Before(r.ExpiresAt) {
			return otp.ErrExpired
		}
		s := otp.State{Hash: r.OTPHash, SentAt: r.OTPSentAt, ExpiresAt: r.OTPExpiresAt, Tries: r.OTPTries}
		err := cn.otps.Verify(&s, r.ID, code, now)
		if err == nil && r.UserID == "" {
			// A withheld code nobody was told, guessed: still no admin.
			s.Tries++
			err = otp.ErrWrong
		}
		r.OTPHash, r.OTPTries = s.Hash, s.Tries
		switch {
		case errors.Is(err, otp.ErrTooManyTries):
			r.State = store.AdminLoginDead
			return &store.KeepChanges{Err: err}
		case errors.Is(err, otp.ErrWrong):
			return &store.KeepChanges{Err: err}
		case err != nil:
			return err
		}
		// The SMS code is right: an enrolled authenticator is the next
		// step; an owner without one goes no further.
		switch {
		case user == nil:
			return otp.ErrExpired
		case len(user.TOTPSecret) > 0:
			r.State = store.AdminLoginTOTP
		case Role(user.Role) == RoleOwner:
			r.State = store.AdminLoginDead
			return &store.KeepChanges{Err: errOwnerWithoutTOTP}
		default:
			r.State = store.AdminLoginDone
		}
		return nil
	})
}

// refuseSMSCode answers a code checkSMSCode refused with err; l is the
// sign-in it returned.
func (cn *Console) refuseSMSCode(c *gin.Context, l *store.AdminLogin, err error) {
	data := loginData{}
	if l != nil {
		data.MaskedMobile = claims.MaskMobile(l.Mobile)
	}
	switch {
	case errors.Is(err, otp.ErrWrong):
		left := cn.otps.MaxTries() - l.OTPTries
		cn.render(c, http.StatusBadRequest, "otp", page{Title: "Enter the code", Error: fmt.Sprintf("That code is not right. %d tries left.", left), Data: data})
	case errors.Is(err, otp.ErrTooManyTries):
		cn.setCookie(c, LoginCookie, "", -1)
		cn.lockout(c, l, "codes")
		cn.render(c, http.StatusForbidden, "login", page{Title: "Admin sign-in", Error: "Too many wrong codes. Start again.", Data: loginData{}})
	case errors.Is(err, errOwnerWithoutTOTP):
		cn.setCookie(c, LoginCookie, "", -1)
		cn.log(c).Warn("admin console: an owner without an authenticator refused", "user", l.UserID)
		cn.render(c, http.StatusForbidden, "login", page{Title: "Admin sign-in", Error: "An owner signs in with an authenticator app as well as the SMS code. " +
			"Enrol one from the server's command line first (kycvs admin totp enroll " + l.UserID + "), then sign in again.", Data: loginData{}})
	case errors.Is(err, otp.ErrExpired):
		cn.setCookie(c, LoginCookie, "", -1)
		cn.render(c, http.StatusBadRequest, "login", page{Title: "Admin sign-in", Error: "The code has expired. Start again.", Data: loginData{}})
	default:
		cn.serverError(c, err)
	}
}

func (cn *Console) handleTOTPPage(c *gin.Context) {
	if _, ok := cn.login(c, store.AdminLoginTOTP); !ok {
		return
	}
	cn.render(c, http.StatusOK, "totp", page{Title: "Enter the authenticator code", Data: loginData{}})
}

// handleTOTP checks the authenticator code, the second step of an admin
// with one enrolled. Wrong codes, and a code already used, count as tries
// on the sign-in; the last one locks it.
func (cn *Console) handleTOTP(c *gin.Context) {
	l, ok := cn.login(c, store.AdminLoginTOTP)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	code := strings.TrimSpace(c.PostForm("totp"))
	now := cn.now()
	checked := cn.svc.checkTOTP(ctx, l.UserID, code, now)
	l, err := cn.svc.st.UpdateAdminLogin(ctx, l.ID, func(r *store.AdminLogin) error {
		if r.State != store.AdminLoginTOTP || !now.Before(r.ExpiresAt) {
			return otp.ErrExpired
		}
		switch {
		case errors.Is(checked, ErrTOTPWrong), errors.Is(checked, ErrTOTPReplayed):
			r.TOTPTries++
			if r.TOTPTries >= cn.otps.MaxTries() {
				r.State = store.AdminLoginDead
				return &store.KeepChanges{Err: otp.ErrTooManyTries}
			}
			return &store.KeepChanges{Err: checked}
		case checked != nil:
			return checked
		}
		r.State = store.AdminLoginDone
		return nil
	})
	switch {
	case errors.Is(err, ErrTOTPWrong), errors.Is(err, ErrTOTPReplayed):
		msg := "That code is not right."
		if errors.Is(err, ErrTOTPReplayed) {
			msg = "That code was used already. Wait for the next one."
		}
		left := cn.otps.MaxTries() - l.TOTPTries
		cn.render(c, http.StatusBadRequest, "totp", page{Title: "Enter the authenticator code", Error: fmt.Sprintf("%s %d tries left.", msg, left), Data: loginData{}})
		return
	case errors.Is(err, otp.ErrTooManyTries):
		cn.setCookie(c, LoginCookie, "", -1)
		cn.lockout(c, l, "totp")
		cn.render(c, http.StatusForbidden, "login", page{Title: "Admin sign-in", Error: "Too many wrong codes. Start again.", Data: loginData{}})
		return
	case errors.Is(err, otp.ErrExpired), errors.Is(err, ErrNoTOTP), errors.Is(err, store.ErrNotFound):
		// Expired, or the authenticator or the admin removed meanwhile.
		cn.setCookie(c, LoginCookie, "", -1)
		cn.render(c, http.StatusBadRequest, "login", page{Title: "Admin sign-in", Error: "The sign-in has expired. Start again.", Data: loginData{}})
		return
	case err != nil:
		cn.serverError(c, err)
		return
	}
	user, err := cn.svc.st.GetAdminUser(ctx, l.UserID)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	cn.signIn(c, user, now)
}

// lockout raises the alarm for a sign-in locked out for reason: a WARN
// line (the keyed mobile tag, never the number), an audit entry when the
// mobile is an admin's, and the lockout counter an alert watches.
func (cn *Console) lockout(c *gin.Context, l *store.AdminLogin, reason string) {
	cn.log(c).Warn("admin console: sign-in locked out", "reason", reason, "user", l.UserID, "mobile_tag", cn.otps.LogTag(l.Mobile))
	if cn.cfg.Lockouts != nil {
		cn.cfg.Lockouts.ConsoleLockout(reason)
	}
	if l.UserID != "" {
		actor := Actor{Type: ActorUser, ID: l.UserID, IP: c.ClientIP(), RequestID: web.RequestID(c)}
		if err := cn.svc.Audit(c.Request.Context(), actor, "console.lockout", "admin_user", l.UserID, map[string]any{"reason": reason}); err != nil {
			cn.log(c).Error("admin console: lockout not audited", "err", err)
		}
	}
}

// signIn starts a console session for user, now that every factor is
// checked, with a new CSRF cookie bound to it.
func (cn *Console) signIn(c *gin.Context, user *store.AdminUser, now time.Time) {
	ctx := c.Request.Context()
	cookie := randomToken()
	sess := &store.AdminSession{ID: hashCookie(cookie), UserID: user.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(cn.cfg.SessionTTL)}
	actor := Actor{Type: ActorUser, ID: user.ID, Name: user.Name, Role: Role(user.Role), IP: c.ClientIP(), RequestID: web.RequestID(c)}
	err := cn.svc.st.InTx(ctx, func(ctx context.Context) error {
		if err := cn.svc.st.CreateAdminSession(ctx, sess); err != nil {
			return err
		}
		return cn.svc.Audit(ctx, actor, "console.sign_in", "admin_user", user.ID, nil)
	})
	if err != nil {
		cn.serverError(c, err)
		return
	}
	cn.setCookie(c, LoginCookie, "", -1)
	cn.setCookie(c, SessionCookie, cookie, int(cn.cfg.SessionTTL/time.Second))
	web.RotateCSRF(c, cookie)
	cn.log(c).Info("admin console: signed in", "user", user.ID, "role", user.Role)
	c.Redirect(http.StatusSeeOther, "/admin")
}

func (cn *Console) handleLogout(c *gin.Context) {
	if v, err := c.Cookie(SessionCookie); err == nil {
		ctx := c.Request.Context()
		id := hashCookie(v)
		now := cn.now()
		if sess, err := cn.svc.st.GetAdminSession(ctx, id, now, now.Add(-cn.cfg.IdleTimeout)); err == nil {
			_ = cn.svc.Audit(ctx, Actor{Type: ActorUser, ID: sess.UserID, IP: c.ClientIP(), RequestID: web.RequestID(c)}, "console.sign_out", "admin_user", sess.UserID, nil)
		}
		_ = cn.svc.st.DeleteAdminSession(ctx, id)
	}
	cn.setCookie(c, SessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/admin/login?done=signedout")
}

func actorOf(c *gin.Context) Actor {
	a, _ := c.Get(actorKey)
	actor, _ := a.(Actor)
	return actor
}

// back redirects to target with a notice.
func back(c *gin.Context, target, done string) {
	if done != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "done=" + url.QueryEscape(done)
	}
	c.Redirect(http.StatusSeeOther, target)
}
