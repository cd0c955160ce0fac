package consent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// DefaultSessionTTL is how long a browser stays signed in after a valid
// OTP (DESIGN.md, Policies).
const DefaultSessionTTL = 15 * time.Minute

// SessionCookie holds the browser session a valid OTP starts. Its value is
// 32 random bytes, base64url; store.Session.ID is the hex SHA-256 of that
// value, so a read of the database yields no usable cookie.
const SessionCookie = "kycvs_session"

// Config is what the flow needs; cmd/kycvs fills it from flags. The OTP
// policy is not here: it belongs to the otp.Service handed to New.
type Config struct {
	// SessionTTL is how long a browser stays signed in after an OTP.
	// Default DefaultSessionTTL.
	SessionTTL time.Duration
	// SecureCookies sets the Secure flag on the session and CSRF cookies;
	// false only for http:// development issuers.
	SecureCookies bool
	// CSRFKey keys the pages' CSRF tokens (secrets.Derive(secret,
	// secrets.CSRF)). Required.
	CSRFKey []byte
	// FinishURL is where the browser goes once a challenge is approved or
	// denied, unless a Finisher answers at once; oauth serves it and
	// answers the client. Required.
	FinishURL func(challenge string) string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Rand is the randomness for session cookies; default
	// crypto/rand.Reader.
	Rand io.Reader
	// Logger receives the flow's events, each with the request's
	// request_id; nil means the engine's logger (web.Log).
	Logger *slog.Logger
}

// Registry is what the flow needs from the vaccination registry
// (claims.Registry provides it). Match returns the beneficiary registered
// under the E.164 mobile whose name matches, an error wrapping
// claims.ErrNoMatch when there is none, and any other error when the
// registry cannot be read. The flow calls it only after a valid OTP, with
// a context that joins the flow's transaction.
type Registry interface {
	Match(ctx context.Context, mobileE164, name string) (*store.Beneficiary, error)
}

var _ Registry = (*claims.Registry)(nil)

// Finisher works out the answer to the relying party in the request that
// approves a challenge with a right code (oauth.Provider provides it): lr
// as about to be written, approved; client its client as read in this
// request (nil when not read); sess the browser session it is approved
// in; person the beneficiary matched. It adds to w what must be written
// with the approval (the code's rows) and returns the answer to write
// once w has landed; false, having added nothing, when the answer must go
// through FinishURL instead.
type Finisher interface {
	PrepareApproved(c *gin.Context, w *store.Writes, lr *store.LoginRequest, client *store.Client, sess *store.Session, person *store.Beneficiary) (answer func(), ok bool)
}

// Flow serves the sign-in and consent pages. It is safe for concurrent use.
type Flow struct {
	cfg Config
	st  *store.Store
	reg Registry
	// otps issues and checks the codes; the other channels that send codes
	// share it, and with it the policy and the send counters.
	otps *otp.Service
	// base is the path prefix of the router the pages are mounted on.
	base string
	// finisher, when set, answers the client as a code approves a
	// challenge.
	finisher Finisher
}

