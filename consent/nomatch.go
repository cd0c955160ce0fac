package consent

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleName retries the registry with a corrected name after a valid
// OTP; no new code is needed.
func (f *Flow) handleName(c *gin.Context) {
	name := strings.TrimSpace(c.PostForm("name"))
	if !otp.ValidName(name) {
		lr, ok := f.load(c, store.LoginVerified)
		if !ok {
			return
		}
		if client, ok := f.clientName(c, lr); ok {
			f.renderNoMatch(c, http.StatusBadRequest, lr, client, truncate(name, otp.MaxNameLen), false, msgBadName)
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
		// The challenge's page is the "no match" form while it is verified.
		f.log(c).Info("consent: no registry match", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
		c.Redirect(http.StatusSeeOther, f.path(lr.ID, ""))
	case errors.As(err, &regErr):
		f.log(c).Error("consent: registry unreadable", "client_id", lr.ClientID, "err", regErr.err)
		if client, ok := f.clientName(c, lr); ok {
			f.renderNoMatch(c, http.StatusServiceUnavailable, lr, client, lr.Name, true, web.Msg{})
		}
	default:
		f.replyStep(c, err)
	}
}
