package oauth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

// handleIntrospect is RFC 7662 introspection, for confidential clients
// authenticating as at the token endpoint (client_secret_basic, or
// private_key_jwt), about their own tokens only: another client's token is
// reported inactive (RFC 7662 2.2 lets the server decide who may learn
// what). A DPoP-bound token's answer carries cnf.jkt (RFC 9449 6.2).
func (p *Provider) handleIntrospect(c *gin.Context) {
	ctx := c.Request.Context()
	r := c.Request
	if err := r.ParseForm(); err != nil || strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, fosite.ErrRequestUnauthorized.WithHint("Authenticate the client with HTTP Basic or private_key_jwt."))
		return
	}
	if _, _, basic := r.BasicAuth(); !basic && r.PostForm.Get("client_assertion_type") == "" {
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, fosite.ErrRequestUnauthorized.WithHint("Authenticate the client with HTTP Basic or private_key_jwt."))
		return
	}
	err := p.checkAuthMethod(ctx, r)
	var client fosite.Client
	if err == nil {
		client, err = p.authenticateClient(ctx, r, r.PostForm)
	}
	if errors.Is(err, store.ErrUnavailable) {
		p.writeIntrospectionOutage(c, err)
		return
	}
	if err != nil || client.IsPublic() {
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, fosite.ErrRequestUnauthorized.WithHint("The client could not be authenticated."))
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		p.oauth2.WriteIntrospectionError(ctx, c.Writer, fosite.ErrInvalidRequest.WithHint("The token to introspect is missing."))
		return
	}
	tu, ar, err := p.oauth2.IntrospectToken(ctx, token, fosite.TokenUse(r.PostForm.Get("token_type_hint")), newEmptySession())
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) || !isTokenError(err) {
			p.writeIntrospectionOutage(c, err)
			return
		}
		p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, &fosite.IntrospectionResponse{Active: false})
		return
	}
	if ar.GetClient().GetID() != client.GetID() {
		p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, &fosite.IntrospectionResponse{Active: false})
		return
	}
	resp := &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: tu}
	if tu == fosite.AccessToken {
		resp.AccessTokenType = fosite.BearerAccessToken
	}
	p.oauth2.WriteIntrospectionResponse(ctx, c.Writer, resp)
}

// writeIntrospectionOutage answers 503 (or 500) when the answer cannot be
// known: "inactive" would be a lie a resource server acts on.
func (p *Provider) writeIntrospectionOutage(c *gin.Context, err error) {
	p.protocolError(c, err)
	if errors.Is(err, store.ErrUnavailable) {
		writeJSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach its database right now.")
		return
	}
	writeJSONError(c, http.StatusInternalServerError, "server_error", "The token could not be introspected.")
}