// New returns the flow over st, reg and otps, or an error when cfg lacks
// FinishURL or otps is nil (wiring mistakes cmd/kycvs never makes).
func New(cfg Config, st *store.Store, reg Registry, otps *otp.Service) (*Flow, error) {
	if cfg.FinishURL == nil {
		return nil, errors.New("consent: Config.FinishURL is nil")
	}
	if otps == nil {
		return nil, errors.New("consent: no OTP service")
	}
	if len(cfg.CSRFKey) == 0 {
		return nil, errors.New("consent: Config.CSRFKey is empty")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Flow{cfg: cfg, st: st, reg: reg, otps: otps}, nil
}

// FinishWith has fin answer the relying party in the request whose code
// approves a challenge, rather than a redirect to FinishURL. Call it
// before serving: oauth's provider, built after the flow, is the usual
// fin.
func (f *Flow) FinishWith(fin Finisher) { f.finisher = fin }

// Register mounts the flow's pages under /login, behind web.CSRF:
//
//	GET  /login/:challenge          the step the challenge is at
//	POST /login/:challenge          mobile + name: send a code
//	POST /login/:challenge/resend   send a new code to the same mobile
//	POST /login/:challenge/otp      check the code (= consent)
//	POST /login/:challenge/name     a corrected name after "no match"
//	POST /login/:challenge/cancel   decline
//	POST /login/:challenge/consent  Share / Don't share, when signed in
//	POST /login/:challenge/switch   "Not you?": sign in afresh, without declining
//	POST /login/:challenge/change   "Change mobile or name": back to the first form, without declining
//	POST /login/:challenge/back     "Back to {verifier}" from a page that ends the sign-in
//
// Every POST is answered by a redirect (303) to a GET page, with an
// outcome code when the page has something to say (pageMessages), except
// a first form whose input is refused: it is shown again with the input,
// and a reload only checks it again (nothing was sent or stored).
func (f *Flow) Register(r gin.IRouter) {
	if g, ok := r.(interface{ BasePath() string }); ok {
		f.base = strings.TrimRight(g.BasePath(), "/")
	}
	g := r.Group("/login", web.CSRF(web.CSRFConfig{Key: f.cfg.CSRFKey, Cookie: web.CSRFCookie, Secure: f.cfg.SecureCookies}))
	g.GET("/:challenge", f.handleShow)
	g.POST("/:challenge", f.handleStart)
	g.POST("/:challenge/resend", f.handleResend)
	g.POST("/:challenge/otp", f.handleOTP)
	g.POST("/:challenge/name", f.handleName)
	g.POST("/:challenge/cancel", f.handleCancel)
	g.POST("/:challenge/consent", f.handleConsent)
	g.POST("/:challenge/switch", f.handleSwitch)
	g.POST("/:challenge/change", f.handleChange)
	g.POST("/:challenge/back", f.handleBack)
}

// CurrentSession returns this browser's session from its kycvs_session
// cookie when it exists and has not expired; store.ErrNotFound when there
// is none (no cookie, a malformed one, an unknown or expired session), and
// other store errors as they come. oauth calls it for every authorization
// request.
func (f *Flow) CurrentSession(r *http.Request) (*store.Session, error) {
	id, ok := sessionIDFromRequest(r)
	if !ok {
		return nil, store.ErrNotFound
	}
	return f.st.GetSession(r.Context(), id, f.now())
}

// SessionID returns the session ID in this browser's kycvs_session cookie,
// without reading the session: false when there is no well-formed cookie.
// The caller reads the session itself (the resume joins it to the login
// request) and must check it exists and has not expired.
func (f *Flow) SessionID(r *http.Request) (string, bool) { return sessionIDFromRequest(r) }

// EndSession signs the browser out: it deletes its session, if any, and
// clears the cookie. oauth calls it at RP-initiated logout. It returns
// store errors; no session is not an error.
func (f *Flow) EndSession(w http.ResponseWriter, r *http.Request) error {
	if id, ok := sessionIDFromRequest(r); ok {
		if err := f.st.DeleteSession(r.Context(), id); err != nil {
			return err
		}
	}
	http.SetCookie(w, f.sessionCookie("", -1))
	return nil
}

func sessionIDFromRequest(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) != sessionTokenLen {
		return "", false
	}
	return sessionID(c.Value), true
}

// sessionTokenLen is the session cookie's length in random bytes.
const sessionTokenLen = 32

// newSessionToken returns a cookie value and the session ID it maps to.
func (f *Flow) newSessionToken() (cookie, id string, err error) {
	b := make([]byte, sessionTokenLen)
	if _, err := io.ReadFull(f.cfg.Rand, b); err != nil {
		return "", "", err
	}
	cookie = base64.RawURLEncoding.EncodeToString(b)
	return cookie, sessionID(cookie), nil
}

func sessionID(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// sessionCookie is the kycvs_session cookie; maxAge < 0 deletes it.
func (f *Flow) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   f.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
}

func (f *Flow) now() time.Time { return f.cfg.Now().UTC() }

// log is the flow's logger for the request c serves. Never give it an OTP,
// a cookie, a name or a mobile number, not even masked (OTPs.LogTag).
func (f *Flow) log(c *gin.Context) *slog.Logger {
	if f.cfg.Logger == nil {
		return web.Log(c)
	}
	return f.cfg.Logger.With("request_id", web.RequestID(c))
}

// LoginURL is the address of a challenge's sign-in page, where oauth
// sends the browser (its Config.LoginURL); valid once Register has run.
func (f *Flow) LoginURL(challenge string) string { return f.path(challenge, "") }

// NewLoginURL is the address of the sign-in page of lr, which oauth has
// just stored (its Config.NewLoginURL): like the page after any other
// write (redirectAfter), it is shown from lr as stored, not read back.
func (f *Flow) NewLoginURL(ctx context.Context, lr *store.LoginRequest) string {
	return f.pageAfter(ctx, lr, "")
}

// path is the address of a challenge's page or one of its forms.
func (f *Flow) path(challenge, action string) string {
	p := f.base + "/login/" + url.PathEscape(challenge)
	if action != "" {
		p += "/" + action
	}
	return p
}

// usePage writes c's page in the language of lr's sign-in: the relying
// party's ui_locales, kept in the stored authorization form, unless the
// person picked another language since the sign-in began; and points the
// language switch at the challenge's page, which shows the current step
// however the page was reached.
func (f *Flow) usePage(c *gin.Context, lr *store.LoginRequest) {
	if form, err := url.ParseQuery(lr.Form); err == nil {
		web.UseUILocales(c, form.Get("ui_locales"), lr.CreatedAt)
	}
	web.SetPagePath(c, f.path(lr.ID, ""))
}

