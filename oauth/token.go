package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

// handleToken is the token endpoint: authorization_code (with PKCE) and
// refresh_token. fosite writes every error (RFC 6749 5.2). Browsers may
// call it from the client's own origins only (allowTokenOrigin).
func (p *Provider) handleToken(c *gin.Context) {
	if !p.allowTokenOrigin(c) {
		return
	}
	ctx := c.Request.Context()
	if err := p.checkAuthMethod(ctx, c.Request); err != nil {
		p.oauth2.WriteAccessError(ctx, c.Writer, nil, p.protocolError(c, err))
		return
	}
	ar, err := p.oauth2.NewAccessRequest(ctx, c.Request, newEmptySession())
	if err != nil {
		p.oauth2.WriteAccessError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	resp, err := p.oauth2.NewAccessResponse(ctx, ar)
	if err != nil {
		p.oauth2.WriteAccessError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	p.oauth2.WriteAccessResponse(ctx, c.Writer, ar, resp)
}

// checkAuthMethod holds a confidential client to the token endpoint auth
// method it registered, if it registered one; with none registered it may
// use client_secret_basic or client_secret_post.
func (p *Provider) checkAuthMethod(ctx context.Context, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The request body could not be read.")
	}
	id, _, basic := r.BasicAuth()
	used := "none"
	switch {
	case basic:
		used = "client_secret_basic"
		if u, err := url.QueryUnescape(id); err == nil {
			id = u
		}
	case r.PostForm.Get("client_secret") != "":
		used = "client_secret_post"
		id = r.PostForm.Get("client_id")
	default:
		id = r.PostForm.Get("client_id")
	}
	if id == "" {
		return nil // fosite reports the missing client
	}
	client, err := getClient(ctx, p.st, id)
	if errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if err != nil || client.Public || client.TokenEndpointAuthMethod == "" {
		return nil // fosite reports unknown clients
	}
	if client.TokenEndpointAuthMethod != used {
		return fosite.ErrInvalidClient.WithHintf("The client is registered for '%s' authentication.", client.TokenEndpointAuthMethod)
	}
	return nil
}

// refreshIDTokenClaims re-reads the registry for a refresh grant's ID token
// and records the disclosure. ctx carries fosite's token transaction.
//
// Only what the client may receive now is refreshed: claims whose scope was
// taken from the client since are dropped from the new ID token.
func (p *Provider) refreshIDTokenClaims(ctx context.Context, client fosite.Client, requestID string, sess *Session) error {
	b, err := p.registry.Beneficiary(ctx, sess.BeneficiaryID)
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The person's record is no longer in the registry.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	names := allowedNow(client, sess.IDToken)
	values := p.claimValues(b, names)
	c := sess.IDTokenClaims()
	if c.Extra == nil {
		c.Extra = map[string]any{}
	}
	for _, name := range sess.IDToken {
		if !protectedClaims[name] {
			delete(c.Extra, name)
		}
	}
	sess.IDToken = names
	for name, v := range values {
		if !protectedClaims[name] {
			c.Extra[name] = v
		}
	}
	// A fresh ID token, not the first one's times.
	c.ExpiresAt, c.IssuedAt = time.Time{}, time.Time{}
	d := newDisclosure(sess.ClientID, b.ID, sess.GetSubject(), "refresh", requestID, names, values)
	if err := p.st.CreateDisclosure(ctx, d); err != nil {
		return err
	}
	p.cfg.Metrics.Disclosed(d.Channel, d.VaccinationStatus)
	return nil
}
