package kycvsapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// JWS header types (RFC 8725 3.11: explicit typing), so that no token kycvs
// signs is taken for another: an ID token or signed userinfo is "JWT", a
// result is not a bearer token, and a bearer token is no result.
const (
	// TokenType is the typ of the bearer token confirmOTP returns.
	TokenType = "kycvs-token+jwt"
	// ResultType is the typ of the signed result status returns.
	ResultType = "kycvs-result+jwt"
)

// tokenAlg signs bearer tokens: kycvs alone verifies them, many times each,
// and ES256 is the cheap signature (DESIGN.md, Performance).
const tokenAlg = oauth.ES256

// tokenClaims are the bearer token's claims.
type tokenClaims struct {
	Issuer   string `json:"iss"`
	Audience string `json:"aud"` // the status endpoint's URL: the token is for nothing else
	Subject  string `json:"sub"` // pairwise, as in the result
	ClientID string `json:"client_id"`
	Txn      string `json:"txn"`
	ID       string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

func (t tokenClaims) asMap() map[string]any {
	return map[string]any{
		"iss": t.Issuer, "aud": t.Audience, "sub": t.Subject, "client_id": t.ClientID,
		"txn": t.Txn, "jti": t.ID, "iat": t.IssuedAt, "exp": t.Expiry,
	}
}

// errBadToken is all verifyToken says.
var errBadToken = errors.New("kycvsapi: invalid token")

// clockSkew tolerates another server's clock running slightly ahead.
const clockSkew = time.Minute

// signToken makes the bearer token for a verified transaction.
func (a *API) signToken(t *store.APITransaction, sub string, now time.Time) (string, error) {
	c := tokenClaims{
		Issuer: a.cfg.Issuer, Audience: a.audience, Subject: sub, ClientID: t.ClientID, Txn: t.ID,
		ID: randomID(), IssuedAt: now.Unix(), Expiry: now.Add(a.cfg.TokenTTL).Unix(),
	}
	return a.signer.SignJWS(tokenAlg, TokenType, c.asMap())
}

// verifyToken checks a bearer token's signature, type and claims; the
// caller then checks the transaction it names.
func (a *API) verifyToken(raw string, now time.Time) (*tokenClaims, error) {
	payload, err := a.signer.VerifyJWS(raw, TokenType)
	if err != nil {
		return nil, errBadToken
	}
	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errBadToken
	}
	switch {
	case c.Issuer != a.cfg.Issuer, c.Audience != a.audience,
		c.Subject == "", c.ClientID == "", c.Txn == "",
		now.Unix() >= c.Expiry, c.IssuedAt > now.Add(clockSkew).Unix():
		return nil, errBadToken
	}
	return &c, nil
}

// signResult signs the status for the entity: what it may keep as proof,
// and anyone may check against the JWKS. The algorithm is the entity's ID
// token algorithm, so it verifies results with what verifies its ID tokens.
func (a *API) signResult(client *store.Client, sub, txn string, status claims.Status, now time.Time) (string, error) {
	alg := client.IDTokenSignedResponseAlg
	if alg == "" {
		alg = oauth.RS256
	}
	return a.signer.SignJWS(alg, ResultType, map[string]any{
		"iss":                         a.cfg.Issuer,
		"aud":                         client.ID,
		"sub":                         sub,
		"iat":                         now.Unix(),
		"exp":                         now.Add(a.cfg.TokenTTL).Unix(),
		"jti":                         randomID(),
		"txn":                         txn,
		claims.ClaimVaccinationStatus: int(status),
	})
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
