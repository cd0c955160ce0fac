package consent

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleOTP checks the code. Right: the person is verified, and when the
// registry has them under this name the challenge is approved and the
// session started, all in one transaction. Wrong: the try is counted (and
// the challenge dies at OTPMaxTries).
func (f *Flow) handleOTP(c *gin.Context) {
	// A code typed in the person's own digits (१२३४५६) is the same code.
	code := locale.ASCIIDigits(strings.TrimSpace(c.PostForm("otp")))
	if !isOTP(code) {
		lr, ok := f.load(c, store.LoginOTPSent)
		if !ok {
			return
		}
		if client, ok := f.clientName(c, lr); ok {
			f.renderOTP(c, http.StatusBadRequest, lr, client, web.Msg{}, msgBadOTP)
		}
		return
	}
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	var seen store.LoginRequest
	lr, cookie, err := f.conclude(c, ch, now, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginOTPSent); err != nil {
			return err
		}
		s := loginOTP(r)
		err := f.otps.Verify(&s, r.ID, code, now)
		switch {
		case errors.Is(err, otp.ErrExpired):
			seen = *r
			return err
		case errors.Is(err, otp.ErrTooManyTries):
			setLoginOTP(r, s)
			r.State = store.LoginDead
			return &store.KeepChanges{Err: err}
		case err != nil:
			setLoginOTP(r, s)
			return &store.KeepChanges{Err: err}
		}
		setLoginOTP(r, s)
		authTime := now
		r.State = store.LoginVerified
		r.AuthTime = &authTime
		return nil
	})
	if lr != nil {
		f.usePage(c, lr)
	}
	switch {
	case err == nil:
		f.finish(c, lr, cookie)
	case errors.Is(err, otp.ErrExpired):
		f.renderOTPFor(c, &seen, http.StatusBadRequest, msgOTPExpired)
	case errors.Is(err, otp.ErrWrong):
		f.log(c).Info("consent: wrong code", "client_id", lr.ClientID, "tries", lr.OTPTries)
		f.renderOTPFor(c, lr, http.StatusBadRequest, f.wrongOTPMessage(lr))
	case errors.Is(err, otp.ErrTooManyTries):
		f.log(c).Warn("consent: too many wrong codes, challenge dead", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
		f.replyStep(c, &stepError{challenge: lr.ID, state: lr.State})
	default:
		f.replyMatch(c, lr, err)
	}
}

// renderOTPFor renders the OTP page for lr with an error, reading the
// client's name.
func (f *Flow) renderOTPFor(c *gin.Context, lr *store.LoginRequest, status int, msg web.Msg) {
	if client, ok := f.clientName(c, lr); ok {
		f.renderOTP(c, status, lr, client, web.Msg{}, msg)
	}
}

func (f *Flow) wrongOTPMessage(lr *store.LoginRequest) web.Msg {
	if f.otps.MaxTries() <= 0 {
		return web.M("alert.wrong_otp")
	}
	return web.M("alert.wrong_otp_left", "Count", f.otps.MaxTries()-lr.OTPTries)
}

// isOTP reports whether s is exactly six ASCII digits.
func isOTP(s string) bool {
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
