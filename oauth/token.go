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
	if c.Request.ParseForm() == nil && c.Request.PostForm.Get("grant_type") == "authorization_code" {
		// fosite's handlers read the code's three rows four times, and its
		// client before them; one SELECT serves them all (codeRows). Its
		// transaction's writes go together at its commit
		// (withGatheredWrites).
		ctx = withGatheredWrites(p.storage.withCodeRows(ctx, c.Request.PostForm.Get("code")))
	}
	if err := p.checkAuthMethod(ctx, c.Request); err != nil {
		p.oauth2.WriteAccessError(ctx, c.Writer, nil, p.protocolError(c, err))
		return
	}
	raw, err := dpopHeader(c.Request)
	if err != nil {
		p.writeTokenError(c, nil, err)
		return
	}
	ar, err := p.oauth2.NewAccessRequest(ctx, c.Request, newEmptySession())
	if err != nil {
		p.writeTokenError(c, ar, err)
		return
	}
	// The proof is checked once the client is authenticated, so an
	// unauthenticated caller cannot fill the used-jti table.
	var proof *dpopProof
	if raw != "" {
		if proof, err = p.checkDPoP(c, raw, "", p.cfg.DPoPNonce); err != nil {
			p.writeTokenError(c, ar, err)
			return
		}
	}
	if err := p.bindDPoP(ar, proof); err != nil {
		p.writeTokenError(c, ar, err)
		return
	}
	resp, err := p.oauth2.NewAccessResponse(ctx, ar)
	if err != nil {
		p.writeTokenError(c, ar, err)
		return
	}
	if proof != nil {
		resp.SetTokenType(dpopScheme)
		c.Header("DPoP-Nonce", p.nonces.current())
	}
	p.oauth2.WriteAccessResponse(ctx, c.Writer, ar, resp)
}

// writeTokenError writes a token endpoint error; a request that needs a
// DPoP nonce gets a fresh one (RFC 9449 8).
func (p *Provider) writeTokenError(c *gin.Context, ar fosite.AccessRequester, err error) {
	if errors.Is(err, errUseDPoPNonce) {
		c.Header("DPoP-Nonce", p.nonces.current())
	}
	p.oauth2.WriteAccessError(c.Request.Context(), c.Writer, ar, p.protocolError(c, err))
}

// bindDPoP applies RFC 9449 at the token endpoint, before the tokens are
// made: a client registered for DPoP, a code asked for with dpop_jkt and a
// refresh token bound to a key all need a proof, by that key where there
// is one; the new tokens are bound to the proof's key. Refresh tokens of
// confidential clients are bound to the client's authentication instead
// (RFC 9449 5), so they may move to a new key.
func (p *Provider) bindDPoP(ar fosite.AccessRequester, proof *dpopProof) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil
	}
	client := ar.GetClient().(*Client)
	refresh := ar.GetGrantTypes().ExactOne("refresh_token")
	switch {
	case proof == nil && requiresDPoP(client):
		return errInvalidDPoPProof.WithHint("This client must send a DPoP proof with every token request.")
	case proof == nil && sess.AuthorizeJKT != "" && !refresh:
		return errInvalidDPoPProof.WithHint("The authorization request named a DPoP key (dpop_jkt); prove it.")
	case proof == nil && refresh && sess.DPoPJKT != "":
		return errInvalidDPoPProof.WithHint("The refresh token was issued with DPoP; send a DPoP proof.")
	case proof == nil:
		return nil
	case !refresh && sess.AuthorizeJKT != "" && sess.AuthorizeJKT != proof.JKT:
		return fosite.ErrInvalidGrant.WithHint("The DPoP proof's key is not the one dpop_jkt named.")
	case refresh && client.IsPublic() && sess.DPoPJKT != "" && sess.DPoPJKT != proof.JKT:
		return fosite.ErrInvalidGrant.WithHint("The refresh token is bound to another DPoP key.")
	}
	sess.DPoPJKT = proof.JKT
	return nil
}

// checkAuthMethod holds a confidential client to the token endpoint auth
// method it registered, if it registered one; with none registered it may
// use client_secret_basic or client_secret_post.
func (p *Provider) checkAuthMethod(ctx context.Context, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The request body could not be read.")
	}
	id, basicSecret, basic := r.BasicAuth()
	used := "none"
	switch {
	case r.PostForm.Get("client_assertion_type") != "":
		used = AuthPrivateKeyJWT
		id = r.PostForm.Get("client_id")
		if id == "" {
			// Unverified: only to find the method the client registered;
			// verifyClientAssertion checks it.
			if t, err := parseJWT(r.PostForm.Get("client_assertion"), AssertionAlgs); err == nil {
				id = t.Claims.Sub
			}
		}
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
	if err == nil && client.Public && (basicSecret != "" || r.PostForm.Get("client_secret") != "" || used == AuthPrivateKeyJWT) {
		// fosite would ignore the credentials of a public client. A client
		// that sends a secret it was never given is misconfigured or is
		// not who it says: refuse it (RFC 6749 2.3: a client registered
		// with token_endpoint_auth_method none authenticates with nothing).
		return fosite.ErrInvalidClient.WithHint("A public client has no secret and must send none.")
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
	d := p.newDisclosure(sess.ClientID, b.ID, sess.GetSubject(), store.DisclosedAtRefresh, requestID, names, values)
	if err := p.st.CreateDisclosure(ctx, d); err != nil {
		return err
	}
	p.cfg.Metrics.Disclosed(string(d.Channel), d.VaccinationStatus)
	return nil
}
