package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
)

// Client adapts a registered verifying entity to fosite.
type Client struct {
	*store.Client
	// now is when the client was read, for the grace period of rotated
	// secrets.
	now time.Time
}

var _ fosite.ClientWithSecretRotation = (*Client)(nil)

// DefaultScopes are what a client registered without --scope may ask for.
var DefaultScopes = []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus}

func (c *Client) GetID() string                      { return c.ID }
func (c *Client) GetHashedSecret() []byte            { return c.SecretHash }
func (c *Client) GetRedirectURIs() []string          { return c.RedirectURIs }
func (c *Client) GetResponseTypes() fosite.Arguments { return fosite.Arguments{"code"} }
func (c *Client) IsPublic() bool                     { return c.Public }
func (c *Client) GetAudience() fosite.Arguments      { return nil }

// GetRotatedHashes returns the hashes of the secrets a rotation replaced
// whose grace period has not ended: fosite accepts them beside the current
// secret (Clients.RotateSecret).
func (c *Client) GetRotatedHashes() [][]byte { return c.RotatedSecrets.Valid(c.now) }

// GetGrantTypes allows refresh tokens only to clients that may ask for
// offline_access.
func (c *Client) GetGrantTypes() fosite.Arguments {
	if c.Scopes.Contains(claims.ScopeOfflineAccess) {
		return fosite.Arguments{"authorization_code", "refresh_token"}
	}
	return fosite.Arguments{"authorization_code"}
}

// GetScopes returns the scopes the client may ask for.
func (c *Client) GetScopes() fosite.Arguments {
	if len(c.Scopes) == 0 {
		return DefaultScopes
	}
	return fosite.Arguments(c.Scopes)
}

// idTokenAlg is the client's registered id_token_signed_response_alg,
// RS256 when it registered none (OIDC Registration 2).
func (c *Client) idTokenAlg() string {
	if c.IDTokenSignedResponseAlg == "" {
		return RS256
	}
	return c.IDTokenSignedResponseAlg
}

// SecretHasher hashes client secrets with a keyed SHA-256. Secrets are 256
// random bits made by the server, so a slow KDF adds nothing but latency on
// every token request (DESIGN.md, Secrets).
type SecretHasher struct {
	key []byte
}

var _ fosite.Hasher = (*SecretHasher)(nil)

// NewSecretHasher derives the hashing key from the server secret.
func NewSecretHasher(secret []byte) *SecretHasher {
	return &SecretHasher{key: secrets.Derive(secret, secrets.ClientSecretHash)}
}

// Hash returns HMAC-SHA256(key, secret).
func (h *SecretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	m := hmac.New(sha256.New, h.key)
	m.Write(data)
	return m.Sum(nil), nil
}

// errSecretMismatch is all a failed comparison says.
var errSecretMismatch = errors.New("client secret does not match")

// Compare checks data against hash in constant time.
func (h *SecretHasher) Compare(ctx context.Context, hash, data []byte) error {
	want, _ := h.Hash(ctx, data)
	if len(hash) == 0 || !hmac.Equal(hash, want) {
		return errSecretMismatch
	}
	return nil
}

// displayName is what a person is shown as the client's name: its
// registered name, or its ID when it has none.
func (c *Client) displayName() string {
	if c.Name == "" {
		return c.ID
	}
	return c.Name
}
