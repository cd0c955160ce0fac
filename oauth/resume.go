package oauth

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleResume finishes an authorization once the sign-in flow has approved
// or denied its login request.
func (p *Provider) handleResume(c *gin.Context) {
	ctx := c.Request.Context()
	lr, err := p.st.GetLoginRequest(ctx, c.Param("challenge"))
	if errors.Is(err, store.ErrNotFound) {
		web.RenderError(c, http.StatusNotFound, "expired")
		return
	}
	if err != nil {
		p.renderStoreError(c, err)
		return
	}
	now := p.cfg.Now()
	switch {
	case lr.State == store.LoginUsed:
		web.RenderError(c, http.StatusConflict, "already_complete")
		return
	case lr.State == store.LoginDead || (now.After(lr.ExpiresAt) && lr.State != store.LoginDenied):
		// A denial is answered even after the sign-in expired: "Back to
		// {verifier}" on the expired page denies it, and the relying party
		// must still learn the outcome.
		web.RenderError(c, http.StatusGone, "expired")
		return
	case lr.State != store.LoginApproved && lr.State != store.LoginDenied:
		c.Redirect(http.StatusSeeOther, p.cfg.LoginURL(lr.ID))
		return
	}
	// The code goes only to the browser that approved: a challenge seen in
	// a log or a shared link cannot be finished elsewhere.
	var sess *store.Session
	if lr.State == store.LoginApproved && lr.SessionID != "" {
		sess, err = p.sessions.CurrentSession(c.Request)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			p.renderStoreError(c, err)
			return
		}
		if sess == nil || sess.ID != lr.SessionID {
			web.RenderError(c, http.StatusForbidden, "other_browser")
			return
		}
	}
	// Replay the validated request: fosite checks the client and redirect
	// URI again (a client disabled meanwhile gets nothing).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, PathAuth+"?"+lr.Form, nil)
	if err != nil {
		web.RenderError(c, http.StatusBadRequest, "link_unreadable")
		return
	}
	ar, err := p.oauth2.NewAuthorizeRequest(ctx, req)
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	if lr.State == store.LoginDenied {
		if _, err := p.st.UpdateLoginRequest(ctx, lr.ID, func(l *store.LoginRequest) error {
			if l.State != store.LoginDenied {
				return store.ErrConflict
			}
			l.State = store.LoginUsed
			return nil
		}); err != nil {
			if errors.Is(err, store.ErrConflict) {
				web.RenderError(c, http.StatusConflict, "already_complete")
				return
			}
			p.writeAuthorizeError(c, ar, err)
			return
		}
		p.writeAuthorizeError(c, ar, fosite.ErrAccessDenied.WithHint(denialHint(lr.DenyReason)))
		return
	}
	client := ar.GetClient().(*Client)
	plan, err := approvedPlan(lr, ar, client, p.cfg.Assurance.TrustFramework)
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	var authTime time.Time
	if lr.AuthTime != nil {
		authTime = *lr.AuthTime
	}
	p.finish(c, ar, client, plan, approval{
		BeneficiaryID: lr.BeneficiaryID,
		AuthTime:      authTime,
		RequestedAt:   lr.CreatedAt,
		LoginRequest:  lr.ID,
		Session:       sess,
	})
}

// denialHint is the error_description's words for why a sign-in was
// denied. One answer for "declined" and "no record": the client learns
// nothing about whether the person is registered.
func denialHint(reason string) string {
	switch reason {
	case store.DenyExpired:
		return "The sign-in expired before the person finished it."
	case store.DenyLocked:
		return "The sign-in was stopped after too many wrong codes."
	}
	return "The person did not share their vaccination status."
}
