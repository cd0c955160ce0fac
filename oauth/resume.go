package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleResume finishes an authorization once the sign-in flow has approved
// or denied its login request.
func (p *Provider) handleResume(c *gin.Context) {
	lr, sess, b, ok := p.finishedLogin(c)
	if !ok {
		return
	}
	ar, refused := p.replay(c, lr)
	if refused != nil {
		refused()
		return
	}
	if lr.State == store.LoginDenied {
		p.answerDenial(c, ar, lr)
		return
	}
	client := ar.GetClient().(*Client)
	plan, err := approvedPlan(lr, ar, client, p.cfg.Assurance.TrustFramework)
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	p.finish(c, ar, client, plan, approvalOf(lr, sess, b))
}

// PrepareApproved works out the answer to the client in the request that
// approves lr (a right code), so the browser goes straight back to the
// relying party instead of through the resume URL, and the code is
// written with the approval: one request and two round trips fewer for
// every verification. lr is the login request as about to be written,
// approved; client its client as read in the same request (nil to read
// it); sess the browser session it is approved in; b the person as the
// sign-in matched them, with doses. It adds to w the writes of issue and
// returns the answer to write once w has landed with the approval. When
// no code can be issued (a client disabled meanwhile, a replay that
// disagrees with the stored plan) it adds nothing and the answer is the
// error, as the resume's would be. It returns false, having added
// nothing, when the answer would be a page (response_mode=form_post) or
// the person is not at hand: the caller then sends the browser to
// ResumeURL, so the form it answers is still answered by a redirect.
//
// The checks of the resume hold as they are: the stored request is
// replayed through fosite, the stored plan is released, and the request
// moves from approved to used with the code's rows. The browser is the
// one that approved: it is this request's.
func (p *Provider) PrepareApproved(c *gin.Context, w *store.Writes, lr *store.LoginRequest, client *store.Client, sess *store.Session, b *store.Beneficiary) (answer func(), ok bool) {
	form, err := url.ParseQuery(lr.Form)
	if err != nil || b == nil || fosite.ResponseModeType(form.Get("response_mode")) == fosite.ResponseModeFormPost {
		return nil, false
	}
	ctx := withClientMemo(c.Request.Context())
	rememberClient(ctx, client)
	c.Request = c.Request.WithContext(ctx)
	ar, refused := p.replay(c, lr)
	if refused != nil {
		return refused, true
	}
	cl := ar.GetClient().(*Client)
	plan, err := approvedPlan(lr, ar, cl, p.cfg.Assurance.TrustFramework)
	if err != nil {
		return func() { p.writeAuthorizeError(c, ar, err) }, true
	}
	return p.issue(c, w, ar, cl, plan, approvalOf(lr, sess, b)), true
}

// approvalOf is the approval of the approved lr, in browser session sess
// (nil for none), of person b (nil: read from the registry).
func approvalOf(lr *store.LoginRequest, sess *store.Session, b *store.Beneficiary) approval {
	var authTime time.Time
	if lr.AuthTime != nil {
		authTime = *lr.AuthTime
	}
	return approval{
		BeneficiaryID: lr.BeneficiaryID,
		AuthTime:      authTime,
		RequestedAt:   lr.CreatedAt,
		LoginRequest:  lr.ID,
		Session:       sess,
		Beneficiary:   b,
	}
}

// finishedLogin returns the URL's login request once the sign-in approved
// or denied it, with the browser session that approved it (nil for a
// denial or a request approved without one). Otherwise it answers: a page
// for one unknown, used, dead or expired (a denial is answered even after
// expiry), the sign-in page for one still under way, and 403 to a browser
// other than the one that approved. The person approved comes with it,
// as the registry holds them now (nil if gone from it).
func (p *Provider) finishedLogin(c *gin.Context) (*store.LoginRequest, *store.Session, *store.Beneficiary, bool) {
	now := p.cfg.Now()
	// The browser's session comes with the request, in one read, when it
	// is the one the request was approved in; so do the client, which the
	// replay reads next, and the person, whom finish discloses.
	sid, _ := p.sessions.SessionID(c.Request)
	lr, sess, client, b, err := p.st.GetLoginRequestForResume(c.Request.Context(), c.Param("challenge"), sid, now)
	rememberClient(c.Request.Context(), client)
	if errors.Is(err, store.ErrNotFound) {
		web.RenderError(c, http.StatusNotFound, "expired")
		return nil, nil, nil, false
	}
	if err != nil {
		p.renderStoreError(c, err)
		return nil, nil, nil, false
	}
	switch {
	case lr.State == store.LoginUsed:
		web.RenderError(c, http.StatusConflict, "already_complete")
		return nil, nil, nil, false
	case lr.State == store.LoginDead || (now.After(lr.ExpiresAt) && lr.State != store.LoginDenied):
		// A denial is answered even after the sign-in expired: "Back to
		// {verifier}" on the expired page denies it, and the relying party
		// must still learn the outcome.
		web.RenderError(c, http.StatusGone, "expired")
		return nil, nil, nil, false
	case lr.State != store.LoginApproved && lr.State != store.LoginDenied:
		c.Redirect(http.StatusSeeOther, p.cfg.LoginURL(lr.ID))
		return nil, nil, nil, false
	}
	// The code goes only to the browser that approved: a challenge seen in
	// a log or a shared link cannot be finished elsewhere.
	if lr.State == store.LoginApproved && lr.SessionID != "" {
		if sess == nil || sess.ID != lr.SessionID {
			web.RenderError(c, http.StatusForbidden, "other_browser")
			return nil, nil, nil, false
		}
	} else {
		sess = nil
	}
	return lr, sess, b, true
}

// replay validates lr's stored request again: fosite checks the client and
// redirect URI again (a client disabled meanwhile gets nothing). On
// failure it returns the answer to write instead (refused).
func (p *Provider) replay(c *gin.Context, lr *store.LoginRequest) (ar fosite.AuthorizeRequester, refused func()) {
	ctx := c.Request.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, PathAuth+"?"+lr.Form, nil)
	if err != nil {
		return nil, func() { web.RenderError(c, http.StatusBadRequest, "link_unreadable") }
	}
	// On failure fosite's request still says where errors may go.
	partial, err := p.oauth2.NewAuthorizeRequest(ctx, req)
	if err != nil {
		return nil, func() { p.writeAuthorizeError(c, partial, err) }
	}
	return partial, nil
}

// answerDenial moves the denied lr to used and sends the client
// access_denied, with the reason in words; a second resume of the same
// denial gets the "already complete" page.
func (p *Provider) answerDenial(c *gin.Context, ar fosite.AuthorizeRequester, lr *store.LoginRequest) {
	if _, err := p.st.UpdateLoginRequestFrom(c.Request.Context(), lr, func(l *store.LoginRequest) error {
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
