package oauth

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/web"
)

// writeAuthorizeError sends an error to the client only once its redirect
// URI is validated (fosite decides); otherwise the person sees a page.
// Errors that are not protocol errors become server_error (or
// temporarily_unavailable when the database is down), detail in the log.
func (p *Provider) writeAuthorizeError(c *gin.Context, ar fosite.AuthorizeRequester, err error) {
	err = p.protocolError(c, err)
	if ar != nil && ar.IsRedirectURIValid() {
		p.writeRedirectedError(c, ar, err)
		return
	}
	// The person sees words for a person; the protocol's own words (a
	// fosite hint meant for the developer) go to the log.
	var rfc *fosite.RFC6749Error
	status, key := http.StatusBadRequest, "link_rejected"
	if errors.As(err, &rfc) {
		status = rfc.CodeField
		web.Log(c).Info("authorization request refused", "oauth_error", rfc.ErrorField, "hint", rfc.HintField)
		switch {
		case rfc.ErrorField == fosite.ErrInvalidClient.ErrorField:
			key = "client_unknown"
		case status == http.StatusServiceUnavailable:
			key = "unavailable"
		case status >= 500:
			key = "internal"
		}
	}
	web.RenderError(c, status, key)
}

// protocolError maps a non-protocol error to an RFC 6749 one and logs it.
//
// fosite reports a store failure while it looks up a client as
// invalid_client; an unreachable database is an outage, not a bad client,
// so it becomes temporarily_unavailable (503) whatever fosite called it.
func (p *Provider) protocolError(c *gin.Context, err error) error {
	if f := web.FailureOf(err); f.Outage {
		f.Answer(c, web.Log(c), err)
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	if errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		// Of two exchanges racing with one code, the one whose conditional
		// update found the code used already (fosite calls that a server
		// error): the code is spent, which is the client's invalid_grant.
		return fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.").WithWrap(err)
	}
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) {
		if rfc.CodeField >= 500 {
			web.Log(c).Error("protocol error", "oauth_error", rfc.ErrorField, "debug", rfc.DebugField, "err", rfc.Unwrap())
		}
		return err
	}
	web.Log(c).Error("request failed", "err", err)
	return fosite.ErrServerError.WithWrap(err)
}

func (p *Provider) renderStoreError(c *gin.Context, err error) {
	web.Fail(c, nil, err)
}

// writeJSONError writes an OAuth2-style error body, headers first.
func writeJSONError(c *gin.Context, status int, code, description string) {
	c.Header("Cache-Control", "no-store")
	c.JSON(status, gin.H{"error": code, "error_description": description})
}
