package oauth

import (
	"mime"
	"net/http"
	"net/url"

	"github.com/ory/fosite"
)

// authorizeParams are the authorization request parameters kycvs reads
// (OIDC Core 3.1.2.1, RFC 7636, OIDC Core 5.5), each with the longest value
// it accepts. Anything else is dropped before fosite sees the request and
// before it is stored with the login request, as OIDC Core 3.1.2.1 lets an
// OP ignore parameters it does not understand; without the caps, anyone
// could store 64 KB per unauthenticated request in login_requests.form.
//
// request and request_uri are listed only so the endpoint can refuse them
// with their own errors (see handleAuthorize).
var authorizeParams = map[string]int{
	"response_type":         64,
	"response_mode":         32,
	"client_id":             128,
	"redirect_uri":          2048,
	"scope":                 512,
	"state":                 1024,
	"nonce":                 512,
	"code_challenge":        128, // RFC 7636 4.1: 43 to 128 characters
	"code_challenge_method": 16,
	"prompt":                64,
	"max_age":               16,
	"display":               16,
	"ui_locales":            128,
	"claims_locales":        128,
	"login_hint":            256,
	"id_token_hint":         4096,
	"acr_values":            256,
	"claims":                2048,
	"dpop_jkt":              64, // RFC 9449 10: a base64url SHA-256 thumbprint is 43
	"request":               1,
	"request_uri":           1,
}

// minNonceLength is the shortest nonce accepted: fosite's minimum entropy
// for state and nonce (8 characters). A shorter nonce cannot be random
// enough to bind an ID token to one session, which is its whole purpose
// (OIDC Core 15.5.2).
const minNonceLength = fosite.MinParameterEntropy

// parseAuthorizeForm reads the query and, for POST, the body into r.Form.
// A POST body must be form-encoded (OIDC Core 3.1.2.1): a multipart body
// is refused, because fosite would parse it itself after exactRedirect had
// read r.Form without it, and so take a redirect_uri nobody checked.
func parseAuthorizeForm(r *http.Request) error {
	if r.Method == http.MethodPost && r.ContentLength != 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return fosite.ErrInvalidRequest.WithHint("An authorization request sent by POST must be form-encoded (application/x-www-form-urlencoded).")
		}
	}
	if err := r.ParseForm(); err != nil {
		return fosite.ErrInvalidRequest.WithHint("The request could not be read.")
	}
	return nil
}

// trimAuthorizeForm keeps in form only the parameters kycvs reads, and
// drops those sent more than once (RFC 6749 3.1) or longer than their cap.
// The error it returns for a dropped value is to be sent to the client
// once fosite has validated the redirect URI; nil when nothing was wrong.
func trimAuthorizeForm(form url.Values) error {
	var bad error
	for name, values := range form {
		max, known := authorizeParams[name]
		switch {
		case !known:
			delete(form, name)
		case len(values) > 1:
			delete(form, name)
			bad = fosite.ErrInvalidRequest.WithHintf("The parameter %q was sent more than once.", name)
		case len(values[0]) > max && name != "request" && name != "request_uri":
			delete(form, name)
			bad = fosite.ErrInvalidRequest.WithHintf("The parameter %q is longer than %d characters.", name, max)
		}
	}
	return bad
}

// checkNonce refuses a nonce too short to be random (see minNonceLength).
func checkNonce(form url.Values) error {
	if n := form.Get("nonce"); n != "" && len(n) < minNonceLength {
		return fosite.ErrInvalidRequest.WithHintf("The nonce must be at least %d characters long.", minNonceLength)
	}
	return nil
}
