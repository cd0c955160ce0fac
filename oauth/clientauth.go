package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/kycvs/kycvs/store"
)

// jwtBearerAssertion is the client_assertion_type of RFC 7523 2.2.
const jwtBearerAssertion = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Bounds on the times in client assertions and DPoP proofs.
const (
	// clockSkew is how far a client's clock may run ahead of ours.
	clockSkew = 60 * time.Second
	// maxAssertionLife bounds exp - now: a used jti is stored until exp,
	// and an assertion is made for one request.
	maxAssertionLife = time.Hour
)

// authenticateClient is fosite's client authentication at the token, PAR,
// introspection and revocation endpoints: a private_key_jwt assertion is
// verified here; every other method is fosite's (client_secret_basic,
// client_secret_post, none).
func (p *Provider) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	switch form.Get("client_assertion_type") {
	case "":
		if form.Get("client_assertion") != "" {
			return nil, fosite.ErrInvalidRequest.WithHint("client_assertion needs client_assertion_type.")
		}
		return p.fosite.DefaultClientAuthenticationStrategy(ctx, r, form)
	case jwtBearerAssertion:
		return p.verifyClientAssertion(ctx, r, form)
	default:
		return nil, fosite.ErrInvalidRequest.WithHint("Unknown client_assertion_type.")
	}
}

// verifyClientAssertion authenticates a private_key_jwt client (RFC 7523
// 3): the assertion is signed by one of the client's registered keys with
// a supported algorithm, iss and sub are the client, aud is the issuer or
// the URL of the endpoint it was sent to, it has not expired, and its jti
// was never used before, by any process (the database decides). Every
// failure is invalid_client.
func (p *Provider) verifyClientAssertion(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
	raw := form.Get("client_assertion")
	if raw == "" {
		return nil, fosite.ErrInvalidRequest.WithHint("client_assertion is missing.")
	}
	if r.Header.Get("Authorization") != "" || form.Get("client_secret") != "" {
		// RFC 6749 2.3: one authentication method per request.
		return nil, fosite.ErrInvalidRequest.WithHint("Use one client authentication method, not several.")
	}
	t, err := parseJWT(raw, AssertionAlgs)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion is not a JWT signed with " + joinAlgs(AssertionAlgs) + ".")
	}
	id := t.Claims.Sub
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return nil, fosite.ErrInvalidClient.WithHint("client_id and the assertion's sub differ.")
	}
	if id == "" || t.Claims.Iss != id {
		return nil, fosite.ErrInvalidClient.WithHint("The assertion's iss and sub must both be the client_id.")
	}
	client, err := p.storage.GetClient(ctx, id)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, fosite.ErrInvalidClient.WithHint("The client is unknown or disabled.")
	}
	if err != nil {
		return nil, err
	}
	c := client.(*Client)
	if c.TokenEndpointAuthMethod != AuthPrivateKeyJWT {
		return nil, fosite.ErrInvalidClient.WithHintf("The client is registered for '%s' authentication.", c.TokenEndpointAuthMethod)
	}
	if err := p.verifyAssertionSignature(ctx, c, t); err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	if err := checkTimes(t.Claims, now, maxAssertionLife); err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion " + err.Error() + ".")
	}
	if !p.assertionAudience(r, t.Claims.audiences()) {
		return nil, fosite.ErrInvalidClient.WithHintf("The assertion's aud must be the issuer %s or the URL of this endpoint.", p.cfg.Issuer)
	}
	if t.Claims.JTI == "" {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion has no jti.")
	}
	err = p.st.UseJWTID(ctx, store.JTIClientAssertion, jtiKey(id, t.Claims.JTI), time.Unix(*t.Claims.Exp, 0))
	if errors.Is(err, store.ErrAlreadyExists) {
		return nil, fosite.ErrInvalidClient.WithHint("The client_assertion's jti was used before; make a new assertion for every request.")
	}
	if err != nil {
		return nil, err
	}
	return client, nil
}

// verifyAssertionSignature checks t is signed with an algorithm client c
// may use (its registered one, else its profile's), by one of its keys;
// a key ID it does not know has its jwks_uri fetched again once. Every
// failure is invalid_client.
func (p *Provider) verifyAssertionSignature(ctx context.Context, c *Client, t *signedJWT) error {
	algs := AssertionAlgs
	if c.Profile == ProfileFAPI2 {
		algs = fapi2Algs
	}
	if a := c.TokenEndpointAuthSigningAlg; a != "" {
		algs = []string{a}
	}
	if !slices.Contains(algs, t.Alg) {
		return fosite.ErrInvalidClient.WithHintf("The client's assertions must be signed with %s.", joinAlgs(algs))
	}
	ks, err := p.clientKeys.Keys(ctx, c, false)
	if err == nil {
		err = t.verifyWith(ks)
		if errors.Is(err, errUnknownKID) && c.JWKSURI != "" {
			// The client may have rotated its keys since we fetched them.
			ks, err = p.clientKeys.Keys(ctx, c, true)
			if err == nil {
				err = t.verifyWith(ks)
			}
		}
	}
	var fetchErr *jwksFetchError
	switch {
	case errors.As(err, &fetchErr):
		// The detail (addresses, statuses) stays in the log: echoed to the
		// caller it would map the network behind kycvs.
		p.cfg.Logger.WarnContext(ctx, "client keys unavailable", "client_id", c.ID, "err", err)
		return fosite.ErrInvalidClient.WithHint("The client's jwks_uri could not be fetched within kycvs's limits (https, public address, 5 seconds, 64 KiB).")
	case err != nil:
		return fosite.ErrInvalidClient.WithHint("The client_assertion could not be verified: " + err.Error() + ".")
	}
	return nil
}

// jtiKey is the stored key of a jti: the SHA-256 of who issued it and the
// jti, so it has a fixed length whatever the JWT says.
func jtiKey(issuer, jti string) string {
	sum := sha256.Sum256([]byte(issuer + "\x00" + jti))
	return hex.EncodeToString(sum[:])
}

// assertionAudience accepts the issuer (FAPI 2.0 5.3.2.1, RFC 7523bis) or
// the URL of the endpoint the assertion was sent to (RFC 7523 3).
func (p *Provider) assertionAudience(r *http.Request, aud []string) bool {
	endpoint := p.cfg.Issuer + r.URL.Path
	for _, a := range aud {
		if a == p.cfg.Issuer || a == endpoint {
			return true
		}
	}
	return false
}

// checkTimes checks exp (required, not past, at most maxLife ahead), nbf
// and iat (not ahead of now beyond the clock skew). The error completes
// a sentence about the JWT.
func checkTimes(c jwtClaims, now time.Time, maxLife time.Duration) error {
	switch {
	case c.Exp == nil:
		return errors.New("has no exp")
	case !now.Before(time.Unix(*c.Exp, 0).Add(clockSkew)):
		return errors.New("has expired")
	case time.Unix(*c.Exp, 0).After(now.Add(maxLife)):
		return errors.New("expires too far ahead (exp at most an hour from now)")
	case c.Nbf != nil && time.Unix(*c.Nbf, 0).After(now.Add(clockSkew)):
		return errors.New("is not valid yet (nbf)")
	case c.Iat != nil && time.Unix(*c.Iat, 0).After(now.Add(clockSkew)):
		return errors.New("was issued in the future (iat)")
	}
	return nil
}

func joinAlgs(algs []string) string {
	out := ""
	for i, a := range algs {
		switch {
		case i == 0:
		case i == len(algs)-1:
			out += " or "
		default:
			out += ", "
		}
		out += a
	}
	return out
}
