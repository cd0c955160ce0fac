package admin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// Dynamic client registration (RFC 7591, RFC 7592): an admin issues an
// initial access token, a verifying entity registers itself with it and
// receives a registration access token that reads, replaces and deletes
// its own registration. Every registration goes through the same
// oauth.Clients as the API, the console and the command line, so it is
// validated by the same rules and can do no more than a client an admin
// made; each one is audited like an admin's change.

// Initial access tokens are "kycvsiat_" + 16 hex digits (the public ID,
// stored in the clear) + "_" + 43 base64url characters (256 random bits);
// registration access tokens "kycvsrat_" + 43 base64url characters. The
// prefixes let secret scanners recognise them.
const (
	initialTokenPrefix    = "kycvsiat_"
	initialTokenIDHexLen  = 16
	initialTokenIDLen     = len(initialTokenPrefix) + initialTokenIDHexLen
	initialTokenLen       = initialTokenIDLen + 1 + 43
	registrationTokenPref = "kycvsrat_"
)

// Bounds of an initial access token.
const (
	// DefaultInitialTokenTTL is how long a token works unless the admin
	// says: a day to hand it over and register.
	DefaultInitialTokenTTL = 24 * time.Hour
	// MaxInitialTokenTTL is the longest an admin may give.
	MaxInitialTokenTTL = 30 * 24 * time.Hour
	// MaxInitialTokenUses bounds how many clients one token registers.
	MaxInitialTokenUses = 1000
)

// Actor types of registrations: a client registered with an initial
// access token, and a client acting on its own registration with its
// registration access token.
const (
	ActorInitialToken = "initial_token"
	ActorClient       = "client"
)

// ErrInvalidInitialToken is RegisterClient's one answer for a missing,
// malformed, unknown, wrong, expired, used-up or revoked initial access
// token, so the answer says nothing about which.
var ErrInvalidInitialToken = errors.New("admin: invalid initial access token")

// ErrInvalidRegistrationToken is the one answer of the registration
// management methods for an unknown client, a client without a
// registration access token, a wrong token or a disabled client, so the
// answer never tells whether a client exists (RFC 7592 2).
var ErrInvalidRegistrationToken = errors.New("admin: invalid registration access token")

// CreateInitialToken issues an initial access token that registers up to
// uses clients within ttl, and returns it, to be shown once; it is stored
// as a keyed SHA-256. name says whom it is for. *InvalidError lists bad
// arguments (uses 1 to MaxInitialTokenUses, ttl up to MaxInitialTokenTTL).
func (s *Service) CreateInitialToken(ctx context.Context, a Actor, name string, uses int, ttl time.Duration) (string, *store.InitialAccessToken, error) {
	name = strings.Join(strings.Fields(name), " ")
	var problems []string
	if name != "" && !printableName(name) {
		problems = append(problems, "name: up to 100 printable characters")
	}
	if uses < 1 || uses > MaxInitialTokenUses {
		problems = append(problems, fmt.Sprintf("uses: 1 to %d", MaxInitialTokenUses))
	}
	if ttl <= 0 || ttl > MaxInitialTokenTTL {
		problems = append(problems, "expires: more than 0 and at most 720h (30 days)")
	}
	if problems != nil {
		return "", nil, &InvalidError{Problems: problems}
	}
	var id [initialTokenIDHexLen / 2]byte
	var secret [32]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(secret[:])
	now := s.Now()
	rec := &store.InitialAccessToken{ID: initialTokenPrefix + hex.EncodeToString(id[:]), Name: name, MaxUses: uses,
		ExpiresAt: now.Add(ttl), CreatedAt: now, CreatedBy: a.Type + ":" + a.ID}
	full := rec.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.Hash = s.registrationHash(full)
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.CreateInitialAccessToken(ctx, rec); err != nil {
			return err
		}
		return s.audit(ctx, a, "initial_token.create", "initial_token", rec.ID, map[string]any{
			"name": name, "max_uses": uses, "expires_at": rec.ExpiresAt.Format(time.RFC3339)})
	})
	if err != nil {
		return "", nil, err
	}
	return full, rec, nil
}

// ListInitialTokens returns every initial access token, newest first,
// without its secret.
func (s *Service) ListInitialTokens(ctx context.Context) ([]store.InitialAccessToken, error) {
	return s.st.ListInitialAccessTokens(ctx)
}

// RevokeInitialToken stops an initial access token at once, named by its
// public ID or the whole token; clients it registered stay.
// store.ErrNotFound, store.ErrConflict when already revoked.
func (s *Service) RevokeInitialToken(ctx context.Context, a Actor, id string) (*store.InitialAccessToken, error) {
	if len(id) == initialTokenLen {
		id = id[:initialTokenIDLen]
	}
	var out *store.InitialAccessToken
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.RevokeInitialAccessToken(ctx, id, s.Now()); err != nil {
			return err
		}
		var err error
		if out, err = s.st.GetInitialAccessToken(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "initial_token.revoke", "initial_token", id, map[string]any{"uses": out.Uses, "max_uses": out.MaxUses})
	})
	return out, err
}

