package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

// Pushed authorization requests (RFC 9126).
const (
	// parPrefix starts every request_uri kycvs issues (RFC 9126 2.2).
	parPrefix = "urn:ietf:params:oauth:request_uri:"
	// PARLifetime is how long a pushed request may wait for the browser:
	// short, as RFC 9126 7.3 and FAPI 2.0 (under 600 s) ask.
	PARLifetime = 60 * time.Second
)

// handlePAR is the pushed authorization request endpoint (RFC 9126 2):
// the client authenticates as at the token endpoint, the request is
// validated as at the authorization endpoint, and a single-use request_uri
// valid for PARLifetime comes back (201). Errors are JSON, never a
// redirect.
func (p *Provider) handlePAR(c *gin.Context) {
	ctx := c.Request.Context()
	if err := p.checkAuthMethod(ctx, c.Request); err != nil {
		p.oauth2.WritePushedAuthorizeError(ctx, c.Writer, nil, p.protocolError(c, err))
		return
	}
	ar, err := p.oauth2.NewPushedAuthorizeRequest(ctx, c.Request)
	if err != nil {
		p.oauth2.WritePushedAuthorizeError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	if err := p.checkPushedRequest(ar); err != nil {
		p.oauth2.WritePushedAuthorizeError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	// A DPoP proof with the push names the key the code will be bound to,
	// as dpop_jkt would (RFC 9449 10.1).
	raw, err := dpopHeader(c.Request)
	if err == nil && raw != "" {
		var proof *dpopProof
		if proof, err = p.checkDPoP(c, raw, "", p.cfg.DPoPNonce); err == nil {
			form := ar.GetRequestForm()
			if jkt := form.Get("dpop_jkt"); jkt != "" && jkt != proof.JKT {
				err = errInvalidDPoPProof.WithHint("dpop_jkt and the DPoP proof's key differ.")
			}
			form.Set("dpop_jkt", proof.JKT)
		}
	}
	if err != nil {
		if errors.Is(err, errUseDPoPNonce) {
			c.Header("DPoP-Nonce", p.nonces.current())
		}
		p.oauth2.WritePushedAuthorizeError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	resp, err := p.oauth2.NewPushedAuthorizeResponse(ctx, ar, newEmptySession())
	if err != nil {
		p.oauth2.WritePushedAuthorizeError(ctx, c.Writer, ar, p.protocolError(c, err))
		return
	}
	p.oauth2.WritePushedAuthorizeResponse(ctx, c.Writer, ar, resp)
}

// checkPushedRequest trims the pushed form to the authorization
// parameters and refuses at once what the authorization endpoint would
// refuse later, so the client learns it from the push instead of from a
// redirect: a redirect URI not registered exactly, PKCE the client must
// use, a bad prompt or claims request.
func (p *Provider) checkPushedRequest(ar fosite.AuthorizeRequester) error {
	client := ar.GetClient().(*Client)
	form := ar.GetRequestForm()
	// Only what the authorization endpoint reads is stored, each value
	// capped: never the client's credentials (client_secret,
	// client_assertion), which travel in the same form.
	if err := trimAuthorizeForm(form); err != nil {
		return err
	}
	if err := checkNonce(form); err != nil {
		return err
	}
	if uri := form.Get("redirect_uri"); uri != "" && !containsString(client.RedirectURIs, uri) {
		return fosite.ErrInvalidRequest.WithHint("The redirect_uri is not registered for this client.")
	}
	if err := checkPKCE(client, form); err != nil {
		return err
	}
	if _, err := parsePrompt(form.Get("prompt")); err != nil {
		return err
	}
	if jkt := form.Get("dpop_jkt"); jkt != "" && !validJKT(jkt) {
		return fosite.ErrInvalidRequest.WithHint("dpop_jkt is not a SHA-256 JWK thumbprint.")
	}
	_, err := planDisclosure(ar, client, p.cfg.Assurance.TrustFramework)
	return err
}

// pushedOnly reduces an authorization request that names a pushed request
// to client_id and request_uri: the pushed parameters are the whole
// request, and nothing sent through the browser may add to them (RFC 9126
// 4, FAPI 2.0 5.3.2.2). It reports whether the request names one.
func pushedOnly(form url.Values) bool {
	uri := form.Get("request_uri")
	if !strings.HasPrefix(uri, parPrefix) {
		return false
	}
	id := form.Get("client_id")
	for k := range form {
		delete(form, k)
	}
	form.Set("client_id", id)
	form.Set("request_uri", uri)
	return true
}

// mustPush reports whether an authorization request from client has to
// come through the PAR endpoint: the server requires it of every client,
// or the client's registration does.
func (p *Provider) mustPush(client *Client) bool {
	return p.cfg.RequirePAR || client.RequirePushedAuthorizationRequests || client.Profile == ProfileFAPI2
}

// parKey is the stored key of a request_uri: its SHA-256, so the table
// holds nothing that could be replayed from a copy of it.
func parKey(requestURI string) string {
	sum := sha256.Sum256([]byte(requestURI))
	return hex.EncodeToString(sum[:])
}

// CreatePARSession stores a pushed request until PARLifetime has passed,
// by the provider's clock.
func (s *Storage) CreatePARSession(ctx context.Context, requestURI string, r fosite.AuthorizeRequester) error {
	if sess := r.GetSession(); sess != nil {
		sess.SetExpiresAt(fosite.PushedAuthorizeRequestContext, s.now().Add(PARLifetime))
	}
	return s.create(ctx, store.KindPAR, parKey(requestURI), r)
}

// GetPARSession consumes a pushed request: the first call marks it used,
// so a request_uri works once, even between two processes racing with it
// (RFC 9126 7.3). Used, expired and unknown request_uris are alike
// ErrNotFound (fosite answers invalid_request_uri).
func (s *Storage) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	if !strings.HasPrefix(requestURI, parPrefix) {
		return nil, fosite.ErrNotFound
	}
	key := parKey(requestURI)
	row, err := s.st.GetToken(ctx, store.KindPAR, key)
	if err != nil {
		return nil, notFound(err)
	}
	if !s.now().Before(row.ExpiresAt) {
		return nil, fosite.ErrNotFound
	}
	if err := s.st.DeactivateToken(ctx, store.KindPAR, key); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fosite.ErrNotFound
		}
		return nil, notFound(err)
	}
	req, err := s.toRequest(ctx, row, nil)
	if err != nil {
		return nil, err
	}
	ar := fosite.NewAuthorizeRequest()
	ar.Request = *req
	ar.State = req.Form.Get("state")
	ar.ResponseTypes = fosite.RemoveEmpty(strings.Split(req.Form.Get("response_type"), " "))
	if uri := req.Form.Get("redirect_uri"); uri != "" {
		ar.RedirectURI, _ = url.Parse(uri)
	} else if uris := req.Client.GetRedirectURIs(); len(uris) == 1 {
		ar.RedirectURI, _ = url.Parse(uris[0])
	}
	ar.ResponseMode = fosite.ResponseModeType(req.Form.Get("response_mode"))
	if ar.ResponseMode == fosite.ResponseModeDefault {
		ar.ResponseMode = fosite.ResponseModeQuery
	}
	ar.DefaultResponseMode = fosite.ResponseModeQuery
	return ar, nil
}

// DeletePARSession does nothing: GetPARSession already used the request
// up, and the row goes at expiry.
func (s *Storage) DeletePARSession(context.Context, string) error { return nil }

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
