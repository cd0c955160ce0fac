package consent

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

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
	switch c.PostForm("decision") {
	case "deny":
		f.decline(c, ch)
	case "share":
		f.share(c, ch)
	default:
		web.RenderError(c, http.StatusBadRequest, "choose")
	}
}

// decline is Don't share: the pending challenge is denied and the browser
// goes to oauth, which tells the client.
func (f *Flow) decline(c *gin.Context, ch string) {
	now := f.now()
	lr, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
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
}

// share is Share: the challenge is approved for the session's person.
func (f *Flow) share(c *gin.Context, ch string) {
	sess, err := f.CurrentSession(c.Request)
	if errors.Is(err, store.ErrNotFound) {
		c.Redirect(http.StatusSeeOther, f.path(ch, ""))
		return
	}
	if err != nil {
		f.serverError(c, err)
		return
	}
	lr, err := f.approveForSession(c.Request.Context(), ch, sess, f.now())
	switch {
	case err == nil:
		f.finish(c, lr, approved{})
	case errors.Is(err, errSessionEnded), errors.Is(err, store.ErrNotFound) && lr != nil:
		// The session ended between the read and the write; nothing was
		// approved (rolled back).
		c.Redirect(http.StatusSeeOther, f.path(ch, ""))
	default:
		f.replyStep(c, err)
	}
}

// approveForSession approves the pending challenge ch for sess's
// beneficiary (unless it needs a new sign-in) and adds its scopes to the
// session's grants for the client, in one transaction. It returns the
// challenge as written; errSessionEnded, or store.ErrNotFound with the
// challenge, when the session ended meanwhile (nothing written); a
// *stepError or a store error otherwise.
func (f *Flow) approveForSession(ctx context.Context, ch string, sess *store.Session, now time.Time) (*store.LoginRequest, error) {
	var lr *store.LoginRequest
	err := f.st.InTx(ctx, func(ctx context.Context) error {
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
	return lr, err
}

// handleSwitch is "Not you? Use another mobile or name" on the one-tap
// screen: the challenge stays pending but now needs a new sign-in, so the
// page asks for a mobile and name. Nothing is declined and no code is
// sent; the session of the person who was signed in is replaced only once
// the new person's code is right.
func (f *Flow) handleSwitch(c *gin.Context) {
	ch, ok := f.challengeParam(c)
	if !ok {
		return
	}
	now := f.now()
	_, err := f.st.UpdateLoginRequest(c.Request.Context(), ch, func(r *store.LoginRequest) error {
		if err := checkStep(r, now, store.LoginPending); err != nil {
			return err
		}
		r.ForceLogin = true
		return nil
	})
	if err != nil {
		f.replyStep(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, f.path(ch, ""))
}

// finish answers the relying party once a challenge is approved, with the
// new session's cookie when one was started: the answer written with the
// approval, or a redirect to oauth's FinishURL.
func (f *Flow) finish(c *gin.Context, lr *store.LoginRequest, a approved) {
	if a.cookie != "" {
		http.SetCookie(c.Writer, f.sessionCookie(a.cookie, int(f.cfg.SessionTTL/time.Second)))
	}
	f.log(c).Info("consent: approved", "client_id", lr.ClientID, "mobile_tag", f.otps.LogTag(lr.Mobile))
	if a.answer != nil {
		a.answer()
		return
	}
	c.Redirect(http.StatusSeeOther, f.cfg.FinishURL(lr.ID))
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
