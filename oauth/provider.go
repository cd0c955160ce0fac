package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Config is the protocol side's configuration.
type Config struct {
	// Issuer is the exact issuer URL, e.g. https://kycvs.example.
	Issuer string
	// Secret is the server secret (32 bytes or more).
	Secret []byte
	// Lifetimes are the sign-in's and the tokens'; zero fields take the
	// defaults.
	Lifetimes
	// LoginURL is where a person signs in for a stored login request
	// (consent's Flow.LoginURL), as consent's FinishURL is oauth's
	// ResumeURL; default LoginPath.
	LoginURL func(challenge string) string
	// NewLoginURL is where the browser goes for a login request the
	// authorization endpoint has just stored (consent's
	// Flow.NewLoginURL, which shows that page from lr as stored rather
	// than read back); default LoginURL(lr.ID).
	NewLoginURL func(ctx context.Context, lr *store.LoginRequest) string
	// Now is the provider's clock; default time.Now. It times sign-ins,
	// sessions, PAR requests, DPoP nonces, client secrets' rotation,
	// signing keys, back-channel logout and authorization codes (issued,
	// expiring, checked). fosite offers no clock: it stamps and checks
	// the lifetimes of access and refresh tokens and ID tokens' iat and
	// exp by time.Now, and refuses to sign an ID token whose auth_time
	// (from this clock) is more than 5 seconds ahead of time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Assurance names the trust framework and registry that verified_claims
	// state; empty fields take DefaultAssurance's.
	Assurance claims.Assurance
	// Metrics counts recorded disclosures; nil counts nothing.
	Metrics Metrics
	// DPoPNonce makes the token and PAR endpoints require a server nonce
	// in DPoP proofs (RFC 9449 8), which bounds how long a proof made in
	// advance is good for.
	DPoPNonce bool
	// JWKSFetch bounds fetches of clients' jwks_uri.
	JWKSFetch JWKSFetchConfig
	// RequirePAR refuses authorization requests of every client that were
	// not pushed first (RFC 9126 6); clients can require it on their own.
	RequirePAR bool
}

// DefaultAssurance is what verified_claims state unless configured: the
// registry kycvs follows, and a trust framework named after it (OIDC4IDA
// leaves the value to the ecosystem; the operator sets the one theirs uses).
var DefaultAssurance = claims.Assurance{TrustFramework: "in_cowin", RegistryName: "Co-WIN"}

// Metrics is what the provider reports for monitoring (web.Metrics
// provides it): one call per disclosure recorded, by channel (authorize,
// userinfo, refresh) and the vaccination status disclosed (nil when the
// claim was not part of it).
type Metrics interface {
	Disclosed(channel string, status *int)
}

var _ Metrics = (*web.Metrics)(nil)

type noMetrics struct{}

func (noMetrics) Disclosed(string, *int) {}

// Lifetimes are how long a person has to sign in and how long what the
// provider issues is good for. cmd/kycvs fills them once from its flags and
// hands them whole to the provider and to the pages that state them
// (package home's privacy notice). A zero field takes its default.
type Lifetimes struct {
	// LoginTTL bounds how long a person has to finish signing in (the
	// login challenge's lifetime). Default DefaultLoginTTL.
	LoginTTL time.Duration
	// CodeTTL is the authorization code's. Default DefaultCodeTTL.
	CodeTTL time.Duration
	// AccessTokenTTL is the access token's, and so how long a client may
	// read userinfo with it. Default DefaultAccessTokenTTL.
	AccessTokenTTL time.Duration
	// IDTokenTTL is the ID token's; a retired signing key stays
	// published that long. Default DefaultIDTokenTTL.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is the refresh token's (offline_access). Default
	// DefaultRefreshTokenTTL.
	RefreshTokenTTL time.Duration
}

// The default lifetimes; cmd/kycvs's flags start from them.
const (
	DefaultCodeTTL         = 5 * time.Minute
	DefaultAccessTokenTTL  = 15 * time.Minute
	DefaultIDTokenTTL      = 15 * time.Minute
	DefaultRefreshTokenTTL = 30 * 24 * time.Hour
	DefaultLoginTTL        = 15 * time.Minute
)

