package oauth

import (
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fositejwt "github.com/ory/fosite/token/jwt"
)

// Session is what fosite keeps with every code and token: the ID token
// claims plus what kycvs needs to answer userinfo later (whose record, which
// claims were consented to).
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	BeneficiaryID          string `json:"beneficiary_id"`
	ClientID               string `json:"client_id"`
	// Userinfo lists the claim names userinfo returns.
	Userinfo []string `json:"userinfo"`
	// IDToken lists the claim names the ID token carries besides the
	// protocol claims; their values are in Claims.Extra, fixed when the
	// person approved (the values the disclosure record holds).
	IDToken []string `json:"id_token"`
	// LoginRequestID links tokens to the login request they came from.
	LoginRequestID string `json:"login_request_id"`
	// AuthorizeJKT is the dpop_jkt of the authorization request (RFC
	// 9449 10): the code is redeemed only with a proof by that key.
	AuthorizeJKT string `json:"authorize_jkt,omitempty"`
	// DPoPJKT binds the tokens of this session to a DPoP key (RFC 9449
	// 6): the access token is used only with proofs by that key, and a
	// public client's refresh token too.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
}

// GetExtraClaims adds the DPoP binding to introspection answers (RFC 9449
// 6.2): token_type DPoP and cnf.jkt.
func (s *Session) GetExtraClaims() map[string]any {
	if s.DPoPJKT == "" {
		return nil
	}
	return map[string]any{"token_type": dpopScheme, "cnf": map[string]any{"jkt": s.DPoPJKT}}
}

var _ openid.Session = (*Session)(nil)

// newEmptySession is what fosite unmarshals stored sessions into.
func newEmptySession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{
		Claims:  &fositejwt.IDTokenClaims{},
		Headers: &fositejwt.Headers{},
	}}
}

// Clone deep-copies the session (fosite clones before storing).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	if s.DefaultSession != nil {
		c.DefaultSession = s.DefaultSession.Clone().(*openid.DefaultSession)
	}
	c.Userinfo = append([]string(nil), s.Userinfo...)
	c.IDToken = append([]string(nil), s.IDToken...)
	return &c
}
