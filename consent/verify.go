package consent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

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

// handleOTP checks the code. Right: the person is verified, and when the
// registry has them under this name the challenge is approved and the
// session started, all in one transaction. Wrong: the try is counted (and
// the challenge dies at OTPMaxTries).
func (f *Flow) handleOTP(c *gin.Context) {
	otp := strings.TrimSpace(c.PostForm("otp"))
	if !isOTP(otp) {
		lr, ok := f.load(c, store.LoginOTPSent)
		if !ok {
			return
		}
		if client, ok := f.clientName(c, lr); ok {
			f.renderOTP(c, http.StatusBadRequest, lr, client, "", msgBadOTP)
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
		err := f.otps.Verify(&s, r.ID, otp, now)
		switch {
		case errors.Is(err, ErrOTPExpired):
			seen = *r
			return err
		case errors.Is(err, ErrOTPTooManyTries):
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
	switch {
	case err == nil:
		f.finish(c, lr, cookie)
	case errors.Is(err, ErrOTPExpired):
		f.renderOTPFor(c, &seen, http.StatusBadRequest, msgOTPExpired)
	case errors.Is(err, ErrOTPWrong):
		f.log(c).Info("consent: wrong code", "client_id", lr.ClientID, "tries", lr.OTPTries)
		f.renderOTPFor(c, lr, http.StatusBadRequest, f.wrongOTPMessage(lr))
	case errors.Is(err, ErrOTPTooManyTries):
		f.log(c).Warn("consent: too many wrong codes, challenge dead", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
		f.replyStep(c, &stepError{challenge: lr.ID, state: lr.State})
	default:
		f.replyMatch(c, lr, err)
	}
}

// handleName retries the registry with a corrected name after a valid
// OTP; no new code is needed.
func (f *Flow) handleName(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("name"))
	if !validName(name) {
		lr, ok := f.load(c, store.LoginVerified)
		if !ok {
			return
		}
		if client, ok := f.clientName(c, lr); ok {
			f.renderNoMatch(c, http.StatusBadRequest, lr, client, truncate(name, maxNameLen), false, msgBadName)
		}
		return
	}
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	lr, cookie, err := f.conclude(c, ch, now, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginVerified); err != nil {
			return err
		}
		r.Name = name
		return nil
	})
	if err == nil {
		f.finish(c, lr, cookie)
		return
	}
	f.replyMatch(c, lr, err)
}

// replyMatch answers the outcomes conclude shares between handleOTP and
// handleName: no match or registry unreadable (lr is then the verified
// challenge, with the name tried), or a step or store error (lr is nil).
func (f *Flow) replyMatch(c *gin.Context, lr *store.LoginRequest, err error) {
	var regErr *registryError
	switch {
	case errors.Is(err, errNoMatch):
		f.log(c).Info("consent: no registry match", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
		if client, ok := f.clientName(c, lr); ok {
			f.renderNoMatch(c, http.StatusOK, lr, client, lr.Name, false, "")
		}
	case errors.As(err, &regErr):
		f.log(c).Error("consent: registry unreadable", "client_id", lr.ClientID, "err", regErr.err)
		if client, ok := f.clientName(c, lr); ok {
			f.renderNoMatch(c, http.StatusServiceUnavailable, lr, client, lr.Name, true, "")
		}
	default:
		f.replyStep(c, err)
	}
}

// conclude runs one verification step and its consequences in a single
// transaction: step checks and changes the locked challenge; when it
// returns nil the registry is asked for the beneficiary, and on a match
// the challenge is approved and a new session created (replacing this
// browser's old one). It returns the challenge as written and the new
// session's cookie value; the error is step's (nothing written, the
// challenge nil unless step kept its changes with store.KeepChanges),
// errNoMatch or a *registryError (the challenge stays verified), or a store
// error.
func (f *Flow) conclude(c *gin.Context, challenge string, now time.Time, step func(*store.LoginRequest) error) (*store.LoginRequest, string, error) {
	cookie, sessID, err := f.newSessionToken()
	if err != nil {
		return nil, "", fmt.Errorf("consent: session randomness: %w", err)
	}
	oldID, hadOld := sessionIDFromRequest(c.Request)
	var lr *store.LoginRequest
	var outcome error
	err = f.st.InTx(c.Request.Context(), func(ctx context.Context) error {
		var b *store.Beneficiary
		var err error
		lr, err = f.st.UpdateLoginRequest(ctx, challenge, func(r *store.LoginRequest) error {
			if err := step(r); err != nil {
				return err
			}
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
		})
		switch {
		case lr == nil:
			return err // nothing to write: roll back
		case err != nil:
			outcome = err // the step's changes are kept: commit them
			return nil
		}
		if hadOld {
			if err := f.st.DeleteSession(ctx, oldID); err != nil {
				return err
			}
		}
		return f.st.CreateSession(ctx, &store.Session{
			ID:            sessID,
			BeneficiaryID: b.ID,
			Mobile:        lr.Mobile,
			Name:          b.Name,
			AuthTime:      *lr.AuthTime,
			Grants:        store.Grants{lr.ClientID: union(nil, lr.Scopes)},
			CreatedAt:     now,
			ExpiresAt:     now.Add(f.cfg.SessionTTL),
		})
	})
	if err != nil {
		return nil, "", err
	}
	if outcome != nil {
		return lr, "", outcome
	}
	return lr, cookie, nil
}

// handleCancel declines: the challenge is denied ("no_record" when the
// person gives up after no match, else "cancelled") and the browser goes
// to the finish URL, where oauth sends the client access_denied.
func (f *Flow) handleCancel(c *gin.Context) {
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	lr, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginPending, store.LoginOTPSent, store.LoginVerified); err != nil {
			return err
		}
		deny(r)
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	f.log(c).Info("consent: declined", "client_id", lr.ClientID, "reason", lr.DenyReason)
	c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(lr.ID))
}

