package registration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// Metadata is the client metadata a registration request may carry (RFC
// 7591 2, OpenID Connect Dynamic Client Registration 1.0 2, RFC 9126 6,
// RFC 9449 5.2, RP-Initiated Logout 1.0 3.1, Back-Channel Logout 1.0
// 2.2). Members kycvs does not
// support are ignored, as RFC 7591 2 asks.
type Metadata struct {
	// ClientID is only read on a replacement, where it must name the
	// client being replaced (RFC 7592 2.2).
	ClientID string `json:"client_id"`
	// ClientSecret is only read on a replacement, where it must be the
	// client's current secret if sent (RFC 7592 2.2).
	ClientSecret                     string          `json:"client_secret"`
	RedirectURIs                     []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string        `json:"post_logout_redirect_uris"`
	ClientName                       string          `json:"client_name"`
	LogoURI                          string          `json:"logo_uri"`
	Contacts                         []string        `json:"contacts"`
	TokenEndpointAuthMethod          string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg      string          `json:"token_endpoint_auth_signing_alg"`
	GrantTypes                       []string        `json:"grant_types"`
	ResponseTypes                    []string        `json:"response_types"`
	Scope                            string          `json:"scope"`
	SectorIdentifierURI              string          `json:"sector_identifier_uri"`
	SubjectType                      string          `json:"subject_type"`
	IDTokenSignedResponseAlg         string          `json:"id_token_signed_response_alg"`
	UserinfoSignedResponseAlg        string          `json:"userinfo_signed_response_alg"`
	JWKS                             json.RawMessage `json:"jwks"`
	JWKSURI                          string          `json:"jwks_uri"`
	RequirePAR                       bool            `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens            bool            `json:"dpop_bound_access_tokens"`
	BackchannelLogoutURI             string          `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool            `json:"backchannel_logout_session_required"`
}

// The grant and response types a registered client may name: those of the
// authorization code flow, which is all kycvs serves.
var (
	grantTypes    = []string{"authorization_code", "refresh_token"}
	responseTypes = []string{"code"}
)

// Spec translates the metadata into the spec every client is registered
// with. It checks only what has no place in the spec (grant and response
// types, subject type) and returns those problems; everything else is
// left to ClientSpec.Validate, the rules the command line and the admin
// API apply too. Defaults follow RFC 7591 2: client_secret_basic, the
// authorization_code grant, the code response type.
func (m *Metadata) Spec() (oauth.ClientSpec, []string) {
	spec := oauth.ClientSpec{
		Name:                             strings.TrimSpace(m.ClientName),
		RedirectURIs:                     m.RedirectURIs,
		PostLogoutRedirectURIs:           m.PostLogoutRedirectURIs,
		Scopes:                           strings.Fields(m.Scope),
		TokenEndpointAuthMethod:          strings.TrimSpace(m.TokenEndpointAuthMethod),
		IDTokenSignedResponseAlg:         strings.TrimSpace(m.IDTokenSignedResponseAlg),
		UserinfoSignedResponseAlg:        strings.TrimSpace(m.UserinfoSignedResponseAlg),
		SectorIdentifier:                 strings.TrimSpace(m.SectorIdentifierURI),
		LogoURI:                          strings.TrimSpace(m.LogoURI),
		Contacts:                         m.Contacts,
		RequirePAR:                       m.RequirePAR,
		JWKSURI:                          strings.TrimSpace(m.JWKSURI),
		TokenEndpointAuthSigningAlg:      strings.TrimSpace(m.TokenEndpointAuthSigningAlg),
		DPoPBoundAccessTokens:            m.DPoPBoundAccessTokens,
		BackchannelLogoutURI:             strings.TrimSpace(m.BackchannelLogoutURI),
		BackchannelLogoutSessionRequired: m.BackchannelLogoutSessionRequired,
	}
	if len(m.JWKS) > 0 && string(m.JWKS) != "null" {
		spec.JWKS = string(m.JWKS)
	}
	switch spec.TokenEndpointAuthMethod {
	case "":
		spec.TokenEndpointAuthMethod = "client_secret_basic"
	case "none":
		spec.Public = true
	}
	var p []string
	for _, g := range m.GrantTypes {
		if !slices.Contains(grantTypes, g) {
			p = append(p, fmt.Sprintf("grant_types: %q is not supported (supported: %s)", g, strings.Join(grantTypes, ", ")))
		}
	}
	if len(m.GrantTypes) > 0 && !slices.Contains(m.GrantTypes, "authorization_code") {
		p = append(p, "grant_types: must include authorization_code, the grant of the code response type")
	}
	for _, r := range m.ResponseTypes {
		if !slices.Contains(responseTypes, r) {
			p = append(p, fmt.Sprintf("response_types: %q is not supported (supported: code)", r))
		}
	}
	if m.SubjectType != "" && m.SubjectType != "pairwise" {
		p = append(p, fmt.Sprintf("subject_type: %q is not supported (supported: pairwise)", m.SubjectType))
	}
	return spec, p
}

