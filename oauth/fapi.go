package oauth

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// ProfileFAPI2 is the client profile of the FAPI 2.0 Security Profile
// (final): the client must push its authorization requests, use PKCE with
// S256, authenticate with private_key_jwt and bind its tokens with DPoP,
// and its codes live FAPI2CodeLifetime.
const ProfileFAPI2 = "fapi2"

// Profiles are the client profiles an admin may pick.
var Profiles = []string{ProfileFAPI2}

// AuthPrivateKeyJWT is the token endpoint auth method of RFC 7523 2.2.
const AuthPrivateKeyJWT = "private_key_jwt"

// FAPI2CodeLifetime bounds a FAPI 2.0 client's authorization codes (FAPI
// 2.0 Security Profile 5.3.2.1: at most 60 seconds).
const FAPI2CodeLifetime = 60 * time.Second

// AssertionAlgs are the algorithms kycvs accepts on client assertions and
// DPoP proofs; fapi2Algs the ones FAPI 2.0 allows (5.4.1: PS256, ES256,
// EdDSA; not RS256).
var (
	AssertionAlgs = []string{"ES256", "PS256", "RS256"}
	fapi2Algs     = []string{"ES256", "PS256"}
)

// applyProfile sets what the spec's profile implies and a spec need not
// repeat: a FAPI 2.0 client pushes its requests, authenticates with
// private_key_jwt and binds its tokens with DPoP.
func (s *ClientSpec) applyProfile() {
	if s.Profile != ProfileFAPI2 {
		return
	}
	s.RequirePAR = true
	s.DPoPBoundAccessTokens = true
	if s.TokenEndpointAuthMethod == "" {
		s.TokenEndpointAuthMethod = AuthPrivateKeyJWT
	}
	// FAPI 2.0 5.4.1 allows no RS256 signatures.
	if s.IDTokenSignedResponseAlg == "" {
		s.IDTokenSignedResponseAlg = ES256
	}
}

// profileProblems lists what the spec's profile forbids.
func (s ClientSpec) profileProblems() []string {
	switch s.Profile {
	case "":
		return nil
	case ProfileFAPI2:
	default:
		return []string{fmt.Sprintf("profile %q: unknown (known: %s)", s.Profile, strings.Join(Profiles, ", "))}
	}
	var p []string
	if s.Public {
		p = append(p, "profile fapi2: the client must be confidential")
	}
	if s.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		p = append(p, "profile fapi2: the token endpoint auth method must be private_key_jwt")
	}
	for field, alg := range map[string]string{"id_token_signed_response_alg": s.IDTokenSignedResponseAlg, "userinfo_signed_response_alg": s.UserinfoSignedResponseAlg} {
		if alg != "" && !slices.Contains(fapi2Algs, alg) {
			p = append(p, fmt.Sprintf("profile fapi2: %s %s is not allowed (allowed: %s)", field, alg, strings.Join(fapi2Algs, ", ")))
		}
	}
	if a := s.TokenEndpointAuthSigningAlg; a != "" && !slices.Contains(fapi2Algs, a) {
		p = append(p, fmt.Sprintf("profile fapi2: token_endpoint_auth_signing_alg %s is not allowed (allowed: %s)", a, strings.Join(fapi2Algs, ", ")))
	}
	return p
}

// keyProblems checks the keys of a private_key_jwt client: exactly one of
// jwks and jwks_uri, and neither for any other client.
func (s ClientSpec) keyProblems() []string {
	var p []string
	if s.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		if s.JWKS != "" || s.JWKSURI != "" {
			p = append(p, "jwks, jwks_uri: only for token endpoint auth method private_key_jwt")
		}
		if s.TokenEndpointAuthSigningAlg != "" {
			p = append(p, "token_endpoint_auth_signing_alg: only for token endpoint auth method private_key_jwt")
		}
		return p
	}
	switch {
	case s.JWKS == "" && s.JWKSURI == "":
		p = append(p, "private_key_jwt: register the client's public keys as jwks or jwks_uri")
	case s.JWKS != "" && s.JWKSURI != "":
		p = append(p, "jwks, jwks_uri: one or the other, not both")
	case s.JWKS != "":
		for _, msg := range checkJWKS([]byte(s.JWKS)) {
			p = append(p, "jwks: "+msg)
		}
	default:
		if u, err := url.Parse(s.JWKSURI); err != nil || u.Scheme != "https" || u.Host == "" || u.Fragment != "" {
			p = append(p, fmt.Sprintf("jwks_uri %q: must be an absolute https URL without fragment", s.JWKSURI))
		}
	}
	if a := s.TokenEndpointAuthSigningAlg; a != "" && !slices.Contains(AssertionAlgs, a) {
		p = append(p, fmt.Sprintf("token_endpoint_auth_signing_alg: %s (supported: %s)", a, strings.Join(AssertionAlgs, ", ")))
	}
	return p
}
