package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
)

// ClientSpec is what an admin registers for a verifying entity.
type ClientSpec struct {
	ID                        string // optional; generated when empty
	Name                      string
	RedirectURIs              []string
	PostLogoutRedirectURIs    []string // optional; where sign-out may return the person
	Scopes                    []string // default: openid, vaccination_status
	Public                    bool
	TokenEndpointAuthMethod   string // "", client_secret_basic, client_secret_post; public clients: none
	IDTokenSignedResponseAlg  string // "", RS256, ES256
	UserinfoSignedResponseAlg string // "", RS256, ES256
	SectorIdentifier          string
	LogoURI                   string   // https (http on localhost), optional
	Contacts                  []string // e-mail addresses, optional
	// RequirePAR refuses authorization requests that were not pushed
	// first (require_pushed_authorization_requests, RFC 9126 6).
	RequirePAR bool
	// JWKS (a JSON JWK Set of public keys) or JWKSURI (https) holds the
	// keys of a private_key_jwt client (RFC 7523); exactly one of them.
	JWKS    string
	JWKSURI string
	// TokenEndpointAuthSigningAlg pins the algorithm of a private_key_jwt
	// client's assertions; "" accepts any of AssertionAlgs.
	TokenEndpointAuthSigningAlg string
	// DPoPBoundAccessTokens refuses token requests without a DPoP proof
	// (dpop_bound_access_tokens, RFC 9449 5.2).
	DPoPBoundAccessTokens bool
	// Profile is "" or ProfileFAPI2, which implies RequirePAR,
	// private_key_jwt and DPoPBoundAccessTokens (see applyProfile).
	Profile string
	// BackchannelLogoutURI receives logout tokens (Back-Channel Logout 1.0
	// 2.2): https (http only on localhost), no fragment; "" for none.
	BackchannelLogoutURI string
	// BackchannelLogoutSessionRequired: the client needs sid in logout
	// and ID tokens (kycvs always sends it).
	BackchannelLogoutSessionRequired bool
}

// SpecOf returns the spec a stored client was registered with, for an
// update that changes some of it.
func SpecOf(c *store.Client) ClientSpec {
	return ClientSpec{
		ID: c.ID, Name: c.Name, RedirectURIs: slices.Clone(c.RedirectURIs), PostLogoutRedirectURIs: slices.Clone(c.PostLogoutRedirectURIs), Scopes: slices.Clone(c.Scopes),
		Public: c.Public, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg, UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg,
		SectorIdentifier: c.SectorIdentifier, LogoURI: c.LogoURI, Contacts: slices.Clone(c.Contacts),
		RequirePAR: c.RequirePushedAuthorizationRequests, JWKS: c.JWKS, JWKSURI: c.JWKSURI,
		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg, DPoPBoundAccessTokens: c.DPoPBoundAccessTokens,
		Profile: c.Profile, BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
	}
}

// Clients registers clients and manages their secrets.
type Clients struct {
	st      *store.Store
	hasher  *SecretHasher
	now     func() time.Time
	sectors *sectorFetcher
}

// NewClients returns the registration service; secrets are hashed with a
// key derived from the server secret.
func NewClients(st *store.Store, secret []byte) *Clients {
	return &Clients{st: st, hasher: NewSecretHasher(secret), now: time.Now, sectors: newSectorFetcher(JWKSFetchConfig{})}
}

// WithFetch fetches sector identifier documents with cfg's limits (the
// server's jwks_uri limits; tests allow loopback there); it returns cs.
func (cs *Clients) WithFetch(cfg JWKSFetchConfig) *Clients {
	cs.sectors = newSectorFetcher(cfg)
	return cs
}

// Check validates spec as a registration: Validate, then its
// sector_identifier_uri fetched and checked (OIDC Core 8.1). Every way of
// registering a client goes through it.
func (cs *Clients) Check(ctx context.Context, spec ClientSpec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	spec.applyProfile()
	if spec.SectorIdentifier == "" {
		return nil
	}
	if msg := cs.sectors.check(ctx, spec.SectorIdentifier, spec.RedirectURIs); msg != "" {
		return &ValidationError{Problems: []string{msg}}
	}
	return nil
}

// WithClock makes the service read time from now (the grace periods of
// rotated secrets), for tests; it returns cs.
func (cs *Clients) WithClock(now func() time.Time) *Clients {
	cs.now = now
	return cs
}