// stepError says a challenge is not at the step a request needs: it
// expired, or it moved on (a second tab, a double submit, the Back
// button). replyStep turns it into the right answer.
type stepError struct {
	challenge string
	clientID  string
	state     store.LoginState
	expired   bool
}

func (e *stepError) Error() string {
	if e.expired {
		return "consent: login request expired"
	}
	return "consent: login request is " + string(e.state)
}

// checkStep returns a *stepError unless r is unexpired at now and in one
// of the states want. Updaters call it first, so every transition is
// checked on the locked row.
func checkStep(r *store.LoginRequest, now time.Time, want ...store.LoginState) error {
	if !now.Before(r.ExpiresAt) {
		return &stepError{challenge: r.ID, clientID: r.ClientID, state: r.State, expired: true}
	}
	for _, w := range want {
		if r.State == w {
			return nil
		}
	}
	return &stepError{challenge: r.ID, clientID: r.ClientID, state: r.State}
}

// maxChallengeLen bounds the challenge a URL may carry; oauth's are 43
// characters.
const maxChallengeLen = 128

// load reads the request's challenge and returns it when it is at one of
// the states want; otherwise it has answered (see replyStep) and returns
// false.
func (f *Flow) load(c *gin.Context, want ...store.LoginState) (*store.LoginRequest, bool) {
	ch := c.Param("challenge")
	if ch == "" || len(ch) > maxChallengeLen {
		f.replyStep(c, store.ErrNotFound)
		return nil, false
	}
	lr, err := f.read(c, ch)
	if err == nil {
		f.usePage(c, lr)
		err = checkStep(lr, f.now(), want...)
	}
	if err != nil {
		f.replyStep(c, err)
		return nil, false
	}
	return lr, true
}

// read reads challenge ch for c. A page whose address names the version
// a write redirected from (redirectAfter) is shown from the store's copy
// of that write when this process made it (Store.GetLoginRequestAt).
func (f *Flow) read(c *gin.Context, ch string) (*store.LoginRequest, error) {
	if c.Request.Method == http.MethodGet {
		if v, err := strconv.ParseInt(c.Query(versionParam), 10, 64); err == nil {
			return f.st.GetLoginRequestAt(c.Request.Context(), ch, v)
		}
	}
	return f.st.GetLoginRequest(c.Request.Context(), ch)
}

// replyStep answers a request whose challenge is unknown, finished or at
// another step: unknown 404 (nothing to go back to: no redirect URI is
// known); expired or dead 410 with "Back to {verifier}"; used 410;
// approved or denied, the finish URL (oauth answers the client once,
// whichever redirect arrives first); any other step, its page.
func (f *Flow) replyStep(c *gin.Context, err error) {
	var se *stepError
	switch {
	case errors.As(err, &se):
		switch {
		case se.state == store.LoginDead:
			f.renderEnd(c, http.StatusGone, "too_many_wrong", se.challenge, se.clientID)
		case se.expired && se.state != store.LoginApproved && se.state != store.LoginDenied && se.state != store.LoginUsed:
			f.renderEnd(c, http.StatusGone, "expired", se.challenge, se.clientID)
		case se.expired:
			web.RenderError(c, http.StatusGone, "expired")
		case se.state == store.LoginApproved || se.state == store.LoginDenied:
			c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(se.challenge))
		case se.state == store.LoginUsed:
			web.RenderError(c, http.StatusGone, "complete")
		default:
			c.Redirect(http.StatusSeeOther, f.path(se.challenge, ""))
		}
	case errors.Is(err, store.ErrNotFound):
		web.RenderError(c, http.StatusNotFound, "link_invalid")
	default:
		f.serverError(c, err)
	}
}

// renderEnd shows the error page key for a sign-in that cannot go on,
// with "Back to {verifier}", which ends it and tells the relying party
// (handleBack). A client that is gone gets the page without the button:
// oauth could not answer it.
func (f *Flow) renderEnd(c *gin.Context, status int, key, challenge, clientID string) {
	page := web.ErrorPage{Key: key, RequestID: web.RequestID(c)}
	cl, err := f.st.GetClient(c.Request.Context(), clientID)
	switch {
	case err == nil && !cl.Disabled:
		page.ClientName = cl.Name
		if page.ClientName == "" {
			page.ClientName = cl.ID
		}
		page.BackAction = f.path(challenge, "back")
		page.CSRFToken = web.CSRFToken(c)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		f.log(c).Error("consent: store error", "err", err)
	}
	web.Render(c, status, "error", page)
}

// serverError logs err and shows a page that asks to try again.
func (f *Flow) serverError(c *gin.Context, err error) {
	web.Fail(c, f.log(c), err)
}

