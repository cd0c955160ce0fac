package consent

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleShow renders the step the challenge is at: the consent screen for
// a signed-in person (unless a new sign-in is required), else the mobile
// and name form, the OTP form, or the "no match" form.
func (f *Flow) handleShow(c *gin.Context) {
	lr, ok := f.load(c, store.LoginPending, store.LoginOTPSent, store.LoginVerified)
	if !ok {
		return
	}
	client, ok := f.clientName(c, lr)
	if !ok {
		return
	}
	switch lr.State {
	case store.LoginPending:
		if !lr.ForceLogin {
			sess, err := f.CurrentSession(c.Request)
			switch {
			case err == nil:
				f.renderConsent(c, http.StatusOK, lr, client, sess)
				return
			case !errors.Is(err, store.ErrNotFound):
				f.serverError(c, err)
				return
			}
		}
		mobile, err := claims.NormalizeMobile(lr.LoginHint)
		if err != nil {
			mobile = "" // a hint that is not a mobile number pre-fills nothing
		}
		f.renderLogin(c, http.StatusOK, lr, client, mobile, "", web.Msg{})
	case store.LoginOTPSent:
		f.renderOTP(c, http.StatusOK, lr, client, web.Msg{}, web.Msg{})
	case store.LoginVerified:
		f.renderNoMatch(c, http.StatusOK, lr, client, lr.Name, false, web.Msg{})
	}
}

// handleStart takes the mobile and name and sends a code. It is also
// accepted at otp_sent (the Back button, or a corrected number), subject
// to the resend wait.
func (f *Flow) handleStart(c *gin.Context) {
	lr, ok := f.load(c, store.LoginPending, store.LoginOTPSent)
	if !ok {
		return
	}
	client, ok := f.clientName(c, lr)
	if !ok {
		return
	}
	rawMobile := truncate(c.PostForm("mobile"), 64)
	name := strings.TrimSpace(c.PostForm("name"))
	mobile, err := claims.NormalizeMobile(rawMobile)
	if err != nil {
		f.renderLogin(c, http.StatusBadRequest, lr, client, rawMobile, truncate(name, otp.MaxNameLen), msgBadMobile)
		return
	}
	if !otp.ValidName(name) {
		f.renderLogin(c, http.StatusBadRequest, lr, client, rawMobile, truncate(name, otp.MaxNameLen), msgBadName)
		return
	}
	f.send(c, lr, client, mobile, name)
}

// handleResend sends a new code to the mobile and name already given.
func (f *Flow) handleResend(c *gin.Context) {
	lr, ok := f.load(c, store.LoginOTPSent)
	if !ok {
		return
	}
	client, ok := f.clientName(c, lr)
	if !ok {
		return
	}
	f.send(c, lr, client, lr.Mobile, lr.Name)
}

// errTooSoon: a code was sent less than ResendInterval ago.
var errTooSoon = errors.New("consent: resend too soon")

