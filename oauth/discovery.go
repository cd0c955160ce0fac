package oauth

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/locale"
)

// discoveryJSON renders the provider metadata once (OIDC Discovery 3).
// Clients find every endpoint and capability here and nowhere else.
func (p *Provider) discoveryJSON() ([]byte, error) {
	iss := p.cfg.Issuer
	m := map[string]any{
		"issuer":                 iss,
		"authorization_endpoint": iss + PathAuth,
		"token_endpoint":         iss + PathToken,
		"userinfo_endpoint":      iss + PathUserinfo,
		"jwks_uri":               iss + PathJWKS,
		"revocation_endpoint":    iss + PathRevoke,
		"introspection_endpoint": iss + PathIntrospect,
		"end_session_endpoint":   iss + PathEndSession,
		// Back-Channel Logout 1.0 2.1: logout tokens are POSTed to the
		// clients' backchannel_logout_uri, always with sid.
		"backchannel_logout_supported":                             true,
		"backchannel_logout_session_supported":                     true,
		"pushed_authorization_request_endpoint":                    iss + PathPAR,
		"registration_endpoint":                                    iss + PathRegister,
		"require_pushed_authorization_requests":                    p.cfg.RequirePAR,
		"scopes_supported":                                         []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeFullyVaccinated, claims.ScopeProfile, claims.ScopePhone, claims.ScopeOfflineAccess},
		"response_types_supported":                                 []string{"code"},
		"response_modes_supported":                                 responseModes,
		"authorization_response_iss_parameter_supported":           true,
		"grant_types_supported":                                    []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                                  []string{"pairwise"},
		"id_token_signing_alg_values_supported":                    SupportedAlgs,
		"userinfo_signing_alg_values_supported":                    SupportedAlgs,
		"token_endpoint_auth_methods_supported":                    []string{"client_secret_basic", "client_secret_post", AuthPrivateKeyJWT, "none"},
		"token_endpoint_auth_signing_alg_values_supported":         AssertionAlgs,
		"revocation_endpoint_auth_methods_supported":               []string{"client_secret_basic", "client_secret_post", AuthPrivateKeyJWT, "none"},
		"revocation_endpoint_auth_signing_alg_values_supported":    AssertionAlgs,
		"introspection_endpoint_auth_methods_supported":            []string{"client_secret_basic", AuthPrivateKeyJWT},
		"introspection_endpoint_auth_signing_alg_values_supported": AssertionAlgs,
		"code_challenge_methods_supported":                         []string{"S256"},
		"dpop_signing_alg_values_supported":                        DPoPAlgs,
		"claims_supported": []string{
			"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash", "rat", "sid",
			claims.ClaimVaccinationStatus, claims.ClaimFullyVaccinated, claims.ClaimName, claims.ClaimPhoneNumber, claims.ClaimPhoneNumberVerified,
		},
		"claims_parameter_supported": true,
		// OpenID Connect for Identity Assurance 1.0, 8.
		"verified_claims_supported":           true,
		"trust_frameworks_supported":          []string{p.cfg.Assurance.TrustFramework},
		"evidence_supported":                  []string{claims.EvidenceElectronicRecord},
		"claims_in_verified_claims_supported": claims.ClaimsInVerifiedClaims,
		"request_parameter_supported":         false,
		"request_uri_parameter_supported":     false,
		"require_request_uri_registration":    true,
		"prompt_values_supported":             []string{"none", "login", "consent", "select_account"},
		"display_values_supported":            []string{"page", "popup", "touch"},
		// Every language a person's pages and SMS are written in. No
		// claims_locales_supported: no claim value depends on a language.
		"ui_locales_supported":          locale.Codes(),
		"frontchannel_logout_supported": false,
	}
	return json.Marshal(m)
}

func (p *Provider) handleDiscovery(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Header("Access-Control-Allow-Origin", "*")
	c.Data(http.StatusOK, "application/json", p.discovery)
}

// handleJWKS publishes every key that is not retired, so tokens signed
// before a rotation still verify. Clients may cache it briefly.
func (p *Provider) handleJWKS(c *gin.Context) {
	body, err := jwksJSON(p.keys.Published())
	if err != nil {
		writeJSONError(c, http.StatusInternalServerError, "server_error", "The key set could not be rendered.")
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Header("Access-Control-Allow-Origin", "*")
	c.Data(http.StatusOK, "application/jwk-set+json", body)
}