// Information is a client information response (RFC 7591 3.2.1, RFC 7592
// 3): the client's identity and credentials, then its metadata as it is
// registered, which may differ from what was asked (RFC 7591 3.2.1).
type Information struct {
	ClientID         string `json:"client_id"`
	ClientSecret     string `json:"client_secret,omitempty"`
	ClientIDIssuedAt int64  `json:"client_id_issued_at"`
	// ClientSecretExpiresAt is 0: secrets do not expire (admins rotate
	// them). Present for every client that authenticates with a secret.
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"`
	// RegistrationAccessToken is in every response (RFC 7592 3). It is
	// stored as a hash and cannot be shown again, so each read and update
	// answers with a new one, which replaces the one presented.
	RegistrationAccessToken          string          `json:"registration_access_token"`
	RegistrationClientURI            string          `json:"registration_client_uri"`
	RedirectURIs                     []string        `json:"redirect_uris"`
	PostLogoutRedirectURIs           []string        `json:"post_logout_redirect_uris,omitempty"`
	ClientName                       string          `json:"client_name"`
	LogoURI                          string          `json:"logo_uri,omitempty"`
	Contacts                         []string        `json:"contacts,omitempty"`
	TokenEndpointAuthMethod          string          `json:"token_endpoint_auth_method"`
	TokenEndpointAuthSigningAlg      string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	GrantTypes                       []string        `json:"grant_types"`
	ResponseTypes                    []string        `json:"response_types"`
	Scope                            string          `json:"scope"`
	SectorIdentifierURI              string          `json:"sector_identifier_uri,omitempty"`
	SubjectType                      string          `json:"subject_type"`
	IDTokenSignedResponseAlg         string          `json:"id_token_signed_response_alg,omitempty"`
	UserinfoSignedResponseAlg        string          `json:"userinfo_signed_response_alg,omitempty"`
	JWKS                             json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                          string          `json:"jwks_uri,omitempty"`
	RequirePAR                       bool            `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens            bool            `json:"dpop_bound_access_tokens"`
	BackchannelLogoutURI             string          `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool            `json:"backchannel_logout_session_required"`
}

// information renders c as registered, at the configuration endpoint
// clientURI, with its registration access token token, just made; secret
// only when it was just made.
func information(c *store.Client, secret, token, clientURI string) Information {
	info := Information{
		ClientID: c.ID, ClientSecret: secret, ClientIDIssuedAt: c.CreatedAt.Unix(),
		RegistrationAccessToken: token, RegistrationClientURI: clientURI,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, ClientName: c.Name,
		LogoURI: c.LogoURI, Contacts: c.Contacts, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg, GrantTypes: []string{"authorization_code"},
		ResponseTypes: responseTypes, Scope: strings.Join(c.Scopes, " "), SectorIdentifierURI: c.SectorIdentifier,
		SubjectType: "pairwise", IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, JWKSURI: c.JWKSURI,
		RequirePAR: c.RequirePushedAuthorizationRequests, DPoPBoundAccessTokens: c.DPoPBoundAccessTokens,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
	}
	if info.RedirectURIs == nil {
		info.RedirectURIs = []string{}
	}
	// Refresh tokens come only with offline_access (fosite's
	// RefreshTokenScopes), so that is when the grant is registered.
	if c.Scopes.Contains("offline_access") {
		info.GrantTypes = append(info.GrantTypes, "refresh_token")
	}
	if !c.Public && c.TokenEndpointAuthMethod != oauth.AuthPrivateKeyJWT {
		never := int64(0)
		info.ClientSecretExpiresAt = &never
	}
	if c.JWKS != "" {
		info.JWKS = json.RawMessage(c.JWKS)
	}
	return info
}
