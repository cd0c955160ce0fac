package oauth

// This file is the only place that touches JOSE libraries. fosite bundles
// go-jose v3 and signs ID tokens itself; it gets raw private keys through
// fositeSigner. Everything kycvs signs or publishes on its own (JWKS, signed
// userinfo, the KYC-VS API's tokens and results) uses go-jose v4.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	josev4 "github.com/go-jose/go-jose/v4"
	fositejwt "github.com/ory/fosite/token/jwt"
)

// fositeSigner implements fosite's jwt.Signer over Keys. The algorithm comes
// from the token header (set per client in the session, see newSession),
// so one provider signs RS256 and ES256 alike.
type fositeSigner struct {
	keys *Keys
}

var _ fositejwt.Signer = (*fositeSigner)(nil)

// Generate signs claims with the current key for the header's "alg"
// (RS256 when absent) and stamps its kid.
func (s *fositeSigner) Generate(ctx context.Context, claims fositejwt.MapClaims, header fositejwt.Mapper) (string, string, error) {
	alg := RS256
	// Headers.ToMap drops "alg", so read the session's choice directly.
	if h, ok := header.(*fositejwt.Headers); ok && h != nil {
		if a, ok := h.Get("alg").(string); ok && a != "" {
			alg = a
		}
	}
	key := s.keys.Current(alg)
	if key == nil {
		return "", "", fmt.Errorf("no signing key for %s", alg)
	}
	h := &fositejwt.Headers{Extra: map[string]any{}}
	if header != nil {
		for k, v := range header.ToMap() {
			h.Extra[k] = v
		}
	}
	h.Extra["kid"] = key.KID
	h.Extra["typ"] = "JWT"
	return s.signer(key).Generate(ctx, claims, h)
}

// signer wraps one raw key in fosite's own signer.
func (s *fositeSigner) signer(key *SigningKey) *fositejwt.DefaultSigner {
	return &fositejwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return key.Private, nil }}
}

// keyFor picks the published key a token names in its header.
func (s *fositeSigner) keyFor(token string) (*SigningKey, error) {
	kid, err := headerKID(token)
	if err != nil {
		return nil, err
	}
	key := s.keys.ByKID(kid)
	if key == nil {
		return nil, errors.New("token signed by an unknown key")
	}
	return key, nil
}

// Validate checks a token we signed and returns its signature.
func (s *fositeSigner) Validate(ctx context.Context, token string) (string, error) {
	key, err := s.keyFor(token)
	if err != nil {
		return "", err
	}
	return s.signer(key).Validate(ctx, token)
}

// Decode parses and verifies a token we signed (an id_token_hint). Expired
// tokens come back with a validation error fosite tolerates for hints.
func (s *fositeSigner) Decode(ctx context.Context, token string) (*fositejwt.Token, error) {
	key, err := s.keyFor(token)
	if err != nil {
		return nil, err
	}
	return s.signer(key).Decode(ctx, token)
}

// Hash is SHA-256, the hash of both RS256 and ES256 (for at_hash, c_hash).
func (s *fositeSigner) Hash(ctx context.Context, in []byte) ([]byte, error) {
	return (&fositejwt.DefaultSigner{}).Hash(ctx, in)
}

func (s *fositeSigner) GetSignature(ctx context.Context, token string) (string, error) {
	return (&fositejwt.DefaultSigner{}).GetSignature(ctx, token)
}

func (s *fositeSigner) GetSigningMethodLength(context.Context) int {
	return fositejwt.SHA256HashSize
}

// headerKID reads the kid from a compact JWS without verifying it; the
// caller verifies with the key it names.
func headerKID(token string) (string, error) {
	sig, err := josev4.ParseSigned(token, []josev4.SignatureAlgorithm{josev4.RS256, josev4.ES256})
	if err != nil {
		return "", fmt.Errorf("malformed token: %w", err)
	}
	if len(sig.Signatures) != 1 || sig.Signatures[0].Header.KeyID == "" {
		return "", errors.New("token names no key")
	}
	return sig.Signatures[0].Header.KeyID, nil
}

// jwksJSON renders the public halves of the published keys as a JWK Set.
func jwksJSON(keys []*SigningKey) ([]byte, error) {
	set := josev4.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, josev4.JSONWebKey{
			Key:       k.Private.Public(),
			KeyID:     k.KID,
			Algorithm: k.Alg,
			Use:       "sig",
		})
	}
	return json.Marshal(set)
}

// signJWT signs claims as a compact JWS with the current key for alg, for
// signed userinfo responses (OIDC Core 5.3.2).
func signJWT(keys *Keys, alg string, claims map[string]any) (string, error) {
	return keys.SignJWS(alg, "JWT", claims)
}

// SignJWS signs claims as a compact JWS with the current key for alg
// (RS256 or ES256), its kid and the header typ, for what kycvs signs
// outside fosite (the KYC-VS API's tokens and results); anyone verifies it
// with the JWKS. A distinct typ per use (RFC 8725 3.11) keeps one kind of
// token from being accepted as another. It returns an error when alg has
// no current key.
func (k *Keys) SignJWS(alg, typ string, claims map[string]any) (string, error) {
	key := k.Current(alg)
	if key == nil {
		return "", fmt.Errorf("no signing key for %s", alg)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	opts := (&josev4.SignerOptions{}).WithType(josev4.ContentType(typ)).WithHeader(josev4.HeaderKey("kid"), key.KID)
	signer, err := josev4.NewSigner(josev4.SigningKey{Algorithm: josev4.SignatureAlgorithm(alg), Key: key.Private}, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// errBadJWS is all VerifyJWS says about a token it refuses.
var errBadJWS = errors.New("not a valid token")

// VerifyJWS checks a compact JWS that SignJWS made with typ: one
// signature, by the published key its kid names, with that key's
// algorithm, and the header typ equal to typ. It returns the payload, whose
// claims (iss, aud, exp, ...) the caller checks; any failure is one opaque
// error, safe to log.
func (k *Keys) VerifyJWS(token, typ string) ([]byte, error) {
	sig, err := josev4.ParseSigned(token, []josev4.SignatureAlgorithm{josev4.RS256, josev4.ES256})
	if err != nil || len(sig.Signatures) != 1 {
		return nil, errBadJWS
	}
	h := sig.Signatures[0].Protected
	if got, _ := h.ExtraHeaders[josev4.HeaderType].(string); got != typ {
		return nil, errBadJWS
	}
	key := k.ByKID(h.KeyID)
	if key == nil || h.Algorithm != key.Alg {
		return nil, errBadJWS
	}
	payload, err := sig.Verify(key.Private.Public())
	if err != nil {
		return nil, errBadJWS
	}
	return payload, nil
}

// isSupportedAlg reports whether alg is one kycvs signs with.
func isSupportedAlg(alg string) bool {
	for _, a := range SupportedAlgs {
		if a == alg {
			return true
		}
	}
	return false
}
