package oauth

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// handleRevoke is RFC 7009 revocation; fosite checks the token belongs to
// the authenticated client.
func (p *Provider) handleRevoke(c *gin.Context) {
	ctx := c.Request.Context()
	err := p.checkAuthMethod(ctx, c.Request)
	if err == nil {
		err = p.oauth2.NewRevocationRequest(ctx, c.Request)
	}
	if errors.Is(err, store.ErrUnavailable) {
		// fosite would answer 401 or 200 (RFC 7009 2.2); an outage is neither.
		p.protocolError(c, err)
		writeJSONError(c, http.StatusServiceUnavailable, "temporarily_unavailable", "The service cannot reach its database right now.")
		return
	}
	p.oauth2.WriteRevocationResponse(ctx, c.Writer, err)
}
