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