// defaults fills the zero lifetimes with the defaults.
func (l *Lifetimes) defaults() {
	if l.CodeTTL == 0 {
		l.CodeTTL = DefaultCodeTTL
	}
	if l.AccessTokenTTL == 0 {
		l.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if l.IDTokenTTL == 0 {
		l.IDTokenTTL = DefaultIDTokenTTL
	}
	if l.RefreshTokenTTL == 0 {
		l.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if l.LoginTTL == 0 {
		l.LoginTTL = DefaultLoginTTL
	}
}

func (c *Config) defaults() {
	c.Lifetimes.defaults()
	if c.LoginURL == nil {
		c.LoginURL = LoginPath
	}
	if c.NewLoginURL == nil {
		loginURL := c.LoginURL
		c.NewLoginURL = func(_ context.Context, lr *store.LoginRequest) string { return loginURL(lr.ID) }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Assurance.TrustFramework == "" {
		c.Assurance.TrustFramework = DefaultAssurance.TrustFramework
	}
	if c.Assurance.RegistryName == "" {
		c.Assurance.RegistryName = DefaultAssurance.RegistryName
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
}

// Sessions is what oauth needs from the sign-in flow: the browser's current
// session (or only its ID, for a read that joins it), and ending it at
// logout.
type Sessions interface {
	CurrentSession(r *http.Request) (*store.Session, error)
	SessionID(r *http.Request) (string, bool)
	EndSession(w http.ResponseWriter, r *http.Request) error
}

// Registry is what oauth needs from the vaccination registry.
type Registry interface {
	Beneficiary(ctx context.Context, id string) (*store.Beneficiary, error)
}

// Provider is the OpenID provider: fosite composed over the store, and the
// protocol endpoints.
type Provider struct {
	cfg      Config
	st       *store.Store
	keys     *Keys
	sessions Sessions
	registry Registry
	pairwise *claims.Pairwise
	oauth2   fosite.OAuth2Provider
	fosite   *fosite.Fosite
	fcfg     *fosite.Config
	// clientKeys resolves private_key_jwt clients' keys.
	clientKeys *ClientKeys
	nonces     dpopNonces
	storage    *Storage
	discovery  []byte
	// sidKey derives sessions' sid (sidFor).
	sidKey []byte
	// logouts queues back-channel logout tokens.
	logouts *Logouts
}

// New composes the provider. keys must be loaded (Keys.Ensure).
func New(cfg Config, st *store.Store, keys *Keys, reg Registry, pw *claims.Pairwise, sessions Sessions) (*Provider, error) {
	cfg.defaults()
	if len(cfg.Secret) < 32 {
		return nil, errors.New("oauth: secret must be at least 32 bytes")
	}
	if _, err := url.Parse(cfg.Issuer); err != nil || cfg.Issuer == "" {
		return nil, fmt.Errorf("oauth: bad issuer %q", cfg.Issuer)
	}
	p := &Provider{cfg: cfg, st: st, keys: keys, sessions: sessions, registry: reg, pairwise: pw, storage: &Storage{st: st, now: cfg.Now, codeTTL: cfg.CodeTTL}}
	signer := &fositeSigner{keys: keys}
	fc := &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenTTL,
		AuthorizeCodeLifespan:          cfg.CodeTTL,
		IDTokenLifespan:                cfg.IDTokenTTL,
		RefreshTokenLifespan:           cfg.RefreshTokenTTL,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + PathToken,
		GlobalSecret:                   secrets.Derive(cfg.Secret, secrets.TokenHMAC),
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:       fosite.DefaultAudienceMatchingStrategy,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		RefreshTokenScopes:             []string{claims.ScopeOfflineAccess},
		ClientSecretsHasher:            NewSecretHasher(cfg.Secret),
		SendDebugMessagesToClients:     false,
		MinParameterEntropy:            fosite.MinParameterEntropy,
		AllowedPromptValues:            []string{"login", "none", "consent", "select_account"},
		// The authorization endpoint enforces PAR itself (mustPush), per
		// client, once the client and its redirect URI are known.
		PushedAuthorizeRequestURIPrefix: parPrefix,
		PushedAuthorizeContextLifespan:  PARLifetime,
	}
	idTokens := &idTokenStrategy{
		inner:    &openid.DefaultStrategy{Signer: signer, Config: fc},
		provider: p,
	}
	strategy := &compose.CommonStrategy{
		CoreStrategy:               codeClock{CoreStrategy: compose.NewOAuth2HMACStrategy(fc), now: cfg.Now},
		OpenIDConnectTokenStrategy: idTokens,
		Signer:                     signer,
	}
	p.storage.codeSignature = strategy.AuthorizeCodeSignature
	p.fcfg = fc
	p.oauth2 = compose.Compose(fc, p.storage, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		refreshGrantFactory(p.storage),
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2PKCEFactory,
		compose.PushedAuthorizeHandlerFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
	)
	p.fosite = p.oauth2.(*fosite.Fosite)
	p.clientKeys = NewClientKeys(cfg.JWKSFetch, cfg.Now)
	p.nonces = dpopNonces{key: secrets.Derive(cfg.Secret, secrets.DPoPNonce), now: cfg.Now}
	p.sidKey = secrets.Derive(cfg.Secret, secrets.SessionID)
	p.logouts = NewLogouts(st, cfg.Now)
	fc.ClientAuthenticationStrategy = p.authenticateClient
	d, err := p.discoveryJSON()
	if err != nil {
		return nil, err
	}
	p.discovery = d
	return p, nil
}

// codeClock checks an authorization code's expiry on the provider's clock,
// on which Storage stamped it, before fosite's token strategy checks it by
// time.Now (and its HMAC).
type codeClock struct {
	oauth2.CoreStrategy
	now func() time.Time
}

func (s codeClock) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, code string) error {
	if exp := r.GetSession().GetExpiresAt(fosite.AuthorizeCode); !exp.IsZero() && exp.Before(s.now()) {
		return fosite.ErrTokenExpired.WithHintf("Authorize code expired at '%s'.", exp)
	}
	return s.CoreStrategy.ValidateAuthorizeCode(ctx, r, code)
}

// idTokenStrategy signs ID tokens through fosite's strategy, refreshing the
// disclosed claims first when the token endpoint serves a refresh grant:
// a refreshed ID token tells the status of now, and is recorded as a
// disclosure like any other.
type idTokenStrategy struct {
	inner    openid.OpenIDConnectTokenStrategy
	provider *Provider
}

func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	if ar, ok := r.(fosite.AccessRequester); ok && ar.GetGrantTypes().ExactOne("refresh_token") {
		if sess, ok := r.GetSession().(*Session); ok {
			if err := s.provider.refreshIDTokenClaims(ctx, r.GetClient(), r.GetID(), sess); err != nil {
				return "", err
			}
		}
	}
	return s.inner.GenerateIDToken(ctx, lifespan, r)
}
