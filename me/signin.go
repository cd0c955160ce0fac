package me

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Messages a redirect to /me asks for (?m=...): notices and errors of the
// sign-in form, and of the page once signed in.
var (
	signInMessages = map[string]web.Msg{
		"locked":  web.M("me.locked"),
		"expired": web.M("me.code_expired"),
	}
	signInNotices = map[string]web.Msg{
		"signedout": web.M("me.signed_out"),
		"ended":     web.M("me.session_ended"),
	}
)

func (p *Page) rights() web.MeRights { return web.MeRights{Grievance: p.cfg.Grievance} }

// Refusals of the sign-in form (?m=...): the form is answered by a
// redirect to /me (post/redirect/get), so a reload sends nothing, and the
// refused form's row (FormCookie) keeps what was typed and until when a
// send limit holds. The URL says which refusal; the row says whether it
// still holds. None reads the registry: a registered and an unregistered
// mobile are refused alike (no enumeration).
const (
	refusedMobile = "mobile" // not a mobile number: 400
	refusedSoon   = "soon"   // the resend wait is not over: 429
	refusedLimit  = "limit"  // another send limit (per mobile, per network): 429
	refusedUnsent = "unsent" // the SMS could not be sent: 503
	refusedBusy   = "busy"   // the SMS service is busy: 503
)

// handleShow is the page when signed in, else the sign-in form.
func (p *Page) handleShow(c *gin.Context) {
	sess, err := p.session(c)
	switch {
	case err == nil:
		p.renderPage(c, sess)
		return
	case !errors.Is(err, store.ErrNotFound):
		p.serverError(c, err)
		return
	}
	page := web.MeSignInPage{Notice: signInNotices[c.Query("m")], Error: signInMessages[c.Query("m")]}
	status := http.StatusOK
	switch m := c.Query("m"); m {
	case refusedMobile, refusedSoon, refusedLimit, refusedUnsent, refusedBusy:
		row, err := p.refusedForm(c)
		if err != nil {
			p.serverError(c, err)
			return
		}
		if row != nil {
			page.Mobile = row.Mobile
			status, page.Error = p.refusal(c, m, row)
		}
	}
	if _, had := p.rowID(c, SessionCookie); had {
		// The session ended while the page was open.
		p.clearCookie(c, SessionCookie)
		if page.Notice.ID == "" && page.Error.ID == "" {
			page.Notice = web.M("me.session_ended")
		}
	}
	p.renderSignIn(c, status, page)
}

// refusedForm returns the refused form FormCookie names, nil when there
// is none (no cookie, or its row has expired).
func (p *Page) refusedForm(c *gin.Context) (*store.MeSession, error) {
	id, ok := p.rowID(c, FormCookie)
	if !ok {
		return nil, nil
	}
	row, err := p.st.GetMeSession(c.Request.Context(), id, store.MeRefused, p.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return row, err
}

// refusal is the status and the error of the sign-in form's page for
// refusal m of row, and sets Retry-After where one is due. A refusal that
// no longer holds (a limit that has ended, a URL naming another refusal)
// shows the form as it was typed, without an error.
func (p *Page) refusal(c *gin.Context, m string, row *store.MeSession) (int, web.Msg) {
	_, err := claims.NormalizeMobile(row.Mobile)
	switch {
	case m == refusedMobile && err != nil:
		return http.StatusBadRequest, web.M("alert.bad_mobile")
	case err != nil:
		return http.StatusOK, web.Msg{}
	case m == refusedSoon || m == refusedLimit:
		if row.LimitedUntil == nil || !p.now().Before(*row.LimitedUntil) {
			return http.StatusOK, web.Msg{}
		}
		web.RetryAfter(c, row.LimitedUntil.Sub(p.now()))
		if m == refusedSoon {
			return http.StatusTooManyRequests, web.M("alert.resend_too_soon")
		}
		return http.StatusTooManyRequests, web.M("me.too_many_codes")
	case m == refusedBusy:
		web.RetryAfter(c, otp.SenderBusyRetry*time.Second)
		return http.StatusServiceUnavailable, web.M("alert.sender_busy")
	case m == refusedUnsent:
		return http.StatusServiceUnavailable, web.M("alert.send_failed")
	}
	return http.StatusOK, web.Msg{}
}

func (p *Page) renderSignIn(c *gin.Context, status int, page web.MeSignInPage) {
	page.Action = pathSignIn
	page.CSRFToken = web.CSRFToken(c)
	page.Rights = p.rights()
	web.Render(c, status, "me_signin", page)
}

// handleSignIn sends a code to the mobile. It never reads the registry,
// so it answers the same whether or not anyone is registered on the
// mobile (no enumeration). Every answer is a 303: to the code page, or to
// /me saying why the form was refused (refuse).
func (p *Page) handleSignIn(c *gin.Context) {
	ctx := c.Request.Context()
	raw := web.Truncate(c.PostForm("mobile"), 64)
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		p.refuse(c, raw, refusedMobile, nil)
		return
	}
	cookie, row, err := p.newSignInRow(store.MeOTPSent, mobile)
	if err != nil {
		p.serverError(c, err)
		return
	}
	id, now := row.ID, row.CreatedAt
	err = p.otps.Issue(ctx, otp.Request{
		Binding:  id,
		Mobile:   mobile,
		ClientIP: c.ClientIP(),
		Notice:   otp.NoticeOwnPage,
		Lang:     web.Language(c),
		// Every "send code" is a new sign-in: the resend wait is kept in
		// the shared counters, per mobile.
		ResendScope: "me",
		Save: func(ctx context.Context, s otp.State) error {
			row.OTPHash, row.OTPSentAt, row.OTPExpiresAt, row.OTPTries = s.Hash, s.SentAt, s.ExpiresAt, s.Tries
			return p.st.CreateMeSession(ctx, row)
		},
		Undo: func(ctx context.Context, _ otp.State) { _ = p.st.DeleteMeSession(ctx, id) },
	})
	var limited *otp.LimitError
	var unsent *otp.SendError
	switch {
	case err == nil:
	case errors.As(err, &limited):
		p.log(c).Warn("me: OTP send limit reached", "mobile_tag", p.otps.LogTag(mobile), "limit", limited.Limit)
		until := now.Add(limited.RetryAfter)
		m := refusedLimit
		if limited.Limit == otp.LimitResend {
			m = refusedSoon
		}
		p.refuse(c, raw, m, &until)
		return
	case errors.As(err, &unsent):
		p.log(c).Error("me: SMS not sent", "mobile_tag", p.otps.LogTag(mobile), "err", unsent.Err)
		m := refusedUnsent
		if errors.Is(unsent.Err, otp.ErrSenderBusy) {
			m = refusedBusy
		}
		p.refuse(c, raw, m, nil)
		return
	default:
		p.serverError(c, err)
		return
	}
	p.log(c).Info("me: OTP sent", "mobile_tag", p.otps.LogTag(mobile))
	if err := p.dropRefusedForm(c); err != nil {
		p.serverError(c, err)
		return
	}
	p.setCookie(c, SignInCookie, cookie, int(p.cfg.SignInTTL/time.Second))
	c.Redirect(http.StatusSeeOther, pathCode)
}

