package oauth

import (
	"errors"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

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