// deny moves r to denied, with why.
func deny(r *store.LoginRequest) {
	r.DenyReason = "cancelled"
	if r.State == store.LoginVerified {
		r.DenyReason = "no_record"
	}
	r.State = store.LoginDenied
	r.OTPHash = nil
}

// handleConsent is the signed-in person's Share / Don't share. Share
// approves the challenge for the session's beneficiary and adds the
// scopes to the session's grants for this client, in one transaction.
// Without a valid session (it ended, or the challenge needs a new sign-in)
// the browser goes back to the challenge's page, which asks for the mobile.
func (f *Flow) handleConsent(c *gin.Context) {
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	now := f.now()
	switch c.PostForm("decision") {
	case "deny":
		lr, err := f.st.UpdateLoginRequest(ctx, ch, func(r *store.LoginRequest) error {
			if err := checkStep(r, now, store.LoginPending); err != nil {
				return err
			}
			deny(r)
			return nil
		})
		if err != nil {
			f.replyStep(c, err)
			return
		}
		f.log(c).Info("consent: declined", "client_id", lr.ClientID, "reason", lr.DenyReason)
		c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(lr.ID))
		return
	case "share":
	default:
		web.RenderError(c, http.StatusBadRequest, "Choose Share or Don't share", "Go back and choose Share or Don't share.")
		return
	}

	sess, err := f.CurrentSession(c.Request)
	if errors.Is(err, store.ErrNotFound) {
		c.Redirect(http.StatusSeeOther, f.path(ch, ""))
		return
	}
	if err != nil {
		f.serverError(c, err)
		return
	}
	var lr *store.LoginRequest
	err = f.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		lr, err = f.st.UpdateLoginRequest(ctx, ch, func(r *store.LoginRequest) error {
			if err := checkStep(r, now, store.LoginPending); err != nil {
				return err
			}
			if r.ForceLogin {
				return &stepError{challenge: r.ID, state: r.State}
			}
			authTime := sess.AuthTime
			r.State = store.LoginApproved
			r.BeneficiaryID = sess.BeneficiaryID
			r.AuthTime = &authTime
			r.SessionID = sess.ID
			r.Mobile = sess.Mobile
			r.Name = sess.Name
			return nil
		})
		if err != nil {
			return err
		}
		_, err = f.st.UpdateSession(ctx, sess.ID, func(s *store.Session) error {
			if !now.Before(s.ExpiresAt) {
				return errSessionEnded
			}
			if s.Grants == nil {
				s.Grants = store.Grants{}
			}
			s.Grants[lr.ClientID] = union(s.Grants[lr.ClientID], lr.Scopes)
			return nil
		})
		return err
	})
	switch {
	case err == nil:
		f.finish(c, lr, "")
	case errors.Is(err, errSessionEnded), errors.Is(err, store.ErrNotFound) && lr != nil:
		// The session ended between the read and the write; nothing was
		// approved (rolled back).
		c.Redirect(http.StatusSeeOther, f.path(ch, ""))
	default:
		f.replyStep(c, err)
	}
}

// finish sends the browser to oauth once a challenge is approved, with
// the new session's cookie when one was started.
func (f *Flow) finish(c *gin.Context, lr *store.LoginRequest, cookie string) {
	if cookie != "" {
		http.SetCookie(c.Writer, f.sessionCookie(cookie, int(f.cfg.SessionTTL/time.Second)))
	}
	f.log(c).Info("consent: approved", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
	c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(lr.ID))
}

// renderOTPFor renders the OTP page for lr with an error, reading the
// client's name.
func (f *Flow) renderOTPFor(c *gin.Context, lr *store.LoginRequest, status int, msg string) {
	if client, ok := f.clientName(c, lr); ok {
		f.renderOTP(c, status, lr, client, "", msg)
	}
}

func (f *Flow) wrongOTPMessage(lr *store.LoginRequest) string {
	if f.cfg.OTPMaxTries <= 0 {
		return "That code is not right. Check the SMS and try again."
	}
	left := f.cfg.OTPMaxTries - lr.OTPTries
	if left == 1 {
		return "That code is not right. You have 1 try left."
	}
	return fmt.Sprintf("That code is not right. You have %d tries left.", left)
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

// union returns have with every scope of add it lacks appended, in order.
func union(have, add store.StringList) store.StringList {
	out := append(store.StringList{}, have...)
	for _, s := range add {
		if !out.Contains(s) {
			out = append(out, s)
		}
	}
	return out
}
