package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// ClientSpec is what an admin registers for a verifying entity.
type ClientSpec struct {
	ID                        string // optional; generated when empty
	Name                      string
	RedirectURIs              []string
	Scopes                    []string // default: openid, vaccination_status
	Public                    bool
	TokenEndpointAuthMethod   string // "", client_secret_basic, client_secret_post; public clients: none
	IDTokenSignedResponseAlg  string // "", RS256, ES256
	UserinfoSignedResponseAlg string // "", RS256, ES256
	SectorIdentifier          string
}

// Clients registers clients and manages their secrets.
type Clients struct {
	st     *store.Store
	hasher *SecretHasher
}

// NewClients returns the registration service; secrets are hashed with a
// key derived from the server secret.
func NewClients(st *store.Store, secret []byte) *Clients {
	return &Clients{st: st, hasher: NewSecretHasher(secret)}
}

// ValidationError lists every problem with a ClientSpec at once.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string { return "invalid client: " + strings.Join(e.Problems, "; ") }

var knownScopes = []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeProfile, claims.ScopePhone, claims.ScopeOfflineAccess}

// Validate checks a spec: redirect URIs absolute, without fragment, https
// (or http on a loopback host, for development); known scopes including
// openid; supported algorithms; a pairwise sector that can be derived.
func (s ClientSpec) Validate() error {
	var p []string
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > 200 {
		p = append(p, "name: 1 to 200 characters")
	}
	if s.ID != "" && (len(s.ID) > 64 || strings.ContainsAny(s.ID, " /?#%")) {
		p = append(p, "id: up to 64 characters, no spaces or URL delimiters")
	}
	if len(s.RedirectURIs) == 0 {
		p = append(p, "redirect URI: at least one")
	}
	for _, raw := range s.RedirectURIs {
		if msg := checkRedirectURI(raw); msg != "" {
			p = append(p, fmt.Sprintf("redirect URI %q: %s", raw, msg))
		}
	}
	for _, sc := range s.Scopes {
		if !slices.Contains(knownScopes, sc) {
			p = append(p, fmt.Sprintf("scope %q: unknown (known: %s)", sc, strings.Join(knownScopes, ", ")))
		}
	}
	if len(s.Scopes) > 0 && !slices.Contains(s.Scopes, claims.ScopeOpenID) {
		p = append(p, "scopes: must include openid")
	}
	switch {
	case s.Public && s.TokenEndpointAuthMethod != "" && s.TokenEndpointAuthMethod != "none":
		p = append(p, "token endpoint auth method: a public client uses none")
	case !s.Public && !slices.Contains([]string{"", "client_secret_basic", "client_secret_post"}, s.TokenEndpointAuthMethod):
		p = append(p, "token endpoint auth method: client_secret_basic or client_secret_post")
	}
	for field, alg := range map[string]string{"id_token_signed_response_alg": s.IDTokenSignedResponseAlg, "userinfo_signed_response_alg": s.UserinfoSignedResponseAlg} {
		if alg != "" && !isSupportedAlg(alg) {
			p = append(p, fmt.Sprintf("%s: %s (supported: %s)", field, alg, strings.Join(SupportedAlgs, ", ")))
		}
	}
	if len(p) == 0 {
		if _, err := claims.Sector(s.toStore()); err != nil {
			p = append(p, "sector: "+err.Error())
		}
	}
	if len(p) > 0 {
		slices.Sort(p)
		return &ValidationError{Problems: p}
	}
	return nil
}

func checkRedirectURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case !u.IsAbs() || u.Host == "":
		return "must be absolute"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment (RFC 6749 3.1.2)"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must be https (http only on localhost)"
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (s ClientSpec) toStore() *store.Client {
	c := &store.Client{
		ID:                        s.ID,
		Name:                      strings.TrimSpace(s.Name),
		RedirectURIs:              store.StringList(s.RedirectURIs),
		Scopes:                    store.StringList(s.Scopes),
		Public:                    s.Public,
		TokenEndpointAuthMethod:   s.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg:  s.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: s.UserinfoSignedResponseAlg,
		SectorIdentifier:          s.SectorIdentifier,
	}
	if len(c.Scopes) == 0 {
		c.Scopes = store.StringList(DefaultScopes)
	}
	if c.Public {
		c.TokenEndpointAuthMethod = "none"
	}
	return c
}

// Create registers a client. For a confidential client it returns the
// secret, 256 random bits, which is shown once and stored only as a keyed
// hash. It returns a *ValidationError for a bad spec and
// store.ErrAlreadyExists for a taken ID.
func (cs *Clients) Create(ctx context.Context, spec ClientSpec) (*store.Client, string, error) {
	if err := spec.Validate(); err != nil {
		return nil, "", err
	}
	c := spec.toStore()
	if c.ID == "" {
		c.ID = randomToken(16)
	}
	var secret string
	if !c.Public {
		secret = randomToken(32)
		c.SecretHash, _ = cs.hasher.Hash(ctx, []byte(secret))
	}
	if err := cs.st.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// ErrPublicClient: public clients have no secret to rotate.
var ErrPublicClient = errors.New("public clients have no secret")

// RotateSecret replaces a confidential client's secret and returns the new
// one; the old one stops working at once. store.ErrNotFound for an unknown
// client.
func (cs *Clients) RotateSecret(ctx context.Context, id string) (string, error) {
	secret := randomToken(32)
	hash, _ := cs.hasher.Hash(ctx, []byte(secret))
	_, err := cs.st.UpdateClient(ctx, id, func(c *store.Client) error {
		if c.Public {
			return ErrPublicClient
		}
		c.SecretHash = hash
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
