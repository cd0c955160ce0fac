package consent

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/http"
	"strings"
	"time"

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
	now := f.now()
	if wait := f.limitWait(c, lr, now); wait > 0 {
		// A code refused by a send limit: the page says so for as long
		// as the limit holds (429 and Retry-After for programs).
		web.RetryAfter(c, wait)
		f.renderEnd(c, http.StatusTooManyRequests, "too_many_codes", lr.ID, lr.ClientID)
		return
	}
	notice, msg := f.pageMessages(c, lr, now)
	status := http.StatusOK
	if fieldOf(msg) == "mobile" || fieldOf(msg) == "name" {
		status = http.StatusBadRequest // the form's own input was refused
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
		// What the person gave before an SMS failed or "Change mobile or
		// name", else the relying party's hint.
		mobile, name := lr.Mobile, lr.Name
		if mobile == "" && msg.ID == "" {
			var err error
			if mobile, err = claims.NormalizeMobile(lr.LoginHint); err != nil {
				mobile = "" // a hint that is not a mobile number pre-fills nothing
			}
		}
		f.renderLogin(c, status, lr, client, mobile, name, msg)
	case store.LoginOTPSent:
		f.renderOTP(c, http.StatusOK, lr, client, notice, msg)
	case store.LoginVerified:
		if c.Query("m") == outcomeRegistry {
			// The registry did not answer the last try: the page says so
			// (503 and Retry-After for programs) and its form tries again.
			web.RetryAfter(c, web.OutageRetryAfter)
			f.renderNoMatch(c, http.StatusServiceUnavailable, lr, client, lr.Name, true, web.Msg{})
			return
		}
		f.renderNoMatch(c, status, lr, client, lr.Name, false, msg)
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
	rawMobile := web.Truncate(c.PostForm("mobile"), 64)
	name := strings.TrimSpace(c.PostForm("name"))
	mobile, err := claims.NormalizeMobile(rawMobile)
	switch {
	case err != nil:
		f.refuseTyped(c, lr, rawMobile, name, outcomeBadMobile)
	case !otp.ValidName(name):
		f.refuseTyped(c, lr, rawMobile, name, outcomeBadName)
	default:
		f.send(c, lr, client, mobile, name)
	}
}

// refuseTyped answers a first form whose mobile or name is refused:
// what was typed is kept with the challenge (never in the URL) and the
// form's page shows it again with the error (outcome m), so a reload
// re-submits nothing. A form sent back from the code page (the Back
// button) voids that code, as "Change mobile or name" does: the person
// is at the first form again.
func (f *Flow) refuseTyped(c *gin.Context, lr *store.LoginRequest, mobile, name, m string) {
	now := f.now()
	_, err := f.st.UpdateLoginRequestFrom(c.Request.Context(), lr, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginPending, store.LoginOTPSent); err != nil {
			return err
		}
		if r.State == store.LoginOTPSent {
			r.State = store.LoginPending
			r.OTPHash = nil
			r.ForceLogin = true
		}
		r.Mobile, r.Name = web.Printable(mobile), web.Printable(web.Truncate(name, otp.MaxNameLen))
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, f.pageWith(lr.ID, m))
}

// limitWait is how long the send limit that refused lr's last code still
// holds, when c's page asks to show it (outcomeLimit); 0 otherwise.
func (f *Flow) limitWait(c *gin.Context, lr *store.LoginRequest, now time.Time) time.Duration {
	if c.Query("m") != outcomeLimit || lr.LimitedUntil == nil || lr.State == store.LoginVerified {
		return 0
	}
	return max(lr.LimitedUntil.Sub(now), 0)
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

// handleChange is "Change mobile or name" on the code page: the challenge
// goes back to the first form, pre-filled, without declining. The code
// sent is voided (no one can use it any more) and nothing is charged: the
// limits count only the codes already sent, and the next code is charged
// when the person asks for it. A session on this browser does not take
// over: the person asked to type a mobile and name.
func (f *Flow) handleChange(c *gin.Context) {
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	_, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginOTPSent); err != nil {
			return err
		}
		r.State = store.LoginPending
		r.OTPHash = nil
		r.ForceLogin = true
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, f.path(ch, ""))
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
		f.tooSoon(c, lr.ID, wait)
		return
	}
	resend := lr.State == store.LoginOTPSent
	var before, seen store.LoginRequest
	var written *store.LoginRequest
	err := f.otps.Issue(ctx, otp.Request{
		Binding:  lr.ID,
		Mobile:   mobile,
		ClientIP: c.ClientIP(),
		Client:   lr.ClientID,
		Entity:   client,
		Notice:   otp.NoticeSignIn,
		Lang:     web.Language(c),
		Save: func(ctx context.Context, s otp.State) error {
			// lr was read by this request: one conditional UPDATE when
			// nobody wrote the challenge since.
			var err error
			written, err = f.st.UpdateLoginRequestFrom(ctx, lr, func(r *store.LoginRequest) error {
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
		f.refuseLimited(c, lr.ID, mobile, name, now.Add(limited.RetryAfter))
		return
	case errors.Is(err, errTooSoon):
		f.tooSoon(c, lr.ID, f.resendWait(&seen, now))
		return
	case errors.As(err, &unsent):
		f.log(c).Error("consent: SMS not sent", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(mobile), "err", unsent.Err)
		m := outcomeUnsent
		if errors.Is(unsent.Err, otp.ErrSenderBusy) {
			m = outcomeBusy
			web.RetryAfter(c, otp.SenderBusyRetry*time.Second)
		}
		c.Redirect(http.StatusSeeOther, f.pageWith(lr.ID, m))
		return
	default:
		f.replyStep(c, err)
		return
	}
	f.log(c).Info("consent: OTP sent", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(mobile))
	// Post/Redirect/Get: reloading the OTP page does not send another code.
	m := ""
	if resend {
		m = outcomeSent
	}
	f.redirectAfter(c, written, m)
}

// refuseLimited answers a code a send limit refused: the challenge keeps
// until when the limit holds (and, at the first form, what was typed),
// and its page says so (outcomeLimit); Retry-After tells programs. The
// challenge stays at its step, so the code sent before, if any, works.
func (f *Flow) refuseLimited(c *gin.Context, ch, mobile, name string, until time.Time) {
	_, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
		if err := checkStep(r, f.now(), store.LoginPending, store.LoginOTPSent); err != nil {
			return err
		}
		if r.State == store.LoginPending {
			r.Mobile, r.Name = mobile, name
		}
		r.LimitedUntil = &until
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	web.RetryAfter(c, until.Sub(f.now()))
	c.Redirect(http.StatusSeeOther, f.pageWith(ch, outcomeLimit))
}

// tooSoon answers a code asked for before the resend wait is over: the
// code page, which shows the wait as the server counts it; Retry-After
// says it to programs.
func (f *Flow) tooSoon(c *gin.Context, challenge string, wait time.Duration) {
	web.RetryAfter(c, wait)
	c.Redirect(http.StatusSeeOther, f.pageWith(challenge, outcomeWait))
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
		if before.State != store.LoginPending {
			// The code sent before still works, for the mobile it went to.
			// Back at the first form, what the person typed stays in it.
			r.Mobile = before.Mobile
			r.Name = before.Name
		}
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
