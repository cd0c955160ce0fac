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
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	if !otp.ValidName(name) {
		// Kept with the challenge, shown again by its page (outcome
		// "name"), so a reload re-submits nothing.
		_, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
			if err := checkStep(r, now, store.LoginVerified); err != nil {
				return err
			}
			r.Name = web.Printable(web.Truncate(name, otp.MaxNameLen))
			return nil
		})
		if err != nil {
			f.replyStep(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, f.pageWith(ch, outcomeBadName))
		return
	}
	lr, done, err := f.conclude(c, ch, now, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginVerified); err != nil {
			return err
		}
		r.Name = name
		return nil
	})
	if err == nil {
		f.finish(c, lr, done)
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
		// The page says so, as every outage, with the form that tries
		// again (503, and Retry-After for programs).
		f.log(c).Error("consent: registry unreadable", "client_id", lr.ClientID, "err", regErr.err)
		web.RetryAfter(c, web.OutageRetryAfter)
		c.Redirect(http.StatusSeeOther, f.pageWith(lr.ID, outcomeRegistry))
	default:
		f.replyStep(c, err)
	}
}
