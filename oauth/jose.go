package oauth

// This file is the only place that touches JOSE libraries. fosite bundles
// go-jose v3 and signs ID tokens itself; it gets raw private keys through
// fositeSigner. Everything kycvs signs, publishes or verifies on its own
// (JWKS, signed userinfo, the KYC-VS API's tokens and results, client
// assertions, DPoP proofs) uses go-jose v4.

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// Client keys: private_key_jwt assertions (RFC 7523) and DPoP proofs (RFC
// 9449) are verified here, with go-jose v4.

// maxJWKSBytes bounds a registered or fetched client key set.
const maxJWKSBytes = 64 << 10

// keySet is a client's public keys.
type keySet struct{ set josev4.JSONWebKeySet }

// parseKeySet reads a JSON JWK Set of public signing keys; private
// material, unusable keys or an empty set are refused.
func parseKeySet(raw []byte) (*keySet, error) {
	if len(raw) > maxJWKSBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSBytes)
	}
	var ks keySet
	if err := json.Unmarshal(raw, &ks.set); err != nil {
		return nil, errors.New("not a JSON Web Key Set")
	}
	if len(ks.set.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	for i, k := range ks.set.Keys {
		switch {
		case !k.IsPublic():
			return nil, fmt.Errorf("key %d holds private key material; register public keys only", i+1)
		case !k.Valid():
			return nil, fmt.Errorf("key %d is not a valid key", i+1)
		case k.Use != "" && k.Use != "sig":
			return nil, fmt.Errorf("key %d is not for signatures (use %q)", i+1, k.Use)
		case k.Algorithm != "" && !slices.Contains(AssertionAlgs, k.Algorithm):
			return nil, fmt.Errorf("key %d: alg %s is not supported (supported: %s)", i+1, k.Algorithm, strings.Join(AssertionAlgs, ", "))
		}
	}
	return &ks, nil
}

// checkJWKS reports what is wrong with a key set a client registers.
func checkJWKS(raw []byte) []string {
	if _, err := parseKeySet(raw); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// compactJWKS stores a key set without the registrant's whitespace.
func compactJWKS(raw string) string {
	if raw == "" {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err != nil {
		return raw
	}
	return buf.String()
}

// errUnknownKID: the JWT names a key the set does not hold (or names none
// and no key of its algorithm verifies it).
var errUnknownKID = errors.New("the JWT is signed with a key the client has not registered")

// signedJWT is a parsed, not yet verified, compact JWS.
type signedJWT struct {
	jws *josev4.JSONWebSignature
	// Alg, KID and Typ come from the protected header.
	Alg, KID, Typ string
	// Claims is the unverified payload; only Verify's answer may be
	// trusted.
	Claims jwtClaims
}

// jwtClaims are the claims of client assertions and DPoP proofs.
type jwtClaims struct {
	Iss string          `json:"iss"`
	Sub string          `json:"sub"`
	Aud json.RawMessage `json:"aud"`
	Exp *int64          `json:"exp"`
	Nbf *int64          `json:"nbf"`
	Iat *int64          `json:"iat"`
	JTI string          `json:"jti"`
	// DPoP proofs (RFC 9449 4.2).
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	ATH   string `json:"ath"`
	Nonce string `json:"nonce"`
}

// audiences returns aud as a list, whether one string or an array.
func (c jwtClaims) audiences() []string {
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(c.Aud, &many)
	return many
}

// parseJWT parses a compact JWS signed with one of algs.
func parseJWT(token string, algs []string) (*signedJWT, error) {
	sa := make([]josev4.SignatureAlgorithm, len(algs))
	for i, a := range algs {
		sa[i] = josev4.SignatureAlgorithm(a)
	}
	jws, err := josev4.ParseSignedCompact(token, sa)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("not a compact JWS signed with a supported algorithm")
	}
	h := jws.Signatures[0].Protected
	t := &signedJWT{jws: jws, Alg: h.Algorithm, KID: h.KeyID}
	t.Typ, _ = h.ExtraHeaders[josev4.HeaderType].(string)
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &t.Claims); err != nil {
		return nil, errors.New("the JWT's claims are not a JSON object")
	}
	return t, nil
}

// verifyWith checks the signature with the key of ks the header names, or
// with each key of the right type when it names none. errUnknownKID when
// no key fits.
func (t *signedJWT) verifyWith(ks *keySet) error {
	var candidates []josev4.JSONWebKey
	if t.KID != "" {
		candidates = ks.set.Key(t.KID)
	} else {
		candidates = ks.set.Keys
	}
	for _, k := range candidates {
		if k.Algorithm != "" && k.Algorithm != t.Alg {
			continue
		}
		if _, err := t.jws.Verify(k.Key); err == nil {
			return nil
		} else if t.KID != "" {
			return errors.New("the JWT's signature does not verify")
		}
	}
	return errUnknownKID
}

// dpopKey returns the public key a DPoP proof carries in its jwk header
// and the key's SHA-256 thumbprint (RFC 7638), base64url: the jkt tokens
// are bound to (RFC 9449 6.1). The signature is checked with that key.
func (t *signedJWT) dpopKey() (string, error) {
	jwk := t.jws.Signatures[0].Protected.JSONWebKey
	if jwk == nil || !jwk.IsPublic() || !jwk.Valid() {
		return "", errors.New("the proof carries no public jwk")
	}
	if _, err := t.jws.Verify(jwk.Key); err != nil {
		return "", errors.New("the proof's signature does not verify with its jwk")
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", errors.New("the proof's jwk has no thumbprint")
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}