// refuse answers a sign-in form refused for m: a new refused row, under a
// new FormCookie, keeps what was typed (never the URL: no mobile in a
// log) and until when a send limit holds, and the answer is 303 to
// /me?m=m, whose page shows it (handleShow). Retry-After tells programs
// at once. The row replaces the one the browser had; a code already sent
// stays usable.
func (p *Page) refuse(c *gin.Context, typed, m string, limitedUntil *time.Time) {
	if old, ok := p.rowID(c, FormCookie); ok {
		if err := p.st.DeleteMeSession(c.Request.Context(), old); err != nil {
			p.serverError(c, err)
			return
		}
	}
	cookie, row, err := p.newSignInRow(store.MeRefused, web.Printable(typed))
	if err != nil {
		p.serverError(c, err)
		return
	}
	row.LimitedUntil = limitedUntil
	now := row.CreatedAt
	if err := p.st.CreateMeSession(c.Request.Context(), row); err != nil {
		p.serverError(c, err)
		return
	}
	p.setCookie(c, FormCookie, cookie, int(p.cfg.SignInTTL/time.Second))
	if limitedUntil != nil {
		web.RetryAfter(c, limitedUntil.Sub(now))
	}
	back(c, m)
}

// newSignInRow is a sign-in row in state for mobile, living SignInTTL
// from now, under a new token: the cookie's value and the row's ID.
func (p *Page) newSignInRow(state, mobile string) (cookie string, row *store.MeSession, err error) {
	cookie, id, err := p.newToken()
	if err != nil {
		return "", nil, err
	}
	now := p.now()
	return cookie, &store.MeSession{ID: id, State: state, Mobile: mobile, CreatedAt: now, ExpiresAt: now.Add(p.cfg.SignInTTL)}, nil
}

// dropRefusedForm deletes the refused form FormCookie names, if any, and
// clears the cookie.
func (p *Page) dropRefusedForm(c *gin.Context) error {
	id, ok := p.rowID(c, FormCookie)
	if !ok {
		return nil
	}
	if err := p.st.DeleteMeSession(c.Request.Context(), id); err != nil {
		return err
	}
	p.clearCookie(c, FormCookie)
	return nil
}

// signIn returns the sign-in waiting for its code in c's browser, or has
// redirected to /me (with why) and returns false.
func (p *Page) signIn(c *gin.Context) (*store.MeSession, bool) {
	id, ok := p.rowID(c, SignInCookie)
	if ok {
		row, err := p.st.GetMeSession(c.Request.Context(), id, store.MeOTPSent, p.now())
		if err == nil {
			return row, true
		}
		if !errors.Is(err, store.ErrNotFound) {
			p.serverError(c, err)
			return nil, false
		}
	}
	p.clearCookie(c, SignInCookie)
	m := ""
	if ok {
		m = "expired"
	}
	back(c, m)
	return nil, false
}

