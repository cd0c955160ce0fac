package me

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

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
	if _, had := p.rowID(c, SessionCookie); had {
		// The session ended while the page was open.
		p.clearCookie(c, SessionCookie)
		if page.Notice.ID == "" && page.Error.ID == "" {
			page.Notice = web.M("me.session_ended")
		}
	}
	p.renderSignIn(c, http.StatusOK, page)
}

func (p *Page) renderSignIn(c *gin.Context, status int, page web.MeSignInPage) {
	page.Action = pathSignIn
	page.CSRFToken = web.CSRFToken(c)
	page.Rights = p.rights()
	web.Render(c, status, "me_signin", page)
}

// handleSignIn sends a code to the mobile. It never reads the registry,
// so it answers the same whether or not anyone is registered on the
// mobile (no enumeration).
func (p *Page) handleSignIn(c *gin.Context) {
	ctx := c.Request.Context()
	raw := truncate(c.PostForm("mobile"), 64)
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		p.renderSignIn(c, http.StatusBadRequest, web.MeSignInPage{Mobile: raw, Error: web.M("alert.bad_mobile")})
		return
	}
	cookie, id, err := p.newToken()
	if err != nil {
		p.serverError(c, err)
		return
	}
	now := p.now()
	row := &store.MeSession{ID: id, State: store.MeOTPSent, Mobile: mobile, CreatedAt: now, ExpiresAt: now.Add(p.cfg.SignInTTL)}
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
		web.RetryAfter(c, limited.RetryAfter)
		if limited.Limit == otp.LimitResend {
			p.renderSignIn(c, http.StatusTooManyRequests, web.MeSignInPage{Mobile: raw, Error: web.M("alert.resend_too_soon")})
			return
		}
		web.RenderError(c, http.StatusTooManyRequests, "too_many_codes")
		return
	case errors.As(err, &unsent):
		p.log(c).Error("me: SMS not sent", "mobile_tag", p.otps.LogTag(mobile), "err", unsent.Err)
		msg := web.M("alert.send_failed")
		if errors.Is(unsent.Err, otp.ErrSenderBusy) {
			msg = web.M("alert.sender_busy")
			web.RetryAfter(c, otp.SenderBusyRetry*time.Second)
		}
		p.renderSignIn(c, http.StatusServiceUnavailable, web.MeSignInPage{Mobile: raw, Error: msg})
		return
	default:
		p.serverError(c, err)
		return
	}
	p.log(c).Info("me: OTP sent", "mobile_tag", p.otps.LogTag(mobile))
	p.setCookie(c, SignInCookie, cookie, int(p.cfg.SignInTTL/time.Second))
	c.Redirect(http.StatusSeeOther, pathCode)
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
	case m == "wrong":
		// The tries left are the server's count, never the URL's.
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

// truncate cuts s to at most n characters, for echoing input into a form.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