// send issues a new code for lr to mobile through the shared OTP service
// and answers the request: a redirect to the OTP page when the SMS went
// out.
//
// It never reads the registry: the answer is the same, in content and in
// timing, whether the mobile is registered or not (no enumeration). The
// limits are charged before the code is stored; the resend wait is
// checked before that (so a refused resend costs nothing) and again on the
// locked row. When the sender fails, the challenge is put back as it was,
// so the previous code (if any) still works and no wait is imposed.
func (f *Flow) send(c *gin.Context, lr *store.LoginRequest, client, mobile, name string) {
	ctx := c.Request.Context()
	now := f.now()
	if wait := f.resendWait(lr, now); wait > 0 {
		web.RetryAfter(c, wait)
		f.renderOTP(c, http.StatusTooManyRequests, lr, client, web.Msg{}, msgResendTooSoon)
		return
	}
	var before, seen store.LoginRequest
	err := f.otps.Issue(ctx, otp.Request{
		Binding:  lr.ID,
		Mobile:   mobile,
		ClientIP: c.ClientIP(),
		Client:   lr.ClientID,
		Entity:   client,
		Notice:   otp.NoticeSignIn,
		Lang:     web.Language(c),
		Save: func(ctx context.Context, s otp.State) error {
			_, err := f.st.UpdateLoginRequest(ctx, lr.ID, func(r *store.LoginRequest) error {
				if err := checkStep(r, now, store.LoginPending, store.LoginOTPSent); err != nil {
					return err
				}
				if f.resendWait(r, now) > 0 {
					seen = *r
					return errTooSoon
				}
				before = *r
				r.State = store.LoginOTPSent
				r.Mobile = mobile
				r.Name = name
				setLoginOTP(r, s)
				r.OTPSends++
				return nil
			})
			return err
		},
		Undo: func(ctx context.Context, s otp.State) { f.unsend(ctx, c, lr.ID, s.Hash, &before) },
	})
	var limited *otp.LimitError
	var unsent *otp.SendError
	switch {
	case err == nil:
	case errors.As(err, &limited):
		f.log(c).Warn("consent: OTP send limit reached", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(mobile), "limit", limited.Limit)
		web.RetryAfter(c, limited.RetryAfter)
		web.RenderError(c, http.StatusTooManyRequests, "too_many_codes")
		return
	case errors.Is(err, errTooSoon):
		web.RetryAfter(c, f.resendWait(&seen, now))
		f.renderOTP(c, http.StatusTooManyRequests, &seen, client, web.Msg{}, msgResendTooSoon)
		return
	case errors.As(err, &unsent):
		f.log(c).Error("consent: SMS not sent", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(mobile), "err", unsent.Err)
		msg := msgSendFailed
		if errors.Is(unsent.Err, otp.ErrSenderBusy) {
			msg = msgSenderBusy
			web.RetryAfter(c, otp.SenderBusyRetry*time.Second)
		}
		if before.State == store.LoginOTPSent {
			f.renderOTP(c, http.StatusServiceUnavailable, &before, client, web.Msg{}, msg)
		} else {
			f.renderLogin(c, http.StatusServiceUnavailable, lr, client, mobile, name, msg)
		}
		return
	default:
		f.replyStep(c, err)
		return
	}
	f.log(c).Info("consent: OTP sent", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(mobile))
	// Post/Redirect/Get: reloading the OTP page does not send another code.
	c.Redirect(http.StatusSeeOther, f.path(lr.ID, ""))
}

// loginOTP is the code state a login request holds.
func loginOTP(r *store.LoginRequest) otp.State {
	return otp.State{Hash: r.OTPHash, SentAt: r.OTPSentAt, ExpiresAt: r.OTPExpiresAt, Tries: r.OTPTries}
}

// setLoginOTP writes a code state into a login request.
func setLoginOTP(r *store.LoginRequest, s otp.State) {
	r.OTPHash, r.OTPSentAt, r.OTPExpiresAt, r.OTPTries = s.Hash, s.SentAt, s.ExpiresAt, s.Tries
}

// unsend puts the challenge back as it was before a code the sender could
// not deliver, unless something else changed it meanwhile. ctx is not
// cancelled with the request, so the challenge is never left blocked.
func (f *Flow) unsend(ctx context.Context, c *gin.Context, id string, hash []byte, before *store.LoginRequest) {
	_, err := f.st.UpdateLoginRequest(ctx, id, func(r *store.LoginRequest) error {
		if !hmac.Equal(r.OTPHash, hash) {
			return errMovedOn
		}
		r.State = before.State
		r.Mobile = before.Mobile
		r.Name = before.Name
		setLoginOTP(r, loginOTP(before))
		r.OTPSends = before.OTPSends
		return nil
	})
	if err != nil && !errors.Is(err, errMovedOn) {
		f.log(c).Error("consent: could not undo an unsent code", "err", err)
	}
}

var errMovedOn = errors.New("consent: challenge moved on")

// resendWait is how long until lr may get a new code; 0 when it may now.
// The wait is per challenge: it applies once a code was sent for it.
func (f *Flow) resendWait(lr *store.LoginRequest, now time.Time) time.Duration {
	if lr.State != store.LoginOTPSent {
		return 0
	}
	return f.otps.ResendWait(loginOTP(lr), now)
}

// truncate cuts s to at most n characters, for echoing input into a form.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
