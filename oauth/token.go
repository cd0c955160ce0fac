package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
	fositejwt "github.com/ory/fosite/token/jwt"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
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
func (p *Provider) refreshIDTokenClaims(ctx context.Context, requestID string, sess *Session) error {
	b, err := p.registry.Beneficiary(ctx, sess.BeneficiaryID)
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The person's record is no longer in the registry.")
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	values := claims.Values(b, sess.IDToken)
	c := sess.IDTokenClaims()
	if c.Extra == nil {
		c.Extra = map[string]any{}
	}
	for name, v := range values {
		if !protectedClaims[name] {
			c.Extra[name] = v
		}
	}
	// A fresh ID token, not the first one's times.
	c.ExpiresAt, c.IssuedAt = time.Time{}, time.Time{}
	d := newDisclosure(sess.ClientID, b.ID, sess.GetSubject(), "refresh", requestID, sess.IDToken, values)
	if err := p.st.CreateDisclosure(ctx, d); err != nil {
		return err
	}
	p.cfg.Metrics.Disclosed(d.Channel, d.VaccinationStatus)
	return nil
}

// handleUserinfo answers with the consented claims, read fresh from the
// registry (OIDC Core 5.3): by GET or POST, the token in the Authorization
// header or, for POST, in the form body (RFC 6750 2.2). JSON, or a signed
// JWT for a client registered with userinfo_signed_response_alg.
func (p *Provider) handleUserinfo(c *gin.Context) {
	ctx := c.Request.Context()
	token := fosite.AccessTokenFromRequest(c.Request)
	if token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs"`)
		writeJSONError(c, http.StatusUnauthorized, "invalid_request", "An access token is required.")
		return
	}
	tu, ar, err := p.oauth2.IntrospectToken(ctx, token, fosite.AccessToken, newEmptySession())
	if err != nil || tu != fosite.AccessToken {
		if err != nil && (errors.Is(err, store.ErrUnavailable) || !isTokenError(err)) {
			p.writeUserinfoOutage(c, err)
			return
		}
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="invalid_token"`)
		writeJSONError(c, http.StatusUnauthorized, "invalid_token", "The access token is not valid.")
		return
	}
	if !ar.GetGrantedScopes().Has(claims.ScopeOpenID) {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="insufficient_scope", scope="openid"`)
		writeJSONError(c, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		writeJSONError(c, http.StatusInternalServerError, "server_error", "The token's session could not be read.")
		return
	}
	b, err := p.registry.Beneficiary(ctx, sess.BeneficiaryID)
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="invalid_token"`)
		writeJSONError(c, http.StatusUnauthorized, "invalid_token", "The person's record is no longer in the registry.")
		return
	}
	if err != nil {
		p.writeUserinfoOutage(c, err)
		return
	}
	values := claims.Values(b, sess.Userinfo)
	out := map[string]any{}
	for name, v := range values {
		if !protectedClaims[name] {
			out[name] = v
		}
	}
	out["sub"] = sess.GetSubject()
	d := newDisclosure(sess.ClientID, b.ID, sess.GetSubject(), "userinfo", ar.GetID(), sess.Userinfo, values)
	if err := p.st.CreateDisclosure(ctx, d); err != nil {
		// Nothing is disclosed that is not recorded.
		p.writeUserinfoOutage(c, err)
		return
	}
	p.cfg.Metrics.Disclosed(d.Channel, d.VaccinationStatus)
	client := ar.GetClient().(*Client)
	c.Header("Cache-Control", "no-store")
	if alg := client.UserinfoSignedResponseAlg; alg != "" {
		out["iss"] = p.cfg.Issuer
		out["aud"] = client.ID
		out["iat"] = p.cfg.Now().Unix()
		jwt, err := signJWT(p.keys, alg, out)
		if err != nil {
			p.writeUserinfoOutage(c, err)
			return
		}
		c.Data(http.StatusOK, "application/jwt", []byte(jwt))
		return
	}
	c.JSON(http.StatusOK, out)
}

// isTokenError tells a bad token from an outage.
func isTokenError(err error) bool {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		return rfc.CodeField < 500
	}
	return errors.Is(err, fosite.ErrNotFound)
}

func (p *Provider) writeUserinfoOutage(c *gin.Context, err error) {
	web.Log(c).Error("userinfo failed", "error", err)
	if errors.Is(err, store.ErrUnavailable) {
		writeJSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The registry cannot be read right now.")
		return
	}
	writeJSONError(c, http.StatusInternalServerError, "server_error", "The registry could not be read.")
}

// handleRevoke is RFC 7009 revocation; fosite checks the token belongs to
// the authenticated client.
func (p *Provider) handleRevoke(c *gin.Context) {
	ctx := c.Request.Context()
	err := p.oauth2.NewRevocationRequest(ctx, c.Request)
	if errors.Is(err, store.ErrUnavailable) {
		// fosite would answer 401 or 200 (RFC 7009 2.2); an outage is neither.
		p.protocolError(c, err)
		writeJSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach its database right now.")
		return
	}
	p.oauth2.WriteRevocationResponse(ctx, c.Writer, err)
}

// handleIntrospect is RFC 7662 introspection, for confidential clients
// authenticating with HTTP Basic, about their own tokens only: another
// client's token is reported inactive (RFC 7662 2.2 lets the server decide
// who may learn what).
func (p *Provider) handleIntrospect(c *gin.Context) {
	ctx := c.Request.Context()
	id, _, ok := c.Request.BasicAuth()
	if !ok || strings.HasPrefix(c.GetHeader("Authorization"), "Bearer ") {
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, fosite.ErrRequestUnauthorized.WithHint("Authenticate the client with HTTP Basic."))
		return
	}
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	ir, err := p.oauth2.NewIntrospectionRequest(ctx, c.Request, newEmptySession())
	if err != nil {
		if errors.Is(err, fosite.ErrInactiveToken) && !errors.Is(err, store.ErrUnavailable) {
			p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, &fosite.IntrospectionResponse{Active: false})
			return
		}
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, p.protocolError(c, err))
		return
	}
	if ir.GetAccessRequester().GetClient().GetID() != id {
		p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, &fosite.IntrospectionResponse{Active: false})
		return
	}
	p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, ir)
}

// handleEndSession is RP-initiated logout (OpenID RP-Initiated Logout 1.0):
// it ends the browser session; with a valid id_token_hint and a
// post_logout_redirect_uri registered for that client (one of its redirect
// URIs), it returns the browser there with state.
func (p *Provider) handleEndSession(c *gin.Context) {
	ctx := c.Request.Context()
	if err := c.Request.ParseForm(); err != nil {
		web.RenderError(c, http.StatusBadRequest, "Sign-out failed", "The request could not be read.")
		return
	}
	form := c.Request.Form
	target := ""
	if uri := form.Get("post_logout_redirect_uri"); uri != "" {
		hint := form.Get("id_token_hint")
		clientID := form.Get("client_id")
		if hint != "" {
			tok, err := (&fositeSigner{keys: p.keys}).Decode(ctx, hint)
			if tok == nil || (err != nil && !expiredOnly(err)) {
				web.RenderError(c, http.StatusBadRequest, "Sign-out failed", "The sign-out request names a token kycvs did not issue.")
				return
			}
			if aud := audienceOf(tok.Claims["aud"]); aud != "" {
				clientID = aud
			}
		}
		client, err := getClient(ctx, p.st, clientID)
		if err != nil || !slices.Contains(client.RedirectURIs, uri) {
			web.RenderError(c, http.StatusBadRequest, "Sign-out failed", "The address to return to is not registered for this service.")
			return
		}
		target = uri
	}
	if err := p.sessions.EndSession(c.Writer, c.Request); err != nil {
		p.renderStoreError(c, err)
		return
	}
	if target != "" {
		u, _ := url.Parse(target)
		if st := form.Get("state"); st != "" {
			q := u.Query()
			q.Set("state", st)
			u.RawQuery = q.Encode()
		}
		c.Redirect(http.StatusSeeOther, u.String())
		return
	}
	web.RenderError(c, http.StatusOK, "You are signed out", "You can close this page.")
}

// expiredOnly reports a token whose only fault is its age; an expired ID
// token is still a fine logout hint.
func expiredOnly(err error) bool {
	var ve *fositejwt.ValidationError
	return errors.As(err, &ve) && ve.Errors == fositejwt.ValidationErrorExpired
}

// audienceOf returns the single audience of an ID token.
func audienceOf(v any) string {
	switch a := v.(type) {
	case string:
		return a
	case []any:
		if len(a) == 1 {
			s, _ := a[0].(string)
			return s
		}
	}
	return ""
}