// ValidationError lists every problem with a ClientSpec at once.
type ValidationError struct {
	Problems []string
	// BadRedirectURI is true when a redirect URI is among the problems,
	// which dynamic registration answers as invalid_redirect_uri (RFC 7591
	// 3.2.2).
	BadRedirectURI bool
}

func (e *ValidationError) Error() string { return "invalid client: " + strings.Join(e.Problems, "; ") }

var knownScopes = []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeFullyVaccinated, claims.ScopeProfile, claims.ScopePhone, claims.ScopeOfflineAccess}

// Validate checks a spec: redirect URIs absolute, without fragment, https
// (or http on a loopback host, for development, except for a fapi2
// client: see checkRedirectURI); known scopes including
// openid; supported algorithms; a pairwise sector that can be derived.
func (s ClientSpec) Validate() error {
	s.applyProfile()
	p := s.nameProblems()
	redirect := s.redirectProblems()
	p = append(p, redirect...)
	p = append(p, s.postLogoutProblems()...)
	p = append(p, s.scopeProblems()...)
	p = append(p, s.authMethodProblems()...)
	p = append(p, s.keyProblems()...)
	p = append(p, s.profileProblems()...)
	p = append(p, s.algProblems()...)
	p = append(p, s.contactProblems()...)
	p = append(p, s.sectorProblems()...)
	if len(p) == 0 {
		if _, err := claims.Sector(s.toStore()); err != nil {
			p = append(p, "sector: "+err.Error())
		}
	}
	if len(p) > 0 {
		slices.Sort(p)
		return &ValidationError{Problems: p, BadRedirectURI: len(redirect) > 0}
	}
	return nil
}

// nameProblems checks the display name and a chosen client ID.
func (s ClientSpec) nameProblems() []string {
	var p []string
	if strings.TrimSpace(s.Name) == "" || len(s.Name) > 200 {
		p = append(p, "name: 1 to 200 characters")
	}
	if s.ID != "" && (len(s.ID) > 64 || strings.ContainsAny(s.ID, " /?#%")) {
		p = append(p, "id: up to 64 characters, no spaces or URL delimiters")
	}
	return p
}

// redirectProblems checks the redirect URIs: one to 20, each as
// checkRedirectURI wants it.
func (s ClientSpec) redirectProblems() []string {
	var p []string
	if len(s.RedirectURIs) == 0 {
		p = append(p, "redirect URI: at least one")
	}
	for _, raw := range s.RedirectURIs {
		if msg := s.checkRedirectURI(raw); msg != "" {
			p = append(p, fmt.Sprintf("redirect URI %q: %s", raw, msg))
		}
	}
	if len(s.RedirectURIs) > 20 {
		p = append(p, "redirect URIs: at most 20")
	}
	return p
}

// postLogoutProblems checks the post-logout redirect URIs: at most 20,
// each by the general rule.
func (s ClientSpec) postLogoutProblems() []string {
	var p []string
	if len(s.PostLogoutRedirectURIs) > 20 {
		p = append(p, "post-logout redirect URIs: at most 20")
	}
	for _, raw := range s.PostLogoutRedirectURIs {
		if msg := checkRedirectURI(raw); msg != "" {
			p = append(p, fmt.Sprintf("post-logout redirect URI %q: %s", raw, msg))
		}
	}
	return p
}

// scopeProblems checks the scopes are known and, when given, include
// openid.
func (s ClientSpec) scopeProblems() []string {
	var p []string
	for _, sc := range s.Scopes {
		if !slices.Contains(knownScopes, sc) {
			p = append(p, fmt.Sprintf("scope %q: unknown (known: %s)", sc, strings.Join(knownScopes, ", ")))
		}
	}
	if len(s.Scopes) > 0 && !slices.Contains(s.Scopes, claims.ScopeOpenID) {
		p = append(p, "scopes: must include openid")
	}
	return p
}

// authMethodProblems checks the token endpoint auth method suits a
// public or a confidential client.
func (s ClientSpec) authMethodProblems() []string {
	switch {
	case s.Public && s.TokenEndpointAuthMethod != "" && s.TokenEndpointAuthMethod != "none":
		return []string{"token endpoint auth method: a public client uses none"}
	case !s.Public && !slices.Contains([]string{"", "client_secret_basic", "client_secret_post", AuthPrivateKeyJWT}, s.TokenEndpointAuthMethod):
		return []string{"token endpoint auth method: client_secret_basic, client_secret_post or private_key_jwt"}
	}
	return nil
}

