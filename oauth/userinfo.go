package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// handleUserinfo answers with the consented claims, read fresh from the
// registry (OIDC Core 5.3): by GET or POST, the token in the Authorization
// header or, for POST, in the form body (RFC 6750 2.2). JSON, or a signed
// JWT for a client registered with userinfo_signed_response_alg. Browsers
// may call it from public clients' own origins (userinfoOrigin).
func (p *Provider) handleUserinfo(c *gin.Context) {
	cross, ok := p.userinfoOrigin(c)
	if !ok {
		return
	}
	ctx, read := withUserinfoPerson(c.Request.Context())
	c.Request = c.Request.WithContext(ctx)
	ar, sess, ok := p.userinfoToken(c, cross)
	if !ok {
		return
	}
	b, err := p.userinfoBeneficiary(ctx, read, sess.BeneficiaryID)
	if errors.Is(err, store.ErrNotFound) {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="invalid_token"`)
		writeJSONError(c, http.StatusUnauthorized, "invalid_token", "The person's record is no longer in the registry.")
		return
	}
	if err != nil {
		p.writeUserinfoOutage(c, err)
		return
	}
	p.releaseUserinfo(c, ar, sess, b)
}

// userinfoPerson is the person read with a userinfo request's access
// token (Store.GetTokenWithPerson): id is the one the token's row names
// ("" for a row written before it named one), b that person with doses,
// nil once gone from the registry.
type userinfoPerson struct {
	id string
	b  *store.Beneficiary
}

type userinfoPersonKey struct{}

// withUserinfoPerson returns ctx in which reading an access token also
// reads its person, into the userinfoPerson returned.
func withUserinfoPerson(ctx context.Context) (context.Context, *userinfoPerson) {
	read := &userinfoPerson{}
	return context.WithValue(ctx, userinfoPersonKey{}, read), read
}

// userinfoPersonOf returns the userinfoPerson withUserinfoPerson put in
// ctx, or nil.
func userinfoPersonOf(ctx context.Context) *userinfoPerson {
	read, _ := ctx.Value(userinfoPersonKey{}).(*userinfoPerson)
	return read
}

// userinfoBeneficiary is the person id, with doses as they are now: as
// read with the token when its row named them, else from the registry. A
// person gone is store.ErrNotFound either way.
func (p *Provider) userinfoBeneficiary(ctx context.Context, read *userinfoPerson, id string) (*store.Beneficiary, error) {
	if read.id == "" || read.id != id {
		return p.registry.Beneficiary(ctx, id)
	}
	if read.b == nil {
		return nil, store.ErrNotFound
	}
	return read.b, nil
}

// userinfoToken checks the request's access token: valid, bound as it
// must be (DPoP), granted openid, and, from a browser on another origin
// (cross), a public client's whose redirect URIs name that origin. It
// returns the token's request and session, or false once it has answered
// (RFC 6750 3 errors, or an outage).
func (p *Provider) userinfoToken(c *gin.Context, cross bool) (fosite.AccessRequester, *Session, bool) {
	token, dpop := accessTokenOf(c.Request)
	if token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs"`)
		c.Writer.Header().Add("WWW-Authenticate", dpopChallenge(""))
		writeJSONError(c, http.StatusUnauthorized, "invalid_request", "An access token is required.")
		return nil, nil, false
	}
	tu, ar, err := p.oauth2.IntrospectToken(c.Request.Context(), token, fosite.AccessToken, newEmptySession())
	if err == nil && tu == fosite.AccessToken {
		if !p.checkTokenBinding(c, token, dpop, ar) {
			return nil, nil, false
		}
	}
	if err != nil || tu != fosite.AccessToken {
		if err != nil && (errors.Is(err, store.ErrUnavailable) || !isTokenError(err)) {
			p.writeUserinfoOutage(c, err)
			return nil, nil, false
		}
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="invalid_token"`)
		writeJSONError(c, http.StatusUnauthorized, "invalid_token", "The access token is not valid.")
		return nil, nil, false
	}
	if !ar.GetGrantedScopes().Has(claims.ScopeOpenID) {
		c.Header("WWW-Authenticate", `Bearer realm="kycvs", error="insufficient_scope", scope="openid"`)
		writeJSONError(c, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return nil, nil, false
	}
	// Only the token's own client may read it from a browser, and only a
	// public one: a confidential client's token has no business in a page.
	// Refused before anything is released or recorded as disclosed.
	if client := ar.GetClient().(*Client); cross && (!client.Public || !originAllowed(client.RedirectURIs, c.GetHeader("Origin"))) {
		writeJSONError(c, http.StatusForbidden, "invalid_request", "This client does not accept userinfo requests from this web origin.")
		return nil, nil, false
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		writeJSONError(c, http.StatusInternalServerError, "server_error", "The token's session could not be read.")
		return nil, nil, false
	}
	return ar, sess, true
}

// releaseUserinfo answers with the session's userinfo claims that the
// client may still receive, valued from b, once their disclosure is
// recorded: JSON, or a JWT signed with the client's
// userinfo_signed_response_alg.
func (p *Provider) releaseUserinfo(c *gin.Context, ar fosite.AccessRequester, sess *Session, b *store.Beneficiary) {
	client := ar.GetClient().(*Client)
	names := allowedNow(client, sess.Userinfo)
	values := p.claimValues(b, names)
	out := map[string]any{}
	for name, v := range values {
		if !protectedClaims[name] {
			out[name] = v
		}
	}
	out["sub"] = sess.GetSubject()
	d := p.newDisclosure(sess.ClientID, b.ID, sess.GetSubject(), store.DisclosedAtUserinfo, ar.GetID(), names, values)
	if err := p.st.CreateDisclosure(c.Request.Context(), d); err != nil {
		// Nothing is disclosed that is not recorded.
		p.writeUserinfoOutage(c, err)
		return
	}
	p.cfg.Metrics.Disclosed(string(d.Channel), d.VaccinationStatus)
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
	web.Log(c).Error("userinfo failed", "err", err)
	if errors.Is(err, store.ErrUnavailable) {
		writeJSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The registry cannot be read right now.")
		return
	}
	writeJSONError(c, http.StatusInternalServerError, "server_error", "The registry could not be read.")
}

// accessTokenOf returns the access token of a resource request and
// whether it came with the DPoP scheme (RFC 9449 7.1); a token in the form
// body is a bearer token (RFC 6750 2.2).
func accessTokenOf(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if ok && strings.EqualFold(scheme, dpopScheme) {
		return strings.TrimSpace(token), true
	}
	return fosite.AccessTokenFromRequest(r), false
}

// checkTokenBinding holds a DPoP-bound access token to its key: it must
// come with the DPoP scheme and a proof by the key it is bound to, made
// for this request and this token. A bearer token sent as DPoP is refused
// too. It writes the 401 and returns false when the use is refused.
func (p *Provider) checkTokenBinding(c *gin.Context, token string, dpop bool, ar fosite.Requester) bool {
	sess, _ := ar.GetSession().(*Session)
	bound := sess != nil && sess.DPoPJKT != ""
	refuse := func(code, msg string) bool {
		c.Header("WWW-Authenticate", dpopChallenge(code))
		writeJSONError(c, http.StatusUnauthorized, code, msg)
		return false
	}
	switch {
	case bound && !dpop:
		return refuse("invalid_token", "The access token is bound to a DPoP key; send it with the DPoP scheme and a proof.")
	case !bound && dpop:
		return refuse("invalid_token", "The access token is not DPoP-bound; send it with the Bearer scheme.")
	case !bound:
		return true
	}
	raw, err := dpopHeader(c.Request)
	if err == nil && raw == "" {
		err = errInvalidDPoPProof.WithHint("A DPoP proof is required with a DPoP-bound token.")
	}
	var proof *dpopProof
	if err == nil {
		proof, err = p.checkDPoP(c, raw, token, false)
	}
	var rfc *fosite.RFC6749Error
	switch {
	case errors.Is(err, errUseDPoPNonce):
		c.Header("DPoP-Nonce", p.nonces.current())
		return refuse("use_dpop_nonce", "Send the DPoP-Nonce in the proof.")
	case errors.As(err, &rfc) && rfc.CodeField < 500:
		return refuse("invalid_dpop_proof", rfc.HintField)
	case err != nil:
		p.writeUserinfoOutage(c, err)
		return false
	case proof.JKT != sess.DPoPJKT:
		return refuse("invalid_token", "The DPoP proof's key is not the one the access token is bound to.")
	}
	return true
}
