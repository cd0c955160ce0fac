package oauth

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/web"
)

// responseModes are the response modes kycvs delivers authorization
// responses with; discovery lists exactly these. "query" is the default
// for response_type=code and is also accepted when sent explicitly (OAuth
// 2.0 Multiple Response Types 2.1); "form_post" is OAuth 2.0 Form Post
// Response Mode. "fragment" is refused: a code in a fragment reaches
// scripts on the page, and no code-flow client needs it.
var responseModes = []fosite.ResponseModeType{fosite.ResponseModeQuery, fosite.ResponseModeFormPost}

// GetResponseModes lets fosite accept an explicit response_mode from any
// client (fosite refuses every explicit mode for clients without this).
func (c *Client) GetResponseModes() []fosite.ResponseModeType { return responseModes }

var _ fosite.ResponseModeClient = (*Client)(nil)

// writeAuthorizeResponse delivers an authorization code to the client's
// validated redirect URI, with iss (RFC 9207 2) so a client talking to
// several providers can tell which one answered (mix-up defence).
func (p *Provider) writeAuthorizeResponse(c *gin.Context, ar fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) {
	for k := range resp.GetHeader() {
		c.Header(k, resp.GetHeader().Get(k))
	}
	params := url.Values{}
	for k, v := range resp.GetParameters() {
		params[k] = slices.Clone(v)
	}
	params.Set("iss", p.cfg.Issuer)
	p.deliverAuthorizeResponse(c, ar, params)
}

// writeRedirectedError delivers an error to a validated redirect URI with
// state and iss: RFC 9207 2 requires iss on error responses too, or an
// attacker's provider could forge an error in the victim provider's name.
// Debug detail never goes to the client.
func (p *Provider) writeRedirectedError(c *gin.Context, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err).WithExposeDebug(false)
	params := rfc.ToValues()
	if st := ar.GetState(); st != "" {
		params.Set("state", st)
	}
	params.Set("iss", p.cfg.Issuer)
	p.deliverAuthorizeResponse(c, ar, params)
}

// deliverAuthorizeResponse sends params to the redirect URI in the
// request's response mode: form_post as a page that posts them, anything
// else in the query of a 303 redirect (RFC 6749 4.1.2), keeping the query
// the registered URI already has.
func (p *Provider) deliverAuthorizeResponse(c *gin.Context, ar fosite.AuthorizeRequester, params url.Values) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	redirect := *ar.GetRedirectURI()
	redirect.Fragment = ""
	if ar.GetResponseMode() == fosite.ResponseModeFormPost {
		renderFormPost(c, redirect.String(), params)
		return
	}
	q := redirect.Query()
	for k, v := range params {
		q[k] = v
	}
	redirect.RawQuery = q.Encode()
	c.Header("Location", redirect.String())
	c.Status(http.StatusSeeOther)
}

// renderFormPost writes the form_post page (OAuth 2.0 Form Post Response
// Mode 2): a form that POSTs params to the redirect URI. A script carrying
// this response's CSP nonce submits it at once; without JavaScript the
// person presses the visible button. The page is never cached (it holds a
// code) and says where it goes.
func renderFormPost(c *gin.Context, action string, params url.Values) {
	page := web.FormPostPage{Action: action, Nonce: web.CSPNonce(c)}
	for _, k := range sortedValueKeys(params) {
		for _, v := range params[k] {
			page.Fields = append(page.Fields, web.FormField{Name: k, Value: v})
		}
	}
	web.Render(c, http.StatusOK, "form_post", page)
}

func sortedValueKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
