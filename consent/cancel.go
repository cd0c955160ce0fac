package consent

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

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
	r.DenyReason = store.DenyCancelled
	if r.State == store.LoginVerified {
		r.DenyReason = store.DenyNoRecord
	}
	r.State = store.LoginDenied
	r.OTPHash = nil
}

// handleBack is "Back to {verifier}" on a page that ends a sign-in: the
// challenge expired, died of too many wrong codes, or sent too many codes.
// It is answered even after the challenge expired (the row is kept for
// store.LoginRequestKeep past it): the challenge is denied with why, and
// oauth sends the client access_denied with the state and iss at the
// redirect URI it validated. A challenge already answered goes to the
// finish URL, a used one gets the "complete" page, an unknown one the
// "link not valid" page, which offers nothing that redirects.
func (f *Flow) handleBack(c *gin.Context) {
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	lr, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
		switch r.State {
		case store.LoginApproved, store.LoginDenied, store.LoginUsed:
			return &stepError{challenge: r.ID, clientID: r.ClientID, state: r.State}
		case store.LoginDead:
			r.DenyReason = store.DenyLocked
		default:
			deny(r)
			if !now.Before(r.ExpiresAt) {
				r.DenyReason = store.DenyExpired
			}
		}
		r.State = store.LoginDenied
		r.OTPHash = nil
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	f.log(c).Info("consent: back to the client", "client_id", lr.ClientID, "reason", lr.DenyReason)
	c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(lr.ID))
}