// algProblems checks the algorithms asked for signed ID tokens and
// userinfo are ones kycvs signs with.
func (s ClientSpec) algProblems() []string {
	var p []string
	for field, alg := range map[string]string{"id_token_signed_response_alg": s.IDTokenSignedResponseAlg, "userinfo_signed_response_alg": s.UserinfoSignedResponseAlg} {
		if alg != "" && !isSupportedAlg(alg) {
			p = append(p, fmt.Sprintf("%s: %s (supported: %s)", field, alg, strings.Join(SupportedAlgs, ", ")))
		}
	}
	return p
}

// contactProblems checks what people may follow or write to: the logo
// URI, the contacts' e-mail addresses and the back-channel logout URI.
func (s ClientSpec) contactProblems() []string {
	var p []string
	if s.LogoURI != "" {
		if msg := checkWebURI(s.LogoURI); msg != "" {
			p = append(p, fmt.Sprintf("logo URI %q: %s", s.LogoURI, msg))
		}
	}
	if len(s.Contacts) > 10 {
		p = append(p, "contacts: at most 10")
	}
	for _, c := range s.Contacts {
		if a, err := mail.ParseAddress(c); err != nil || a.Address != c || len(c) > 254 {
			p = append(p, fmt.Sprintf("contact %q: not an e-mail address", c))
		}
	}
	if s.BackchannelLogoutURI != "" {
		if msg := checkBackchannelURI(s.BackchannelLogoutURI); msg != "" {
			p = append(p, fmt.Sprintf("backchannel logout URI %q: %s", s.BackchannelLogoutURI, msg))
		}
	}
	return p
}

// sectorProblems checks a sector identifier URI is one Clients.Check can
// fetch.
func (s ClientSpec) sectorProblems() []string {
	if s.SectorIdentifier == "" {
		return nil
	}
	if msg := checkWebURI(s.SectorIdentifier); msg != "" {
		return []string{fmt.Sprintf("sector identifier %q: %s", s.SectorIdentifier, msg)}
	}
	if u, _ := url.Parse(s.SectorIdentifier); u.Scheme != "https" {
		// It is fetched (Clients.Check): over https only.
		return []string{fmt.Sprintf("sector identifier %q: must be https", s.SectorIdentifier)}
	}
	return nil
}