// Messages of the code page (?m=...).
var codeMessages = map[string]bool{"wrong": true, "format": true}

func (p *Page) handleCodePage(c *gin.Context) {
	row, ok := p.signIn(c)
	if !ok {
		return
	}
	page := web.MeCodePage{MaskedMobile: claims.MaskMobile(row.Mobile)}
	switch m := c.Query("m"); {
	case m == "format":
		page.Error = web.M("me.bad_code")
	case m == "wrong" && row.OTPTries > 0:
		// The tries left are the server's count, never the URL's, and
		// only once a wrong try is counted.
		page.Error = web.WrongOTP(p.otps.TriesLeft(row.OTPTries))
	}
	p.renderCode(c, page)
}

func (p *Page) renderCode(c *gin.Context, page web.MeCodePage) {
	page.Action, page.RestartAction, page.CSRFToken, page.Nonce = pathCode, pathRestart, web.CSRFToken(c), web.CSPNonce(c)
	status := http.StatusOK
	if page.Error.ID != "" {
		status = http.StatusBadRequest
	}
	web.SetPagePath(c, pathCode)
	web.Render(c, status, "me_code", page)
}

// handleCode checks the code; a right one replaces the sign-in by a
// session under a new cookie, in one transaction.
func (p *Page) handleCode(c *gin.Context) {
	row, ok := p.signIn(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	code := locale.ASCIIDigits(strings.TrimSpace(c.PostForm("otp")))
	if !sixDigits(code) {
		c.Redirect(http.StatusSeeOther, pathCode+"?m=format")
		return
	}
	now := p.now()
	cookie, sessID, err := p.newToken()
	if err != nil {
		p.serverError(c, err)
		return
	}
	// A wrong code's try must be kept: the transaction commits then, and
	// the verdict comes back in wrong.
	var wrong error
	err = p.st.InTx(ctx, func(ctx context.Context) error {
		r, err := p.st.UpdateMeSession(ctx, row.ID, func(r *store.MeSession) error {
			if r.State != store.MeOTPSent || !now.Before(r.ExpiresAt) {
				return otp.ErrExpired
			}
			s := otp.State{Hash: r.OTPHash, SentAt: r.OTPSentAt, ExpiresAt: r.OTPExpiresAt, Tries: r.OTPTries}
			err := p.otps.Verify(&s, r.ID, code, now)
			r.OTPHash, r.OTPTries = s.Hash, s.Tries
			switch {
			case errors.Is(err, otp.ErrTooManyTries):
				r.State = store.MeDead
				return &store.KeepChanges{Err: err}
			case errors.Is(err, otp.ErrWrong):
				return &store.KeepChanges{Err: err}
			}
			return err
		})
		if errors.Is(err, otp.ErrWrong) || errors.Is(err, otp.ErrTooManyTries) {
			wrong = err
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.st.DeleteMeSession(ctx, r.ID); err != nil {
			return err
		}
		return p.st.CreateMeSession(ctx, &store.MeSession{
			ID: sessID, State: store.MeSignedIn, Mobile: r.Mobile, CreatedAt: now, ExpiresAt: now.Add(p.cfg.SessionTTL),
		})
	})
	if err == nil {
		err = wrong
	}
	switch {
	case errors.Is(err, otp.ErrWrong):
		c.Redirect(http.StatusSeeOther, pathCode+"?m=wrong")
		return
	case errors.Is(err, otp.ErrTooManyTries):
		p.log(c).Warn("me: sign-in stopped after wrong codes", "mobile_tag", p.otps.LogTag(row.Mobile))
		p.clearCookie(c, SignInCookie)
		back(c, "locked")
		return
	case errors.Is(err, otp.ErrExpired), errors.Is(err, store.ErrNotFound):
		p.clearCookie(c, SignInCookie)
		back(c, "expired")
		return
	case err != nil:
		p.serverError(c, err)
		return
	}
	p.log(c).Info("me: signed in", "mobile_tag", p.otps.LogTag(row.Mobile))
	p.clearCookie(c, SignInCookie)
	p.setCookie(c, SessionCookie, cookie, int(p.cfg.SessionTTL/time.Second))
	back(c, "")
}

// handleRestart drops the sign-in waiting for its code (another number).
func (p *Page) handleRestart(c *gin.Context) {
	if id, ok := p.rowID(c, SignInCookie); ok {
		if err := p.st.DeleteMeSession(c.Request.Context(), id); err != nil {
			p.serverError(c, err)
			return
		}
	}
	p.clearCookie(c, SignInCookie)
	back(c, "")
}

// handleSignOut ends the session.
func (p *Page) handleSignOut(c *gin.Context) {
	if id, ok := p.rowID(c, SessionCookie); ok {
		if err := p.st.DeleteMeSession(c.Request.Context(), id); err != nil {
			p.serverError(c, err)
			return
		}
	}
	p.clearCookie(c, SessionCookie)
	back(c, "signedout")
}

// sixDigits reports whether s is a code's shape: six ASCII digits.
func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
