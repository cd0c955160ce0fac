package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"
	fositejwt "github.com/ory/fosite/token/jwt"

	"github.com/kycvs/kycvs/web"
)

// handleEndSession is RP-initiated logout (OpenID RP-Initiated Logout 1.0):
// it ends the browser session; with a valid id_token_hint and a
// post_logout_redirect_uri registered for that client (one of its
// post_logout_redirect_uris, registered apart from its redirect URIs so a
// logout landing page need not accept codes), it returns the browser there
// with state.
func (p *Provider) handleEndSession(c *gin.Context) {
	ctx := c.Request.Context()
	if err := c.Request.ParseForm(); err != nil {
		web.RenderError(c, http.StatusBadRequest, "signout_unreadable")
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
				web.RenderError(c, http.StatusBadRequest, "signout_token")
				return
			}
			if aud := audienceOf(tok.Claims["aud"]); aud != "" {
				// RP-Initiated Logout 1.0 2: a client_id sent beside the
				// hint must be the hint's audience.
				if clientID != "" && clientID != aud {
					web.RenderError(c, http.StatusBadRequest, "signout_token")
					return
				}
				clientID = aud
			}
		}
		client, err := getClient(ctx, p.st, clientID)
		if err != nil || !slices.Contains(client.PostLogoutRedirectURIs, uri) {
			web.RenderError(c, http.StatusBadRequest, "signout_redirect")
			return
		}
		target = uri
	}
	// Back-Channel Logout 1.0 2.3: every client that signed the person
	// in within this session is told, the asking client included.
	if _, err := p.logouts.EndSession(ctx, p.endingSID(c, form.Get("id_token_hint"))); err != nil {
		p.renderStoreError(c, err)
		return
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
	web.RenderError(c, http.StatusOK, "signed_out")
}

// endingSID names the session a logout ends: the browser's current one,
// or, when it has already expired here, the sid of a valid id_token_hint
// (expired or not), so the clients it signed in are still told. "" for
// neither.
func (p *Provider) endingSID(c *gin.Context, hint string) string {
	if sess, err := p.sessions.CurrentSession(c.Request); err == nil {
		return p.sidFor(sess.ID)
	}
	if hint == "" {
		return ""
	}
	tok, err := (&fositeSigner{keys: p.keys}).Decode(c.Request.Context(), hint)
	if tok == nil || (err != nil && !expiredOnly(err)) {
		return ""
	}
	if iss, _ := tok.Claims["iss"].(string); iss != p.cfg.Issuer {
		return ""
	}
	sid, _ := tok.Claims["sid"].(string)
	return sid
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