// clientName returns the display name of the client behind lr: the one
// oauth stored with the request, so the pages read no client row; for a
// request stored without it, the client's, and on failure it has answered
// and returns false. A client disabled or deleted meanwhile gets nothing:
// oauth checks it again when the sign-in finishes.
func (f *Flow) clientName(c *gin.Context, lr *store.LoginRequest) (string, bool) {
	if lr.ClientName != "" {
		return lr.ClientName, true
	}
	cl, err := f.st.GetClient(c.Request.Context(), lr.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		web.RenderError(c, http.StatusGone, "client_gone")
		return "", false
	case err != nil:
		f.serverError(c, err)
		return "", false
	}
	if cl.Name == "" {
		return cl.ID, true
	}
	return cl.Name, true
}

// Outcomes of a step that are answered with a page rather than a redirect
// (and ErrOTPExpired, ErrOTPWrong, ErrOTPTooManyTries from the OTP service).
var (
	errNoMatch      = errors.New("consent: no registry match")
	errSessionEnded = errors.New("consent: session ended")
)

// registryError: the registry could not be read (not "no match").
type registryError struct{ err error }

func (e *registryError) Error() string { return "consent: registry: " + e.err.Error() }

func (e *registryError) Unwrap() error { return e.err }

// challengeParam returns the URL's challenge, or answers 404 for one no
// challenge could be.
func (f *Flow) challengeParam(c *gin.Context) (string, bool) {
	ch := c.Param("challenge")
	if ch == "" || len(ch) > maxChallengeLen {
		f.replyStep(c, store.ErrNotFound)
		return "", false
	}
	return ch, true
}

// conclude runs one verification step and its consequences, all or
// none: step checks and changes the challenge; when it returns nil the
// registry is asked for the beneficiary, and on a match the challenge is
// approved and a new session created (replacing this browser's old one).
// The challenge is read, then written only if nobody wrote it since
// (store.UpdateLoginRequestWith); otherwise step runs again on it,
// locked. It returns the challenge as written and the new session's
// cookie value, with the session and the person matched (approved); the
// error is step's (nothing written, the challenge nil,
// unless step kept its changes with store.KeepChanges), errNoMatch or a
// *registryError (the challenge stays verified), or a store error.
func (f *Flow) conclude(c *gin.Context, challenge string, now time.Time, step func(*store.LoginRequest) error) (*store.LoginRequest, approved, error) {
	cookie, sessID, err := f.newSessionToken()
	if err != nil {
		return nil, approved{}, fmt.Errorf("consent: session randomness: %w", err)
	}
	oldID, hadOld := sessionIDFromRequest(c.Request)
	ctx := c.Request.Context()
	// The client comes with the request: a right code answers it at once.
	read, client, err := f.st.GetLoginRequestWithClient(ctx, challenge)
	if err != nil {
		return nil, approved{}, err
	}
	var b *store.Beneficiary
	var sess *store.Session
	var answer func()
	lr, err := f.st.UpdateLoginRequestWith(ctx, read, func(r *store.LoginRequest) error {
		if err := step(r); err != nil {
			return err
		}
		var err error
		b, err = f.reg.Match(ctx, r.Mobile, r.Name)
		switch {
		case errors.Is(err, claims.ErrNoMatch):
			return &store.KeepChanges{Err: errNoMatch}
		case err != nil:
			return &store.KeepChanges{Err: &registryError{err}}
		}
		r.State = store.LoginApproved
		r.BeneficiaryID = b.ID
		r.SessionID = sessID
		return nil
	}, func(w *store.Writes, lr *store.LoginRequest) {
		// The approval and the browser's new session are written
		// together; the old session ends with them.
		if hadOld {
			w.DeleteSession(oldID)
		}
		sess = &store.Session{
			ID:            sessID,
			BeneficiaryID: b.ID,
			Mobile:        lr.Mobile,
			Name:          b.Name,
			AuthTime:      *lr.AuthTime,
			Grants:        store.Grants{lr.ClientID: union(nil, lr.Scopes)},
			CreatedAt:     now,
			ExpiresAt:     now.Add(f.cfg.SessionTTL),
		}
		w.CreateSession(sess)
		if f.finisher != nil {
			// The code's rows land with the approval, or neither does.
			answer, _ = f.finisher.PrepareApproved(c, w, lr, client, sess, b)
		}
	})
	if err != nil {
		// A kept change (a wrong code) comes with the request as written.
		return lr, approved{}, err
	}
	return lr, approved{cookie: cookie, answer: answer}, nil
}

// approved is what the request that approved a challenge hands on to
// finish: the cookie of a session it started ("" when it started none)
// and the relying party's answer, written with the approval (nil when
// the answer goes through FinishURL).
type approved struct {
	cookie string
	answer func()
}
