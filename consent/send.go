package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
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
		f.renderLogin(c, http.StatusOK, lr, client, mobile, "", "")
	case store.LoginOTPSent:
		f.renderOTP(c, http.StatusOK, lr, client, "", "")
	case store.LoginVerified:
		f.renderNoMatch(c, http.StatusOK, lr, client, lr.Name, false, "")
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
		f.renderLogin(c, http.StatusBadRequest, lr, client, rawMobile, truncate(name, maxNameLen), msgBadMobile)
		return
	}
	if !validName(name) {
		f.renderLogin(c, http.StatusBadRequest, lr, client, rawMobile, truncate(name, maxNameLen), msgBadName)
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

// send issues a new code for lr to mobile and answers the request: a
// redirect to the OTP page when the SMS went out.
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
	if f.resendWait(lr, now) > 0 {
		f.renderOTP(c, http.StatusTooManyRequests, lr, client, "", msgResendTooSoon)
		return
	}
	if err := f.st.RecordOTPSend(ctx, now, f.limits(c, mobile, now)...); err != nil {
		if errors.Is(err, store.ErrLimited) {
			f.log(c).Warn("consent: OTP send limit reached", "client_id", lr.ClientID, "mobile", claims.MaskMobile(mobile))
			web.RenderError(c, http.StatusTooManyRequests, "Too many codes", msgLimited)
			return
		}
		f.serverError(c, err)
		return
	}
	otp, err := f.newOTP()
	if err != nil {
		f.serverError(c, fmt.Errorf("consent: OTP randomness: %w", err))
		return
	}
	hash := f.otpHash(lr.ID, otp)
	expires := now.Add(f.cfg.OTPTTL)
	var before, seen store.LoginRequest
	_, err = f.st.UpdateLoginRequest(ctx, lr.ID, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginPending, store.LoginOTPSent); err != nil {
			return err
		}
		if f.resendWait(r, now) > 0 {
			seen = *r
			return errTooSoon
		}
		before = *r
		sentAt := now
		r.State = store.LoginOTPSent
		r.Mobile = mobile
		r.Name = name
		r.OTPHash = hash
		r.OTPSentAt = &sentAt
		r.OTPExpiresAt = &expires
		r.OTPTries = 0
		r.OTPSends++
		return nil
	})
	switch {
	case errors.Is(err, errTooSoon):
		f.renderOTP(c, http.StatusTooManyRequests, &seen, client, "", msgResendTooSoon)
		return
	case err != nil:
		f.replyStep(c, err)
		return
	}
	msg := SMS{To: mobile, Text: f.smsText(otp, client), SentAt: now}
	if err := f.sender.Send(ctx, msg); err != nil {
		f.log(c).Error("consent: SMS not sent", "client_id", lr.ClientID, "mobile", claims.MaskMobile(mobile), "err", err)
		f.unsend(c, lr.ID, hash, &before)
		if before.State == store.LoginOTPSent {
			f.renderOTP(c, http.StatusServiceUnavailable, &before, client, "", msgSendFailed)
		} else {
			f.renderLogin(c, http.StatusServiceUnavailable, lr, client, mobile, name, msgSendFailed)
		}
		return
	}
	f.log(c).Info("consent: OTP sent", "client_id", lr.ClientID, "mobile", claims.MaskMobile(mobile))
	// Post/Redirect/Get: reloading the OTP page does not send another code.
	c.Redirect(http.StatusSeeOther, f.path(lr.ID, ""))
}

// unsend puts the challenge back as it was before a code the sender could
// not deliver, unless something else changed it meanwhile. It runs even
// when the request was cancelled, so the challenge is never left blocked.
func (f *Flow) unsend(c *gin.Context, id string, hash []byte, before *store.LoginRequest) {
	ctx := context.WithoutCancel(c.Request.Context())
	_, err := f.st.UpdateLoginRequest(ctx, id, func(r *store.LoginRequest) error {
		if !hmac.Equal(r.OTPHash, hash) {
			return errMovedOn
		}
		r.State = before.State
		r.Mobile = before.Mobile
		r.Name = before.Name
		r.OTPHash = before.OTPHash
		r.OTPSentAt = before.OTPSentAt
		r.OTPExpiresAt = before.OTPExpiresAt
		r.OTPTries = before.OTPTries
		r.OTPSends = before.OTPSends
		return nil
	})
	if err != nil && !errors.Is(err, errMovedOn) {
		f.log(c).Error("consent: could not undo an unsent code", "err", err)
	}
}

var errMovedOn = errors.New("consent: challenge moved on")

// resendWait is how long until lr may get a new code; 0 when it may now.
func (f *Flow) resendWait(lr *store.LoginRequest, now time.Time) time.Duration {
	if f.cfg.ResendInterval <= 0 || lr.State != store.LoginOTPSent || lr.OTPSentAt == nil {
		return 0
	}
	return max(lr.OTPSentAt.Add(f.cfg.ResendInterval).Sub(now), 0)
}

// limits are the send limits charged for one code to mobile from this
// client: per IP (5 minutes) and per mobile (24 hours). The mobile is
// keyed by an HMAC, so the events table holds no phone numbers.
func (f *Flow) limits(c *gin.Context, mobile string, now time.Time) []store.Limit {
	var ls []store.Limit
	if f.cfg.IPLimit > 0 {
		ls = append(ls, store.Limit{Key: "ip:" + c.ClientIP(), Max: f.cfg.IPLimit, Since: now.Add(-ipLimitWindow)})
	}
	if f.cfg.DailyLimit > 0 {
		m := hmac.New(sha256.New, f.mobileKey)
		m.Write([]byte(mobile))
		ls = append(ls, store.Limit{Key: "mobile:" + hex.EncodeToString(m.Sum(nil)), Max: f.cfg.DailyLimit, Since: now.Add(-mobileLimitWindow)})
	}
	return ls
}

// newOTP returns 6 uniformly random digits. Values of 4 random bytes at
// or above the largest multiple of 10^6 are drawn again (rejection
// sampling), so no code is likelier than another.
func (f *Flow) newOTP() (string, error) {
	const n = 1_000_000
	const limit = (1 << 32) / n * n
	var b [4]byte
	for {
		if _, err := io.ReadFull(f.cfg.Rand, b[:]); err != nil {
			return "", err
		}
		if v := binary.BigEndian.Uint32(b[:]); v < limit {
			return fmt.Sprintf("%06d", v%n), nil
		}
	}
}

// otpHash is what is stored instead of the code: keyed by the server
// secret and bound to the challenge, so a database read reveals no code
// and a code cannot be replayed on another challenge.
func (f *Flow) otpHash(challenge, otp string) []byte {
	m := hmac.New(sha256.New, f.otpKey)
	m.Write([]byte(challenge + ":" + otp))
	return m.Sum(nil)
}

// smsText says what the code is for and that entering it is consent; the
// code comes first so phones offer it for autofill.
func (f *Flow) smsText(otp, client string) string {
	return fmt.Sprintf("%s is your code to share your vaccination status with %s via %s. Valid %s. Entering it gives consent.",
		otp, client, f.cfg.ServiceName, durationText(f.cfg.OTPTTL))
}

// durationText writes d for people: "3 minutes", "90 seconds".
func durationText(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "1 minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	default:
		return fmt.Sprintf("%d seconds", (d+time.Second-1)/time.Second)
	}
}

// validName accepts 1 to 100 characters of valid UTF-8 without control
// characters (already trimmed).
func validName(name string) bool {
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) {
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