// Registrant is where a registration request came from, for the audit log.
type Registrant struct {
	IP        string
	RequestID string
}

// RegisterClient registers a client with an initial access token (RFC 7591
// 3): in one transaction it uses the token once, creates the client from
// spec (spec.ID is ignored: the server names the client), gives it a
// registration access token and writes the audit entry "client.register".
// It returns the client, its secret ("" when it has none) and the
// registration access token, both to be shown once. ErrInvalidInitialToken
// for any bad token, checked before the spec; *oauth.ValidationError for a
// bad spec, which leaves the token unused.
func (s *Service) RegisterClient(ctx context.Context, initialToken string, from Registrant, spec oauth.ClientSpec) (*store.Client, string, string, error) {
	if !wellFormedInitialToken(initialToken) {
		return nil, "", "", ErrInvalidInitialToken
	}
	var c *store.Client
	var secret string
	regToken := newRegistrationToken()
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		now := s.Now()
		tok, err := s.st.UpdateInitialAccessToken(ctx, initialToken[:initialTokenIDLen], func(t *store.InitialAccessToken) error {
			if !hmac.Equal(t.Hash, s.registrationHash(initialToken)) || !t.Usable(now) {
				return ErrInvalidInitialToken
			}
			t.Uses++
			t.LastUsedAt = &now
			return nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidInitialToken
		}
		if err != nil {
			return err
		}
		spec.ID = ""
		if c, secret, err = s.clients.Create(ctx, spec); err != nil {
			return err
		}
		c, err = s.st.UpdateClient(ctx, c.ID, func(c *store.Client) error {
			c.RegistrationTokenHash = s.registrationHash(regToken)
			c.RegisteredWith = tok.ID
			return nil
		})
		if err != nil {
			return err
		}
		changes := clientView(c)
		changes["secret"] = secretNote(c)
		changes["initial_token_id"] = tok.ID
		changes["initial_token_uses"] = fmt.Sprintf("%d of %d", tok.Uses, tok.MaxUses)
		a := Actor{Type: ActorInitialToken, ID: tok.ID, Name: tok.Name, IP: from.IP, RequestID: from.RequestID}
		return s.audit(ctx, a, "client.register", "client", c.ID, changes)
	})
	if err != nil {
		return nil, "", "", err
	}
	return c, secret, regToken, nil
}

// RegisteredClient returns the client whose registration the token
// manages (RFC 7592 2.1). ErrInvalidRegistrationToken unless the client
// exists, is enabled and the token is its own.
func (s *Service) RegisteredClient(ctx context.Context, clientID, token string) (*store.Client, error) {
	want := s.registrationHash(token)
	c, err := s.st.GetClient(ctx, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidRegistrationToken
	case err != nil:
		return nil, err
	}
	// hmac.Equal compares in constant time; a nil stored hash never
	// matches (admin-made clients have no registration access token).
	if len(c.RegistrationTokenHash) == 0 || !hmac.Equal(c.RegistrationTokenHash, want) || c.Disabled {
		return nil, ErrInvalidRegistrationToken
	}
	return c, nil
}

// ReadRegisteredClient answers a client read request (RFC 7592 2.1): the
// client whose registration the token manages, with a new registration
// access token to be shown once. RFC 7592 3 puts the token in every client
// information response, and kycvs keeps only a hash of it, so the answer
// carries a new one; the one presented stops working in the same
// transaction (the client MUST then discard it, RFC 7592 3). The rotation
// is audited as the client's own "client.registration_token.rotate".
// Errors as RegisteredClient.
func (s *Service) ReadRegisteredClient(ctx context.Context, clientID, token string, from Registrant) (*store.Client, string, error) {
	next := newRegistrationToken()
	var c *store.Client
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.rotateRegistrationToken(ctx, clientID, token, next); err != nil {
			return err
		}
		return s.audit(ctx, registrantActor(c, from), "client.registration_token.rotate", "client", c.ID, map[string]any{"on": "read"})
	})
	if err != nil {
		return nil, "", err
	}
	return c, next, nil
}

