package consent

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
)

// handleOTP checks the code. Right: the person is verified, and when the
// registry has them under this name the challenge is approved and the
// session started, all in one transaction. Wrong: the try is counted (and
// the challenge dies at OTPMaxTries). Every other answer is a 303 to the
// challenge's page with an outcome code (pageMessages), so a reload shows
// the page again and never re-submits a code.
func (f *Flow) handleOTP(c *gin.Context) {
	// A code typed in the person's own digits (१२३४५६) is the same code.
	code := locale.ASCIIDigits(strings.TrimSpace(c.PostForm("otp")))
	if !isOTP(code) {
		if lr, ok := f.load(c, store.LoginOTPSent); ok {
			c.Redirect(http.StatusSeeOther, f.pageWith(lr.ID, outcomeFormat))
		}
		return
	}
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	lr, done, err := f.conclude(c, ch, now, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginOTPSent); err != nil {
			return err
		}
		s := loginOTP(r)
		err := f.otps.Verify(&s, r.ID, code, now)
		switch {
		case errors.Is(err, otp.ErrExpired):
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
		f.finish(c, lr, done)
	case errors.Is(err, otp.ErrExpired):
		c.Redirect(http.StatusSeeOther, f.pageWith(ch, outcomeExpired))
	case errors.Is(err, otp.ErrWrong):
		f.log(c).Info("consent: wrong code", "client_id", lr.ClientID, "tries", lr.OTPTries)
		c.Redirect(http.StatusSeeOther, f.pageWith(ch, outcomeWrong))
	case errors.Is(err, otp.ErrTooManyTries):
		// The page of a dead challenge says so and offers the way back.
		f.log(c).Warn("consent: too many wrong codes, challenge dead", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
		c.Redirect(http.StatusSeeOther, f.path(ch, ""))
	default:
		f.replyMatch(c, lr, err)
	}
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