// checkRedirectURI checks one of the spec's redirect URIs. A fapi2 client
// gets https only, loopback included: FAPI 2.0 Security Profile 5.3.2.2
// allows http redirect URIs only for native clients on the loopback
// interface (RFC 8252 7.3), and a fapi2 client is a confidential web
// client. Post-logout and back-channel logout URIs carry no authorization
// response, which is what the rule protects, so they keep the general rule.
func (s ClientSpec) checkRedirectURI(raw string) string {
	msg := checkRedirectURI(raw)
	if msg != "" || s.Profile != ProfileFAPI2 {
		return msg
	}
	if u, _ := url.Parse(raw); u.Scheme != "https" {
		return "must be https for profile fapi2, even on localhost (FAPI 2.0 Security Profile 5.3.2.2)"
	}
	return ""
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

// checkBackchannelURI checks a backchannel_logout_uri (Back-Channel Logout
// 1.0 2.2): absolute, no fragment, https (http only on a loopback host, for
// development), and no user:password, which would travel in every request.
// Where it may point is checked again at each delivery, on the address
// dialled (see LogoutDeliveryConfig).
func checkBackchannelURI(raw string) string {
	if msg := checkRedirectURI(raw); msg != "" {
		return msg
	}
	if u, _ := url.Parse(raw); u.User != nil {
		return "must not carry a user name or password"
	}
	if len(raw) > 2000 {
		return "at most 2000 characters"
	}
	return ""
}

// checkWebURI checks a logo or sector identifier URI: absolute, https (or
// http on a loopback host), no fragment.
func checkWebURI(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case !u.IsAbs() || u.Host == "":
		return "must be absolute"
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "must not have a fragment"
	case u.Scheme == "https", u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	}
	return "must be https (http only on localhost)"
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func (s ClientSpec) toStore() *store.Client {
	s.applyProfile()
	c := &store.Client{
		ID:                                 s.ID,
		Name:                               strings.TrimSpace(s.Name),
		RedirectURIs:                       store.StringList(s.RedirectURIs),
		PostLogoutRedirectURIs:             store.StringList(s.PostLogoutRedirectURIs),
		Scopes:                             store.StringList(s.Scopes),
		Public:                             s.Public,
		TokenEndpointAuthMethod:            s.TokenEndpointAuthMethod,
		IDTokenSignedResponseAlg:           s.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg:          s.UserinfoSignedResponseAlg,
		SectorIdentifier:                   s.SectorIdentifier,
		LogoURI:                            s.LogoURI,
		Contacts:                           store.StringList(s.Contacts),
		RequirePushedAuthorizationRequests: s.RequirePAR,
		JWKS:                               compactJWKS(s.JWKS),
		JWKSURI:                            s.JWKSURI,
		TokenEndpointAuthSigningAlg:        s.TokenEndpointAuthSigningAlg,
		DPoPBoundAccessTokens:              s.DPoPBoundAccessTokens,
		Profile:                            s.Profile,
		BackchannelLogoutURI:               s.BackchannelLogoutURI,
		BackchannelLogoutSessionRequired:   s.BackchannelLogoutSessionRequired,
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
	if err := cs.Check(ctx, spec); err != nil {
		return nil, "", err
	}
	c := spec.toStore()
	if c.ID == "" {
		// Hex, so an ID never starts with "-" and reads as a flag on a
		// command line.
		c.ID = randomHex(16)
	}
	var secret string
	if usesSecret(c) {
		secret = randomToken(32)
		c.SecretHash, _ = cs.hasher.Hash(ctx, []byte(secret))
	}
	if err := cs.st.CreateClient(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

// SecretMatches reports, in constant time, whether secret is the client's
// current secret (not a rotated one still in its grace period). A client
// without a secret matches nothing.
func (cs *Clients) SecretMatches(ctx context.Context, c *store.Client, secret string) bool {
	return len(c.SecretHash) > 0 && cs.hasher.Compare(ctx, c.SecretHash, []byte(secret)) == nil
}

// ErrPublicClient: a public client has no secret to rotate.
var ErrPublicClient = errors.New("a public client has no secret")

// ErrKeyClient: a client that authenticates with private_key_jwt has no
// secret to rotate; its keys are its credentials.
var ErrKeyClient = errors.New("this client authenticates with private_key_jwt and has no secret")

// usesSecret reports whether the client authenticates with a secret.
func usesSecret(c *store.Client) bool {
	return !c.Public && c.TokenEndpointAuthMethod != AuthPrivateKeyJWT
}

// Bounds of a rotated secret's grace period.
const (
	// DefaultSecretGrace is how long a replaced secret keeps working when
	// an admin rotates without saying: a day to roll the new one out.
	DefaultSecretGrace = 24 * time.Hour
	// MaxSecretGrace is the longest grace period an admin may give.
	MaxSecretGrace = 30 * 24 * time.Hour
	// maxRotatedSecrets bounds how many replaced secrets work at once.
	maxRotatedSecrets = 5
)

// ErrBadGrace: a grace period below 0 or above MaxSecretGrace.
var ErrBadGrace = errors.New("grace period must be between 0 and 30 days")

// RotateSecret replaces a confidential client's secret and returns the new
// one; the old one stops working at once (RotateSecretWithGrace with 0).
// store.ErrNotFound for an unknown client, ErrPublicClient for a public one,
// ErrKeyClient for a private_key_jwt one.
func (cs *Clients) RotateSecret(ctx context.Context, id string) (string, error) {
	secret, _, err := cs.RotateSecretWithGrace(ctx, id, 0)
	return secret, err
}

// RotateSecretWithGrace replaces a confidential client's secret and
// returns the new one, to be shown once, with the updated client. The old
// secret keeps authenticating the client for grace (stored as a rotated
// hash, see Client.GetRotatedHashes), so the verifying entity can deploy
// the new one without an outage; secrets replaced earlier keep their own
// grace periods (at most 5 work at once). A grace of 0 is for a secret that
// leaked: the old secret and every earlier one stop working at once.
// store.ErrNotFound for an unknown client, ErrPublicClient for a public
// one, ErrKeyClient for a private_key_jwt one, ErrBadGrace for a grace
// period out of bounds.
func (cs *Clients) RotateSecretWithGrace(ctx context.Context, id string, grace time.Duration) (string, *store.Client, error) {
	if grace < 0 || grace > MaxSecretGrace {
		return "", nil, ErrBadGrace
	}
	secret := randomToken(32)
	hash, _ := cs.hasher.Hash(ctx, []byte(secret))
	now := cs.now().UTC()
	c, err := cs.st.UpdateClient(ctx, id, func(c *store.Client) error {
		if c.Public {
			return ErrPublicClient
		}
		if !usesSecret(c) {
			return ErrKeyClient
		}
		var kept store.RotatedSecrets
		if grace > 0 {
			for _, r := range c.RotatedSecrets {
				if now.Before(r.ExpiresAt) {
					kept = append(kept, r)
				}
			}
			if len(c.SecretHash) > 0 {
				kept = append(kept, store.RotatedSecret{Hash: c.SecretHash, ExpiresAt: now.Add(grace)})
			}
			if len(kept) > maxRotatedSecrets {
				kept = kept[len(kept)-maxRotatedSecrets:]
			}
		}
		c.SecretHash = hash
		c.RotatedSecrets = kept
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return secret, c, nil
}

// Update changes a registered client: change edits the client's spec,
// which is then validated as a whole (a *ValidationError lists every
// problem) and written, in one read-modify-write. The ID cannot change.
// A public client made confidential gets a new secret, returned to be
// shown once; a confidential client made public loses its secrets. It
// returns the client before and after. store.ErrNotFound for an unknown
// client; change's own error unchanged.
//
// A new sector identifier, or new redirect URIs under one, is fetched and
// checked (Check) outside the transaction: change then runs a second time.
func (cs *Clients) Update(ctx context.Context, id string, change func(*ClientSpec) error) (before, after *store.Client, secret string, err error) {
	before, after, secret, err = cs.update(ctx, id, change, nil)
	var unchecked *errSectorUnchecked
	if !errors.As(err, &unchecked) {
		return before, after, secret, err
	}
	if msg := cs.sectors.check(ctx, unchecked.key.uri, unchecked.key.redirects); msg != "" {
		return nil, nil, "", &ValidationError{Problems: []string{msg}}
	}
	before, after, secret, err = cs.update(ctx, id, change, &unchecked.key)
	if errors.As(err, &unchecked) {
		// Changed again in between: let the caller try again.
		return nil, nil, "", store.ErrConflict
	}
	return before, after, secret, err
}

func (cs *Clients) update(ctx context.Context, id string, change func(*ClientSpec) error, checked *sectorKey) (before, after *store.Client, secret string, err error) {
	after, err = cs.st.UpdateClient(ctx, id, func(c *store.Client) error {
		old := *c
		before = &old
		spec := SpecOf(c)
		if err := change(&spec); err != nil {
			return err
		}
		spec.ID = id
		// Switching between public and confidential takes the method that
		// goes with the new kind, unless the change set one itself.
		switch {
		case !spec.Public && spec.TokenEndpointAuthMethod == "none":
			spec.TokenEndpointAuthMethod = ""
		case spec.Public && !c.Public && spec.TokenEndpointAuthMethod == c.TokenEndpointAuthMethod:
			spec.TokenEndpointAuthMethod = "none"
		}
		if err := spec.Validate(); err != nil {
			return err
		}
		spec.applyProfile()
		if needsSectorCheck(spec, SpecOf(c)) && !checked.covers(spec) {
			return &errSectorUnchecked{sectorKey{spec.SectorIdentifier, slices.Clone(spec.RedirectURIs)}}
		}
		n := spec.toStore()
		n.SecretHash, n.RotatedSecrets = c.SecretHash, c.RotatedSecrets
		switch {
		case !usesSecret(n):
			n.SecretHash, n.RotatedSecrets = nil, nil
		case len(c.SecretHash) == 0:
			secret = randomToken(32)
			n.SecretHash, _ = cs.hasher.Hash(ctx, []byte(secret))
		}
		n.Disabled, n.CreatedAt = c.Disabled, c.CreatedAt
		n.RegistrationTokenHash, n.RegisteredWith = c.RegistrationTokenHash, c.RegisteredWith
		*c = *n
		return nil
	})
	if err != nil {
		return nil, nil, "", err
	}
	return before, after, secret, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