// rotateRegistrationToken replaces the client's registration access token
// by next if token is the current one, in one read-modify-write under the
// row's lock: of two requests racing with one token, the second finds it
// replaced (ErrInvalidRegistrationToken), so never both tokens work.
// Errors as RegisteredClient.
func (s *Service) rotateRegistrationToken(ctx context.Context, clientID, token, next string) (*store.Client, error) {
	want := s.registrationHash(token)
	c, err := s.st.UpdateClient(ctx, clientID, func(c *store.Client) error {
		// hmac.Equal compares in constant time; a nil stored hash never
		// matches (admin-made clients have no registration access token).
		if len(c.RegistrationTokenHash) == 0 || !hmac.Equal(c.RegistrationTokenHash, want) || c.Disabled {
			return ErrInvalidRegistrationToken
		}
		c.RegistrationTokenHash = s.registrationHash(next)
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidRegistrationToken
	}
	return c, err
}

// ErrSecretMismatch: a replacement names a client_secret that is not the
// client's; a client cannot choose its secret (RFC 7592 2.2).
var ErrSecretMismatch = errors.New("admin: client_secret does not match the client's secret")

// UpdateRegisteredClient replaces a self-registered client's metadata with
// spec (RFC 7592 2.2), validated as a whole like any update, and audited
// as the client's own "client.update". What the registration cannot set
// stays as the admin left it (the profile); the pairwise sector cannot
// change (ErrSectorChange), since every person's sub would. A client made
// confidential gets a secret, returned to be shown once. sentSecret, when
// not "", must be the client's current secret (ErrSecretMismatch). A
// successful update replaces the registration access token as
// ReadRegisteredClient does and returns the new one; a refused one leaves
// the token as it was. Errors as RegisteredClient, then as
// Service.UpdateClient.
func (s *Service) UpdateRegisteredClient(ctx context.Context, clientID, token string, from Registrant, spec oauth.ClientSpec, sentSecret string) (*store.Client, string, string, error) {
	var out *store.Client
	var secret string
	next := newRegistrationToken()
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		// The token is replaced first, so the row is locked before
		// anything else is read.
		c, err := s.rotateRegistrationToken(ctx, clientID, token, next)
		if err != nil {
			return err
		}
		if sentSecret != "" && !s.clients.SecretMatches(ctx, c, sentSecret) {
			return ErrSecretMismatch
		}
		out, secret, err = s.UpdateClient(ctx, registrantActor(c, from), clientID, func(cur *oauth.ClientSpec) error {
			next := spec
			next.ID, next.Profile = cur.ID, cur.Profile
			*cur = next
			return nil
		}, false)
		return err
	})
	if err != nil {
		return nil, "", "", err
	}
	return out, secret, next, nil
}

// DeleteRegisteredClient deletes a self-registered client with its tokens
// and KYC-VS API keys (RFC 7592 2.3), audited as the client's own
// "client.delete". Errors as RegisteredClient.
func (s *Service) DeleteRegisteredClient(ctx context.Context, clientID, token string, from Registrant) error {
	return s.st.InTx(ctx, func(ctx context.Context) error {
		c, err := s.RegisteredClient(ctx, clientID, token)
		if err != nil {
			return err
		}
		return s.DeleteClient(ctx, registrantActor(c, from), clientID)
	})
}

func registrantActor(c *store.Client, from Registrant) Actor {
	return Actor{Type: ActorClient, ID: c.ID, Name: c.Name, IP: from.IP, RequestID: from.RequestID}
}

// registrationHash is the keyed SHA-256 under which initial and
// registration access tokens are stored: 256 random bits need no slow KDF.
func (s *Service) registrationHash(token string) []byte {
	m := hmac.New(sha256.New, s.registrationKey)
	m.Write([]byte(token))
	return m.Sum(nil)
}

func wellFormedInitialToken(k string) bool {
	if len(k) != initialTokenLen || !strings.HasPrefix(k, initialTokenPrefix) || k[initialTokenIDLen] != '_' {
		return false
	}
	if _, err := hex.DecodeString(k[len(initialTokenPrefix):initialTokenIDLen]); err != nil {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(k[initialTokenIDLen+1:])
	return err == nil && len(b) == 32
}

func newRegistrationToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return registrationTokenPref + base64.RawURLEncoding.EncodeToString(b[:])
}

// CheckInitialToken reports whether an initial access token could register
// a client now, without using it, so a registration request is
// authenticated before its metadata is read. ErrInvalidInitialToken as
// RegisterClient; RegisterClient checks again under a lock.
func (s *Service) CheckInitialToken(ctx context.Context, initialToken string) error {
	if !wellFormedInitialToken(initialToken) {
		return ErrInvalidInitialToken
	}
	t, err := s.st.GetInitialAccessToken(ctx, initialToken[:initialTokenIDLen])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidInitialToken
	case err != nil:
		return err
	}
	if !hmac.Equal(t.Hash, s.registrationHash(initialToken)) || !t.Usable(s.Now()) {
		return ErrInvalidInitialToken
	}
	return nil
}

// InitialTokenState says whether an initial access token still works at
// now: "active", "revoked", "expired" or "used up", in that order.
func InitialTokenState(t *store.InitialAccessToken, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case !now.Before(t.ExpiresAt):
		return "expired"
	case t.Uses >= t.MaxUses:
		return "used up"
	}
	return "active"
}
