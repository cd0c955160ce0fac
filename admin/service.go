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
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/secrets"
	"github.com/kycvs/kycvs/store"
)

// Actor is who does an admin action, as the audit log records it.
type Actor struct {
	// Type is "api_key", "user" (console) or "cli".
	Type string
	// ID is the API key's public ID, the user's ID, or for the CLI the
	// operating-system user and host ("root@db-1").
	ID   string
	Name string
	Role Role
	// IP is where the request came from ("" for the CLI).
	IP        string
	RequestID string
}

// Actor types.
const (
	ActorAPIKey = "api_key"
	ActorUser   = "user"
	ActorCLI    = "cli"
)

// CLIActor is the actor of a command-line change: whoever can run the
// command line with the database URL and the server secret can do
// everything, so it acts as owner.
func CLIActor(user, host string) Actor {
	id := user + "@" + host
	return Actor{Type: ActorCLI, ID: id, Name: id, Role: RoleOwner}
}

// Service is every admin change, each written together with its audit
// entry in one transaction, so no change is ever without its entry. The
// API, the console and the command line all go through it. It checks no
// permission: callers do (RequirePermission), the CLI acting as owner.
type Service struct {
	st        *store.Store
	clients   *oauth.Clients
	keys      *oauth.Keys
	apiKeys   *kycvsapi.APIKeys
	adminKey  []byte
	cursorKey []byte // MACs list cursors (encodeCursor)
	// registrationKey hashes initial and registration access tokens.
	registrationKey []byte
	// totp seals admins' TOTP secrets at rest.
	totp      *sealedBox
	now       func() time.Time
	newRandom func() string
	imports   importTracker
	// logouts tells clients, by back-channel logout, of sign-ins an
	// admin ends.
	logouts *oauth.Logouts
}

// NewService returns the admin service. keys may be nil for a caller that
// never rotates keys; secret is the server secret (admin API keys are
// hashed with a key derived from it).
func NewService(st *store.Store, secret []byte, clients *oauth.Clients, keys *oauth.Keys, apiKeys *kycvsapi.APIKeys, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, clients: clients, keys: keys, apiKeys: apiKeys, adminKey: secrets.Derive(secret, secrets.AdminKey),
		cursorKey: secrets.Derive(secret, secrets.AdminCursor), registrationKey: secrets.Derive(secret, secrets.RegistrationToken), totp: newSealedBox(secrets.Derive(secret, secrets.AdminTOTP)), now: now, newRandom: randomID, logouts: oauth.NewLogouts(st, now)}
}

// WithLogouts makes the service queue back-channel logout tokens through
// l (the provider's, so the server delivers them at once) instead of a
// queue producer of its own; the deliveries are the same rows either way.
func (s *Service) WithLogouts(l *oauth.Logouts) *Service {
	s.logouts = l
	return s
}

// Store returns the store the service writes, for reads.
func (s *Service) Store() *store.Store { return s.st }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

// audit records one entry in ctx's transaction.
func (s *Service) audit(ctx context.Context, a Actor, action, targetType, targetID string, changes map[string]any) error {
	return s.st.CreateAuditEntry(ctx, &store.AuditEntry{
		ID: s.newRandom(), At: s.Now(), ActorType: a.Type, ActorID: a.ID, ActorName: a.Name, Role: string(a.Role),
		IP: a.IP, RequestID: a.RequestID, Action: action, TargetType: targetType, TargetID: targetID,
		Changes: store.JSONObject(changes),
	})
}

// Audit records an action that changes nothing kycvs stores but must be
// accounted for: a sign-in, a read of personal data.
func (s *Service) Audit(ctx context.Context, a Actor, action, targetType, targetID string, details map[string]any) error {
	return s.audit(ctx, a, action, targetType, targetID, details)
}

// ErrSectorChange: an update would change the client's pairwise sector,
// and so every subject the client has seen, without being allowed to.
var ErrSectorChange = errors.New("the change moves the client to another pairwise sector: every person's sub would change for it")

// clientView is what the audit log keeps of a client: everything but its
// secrets, which it says only exist.
func clientView(c *store.Client) map[string]any {
	return map[string]any{
		"name": c.Name, "redirect_uris": []string(c.RedirectURIs), "post_logout_redirect_uris": []string(c.PostLogoutRedirectURIs), "scopes": []string(c.Scopes), "public": c.Public,
		"token_endpoint_auth_method": c.TokenEndpointAuthMethod, "id_token_signed_response_alg": c.IDTokenSignedResponseAlg,
		"userinfo_signed_response_alg": c.UserinfoSignedResponseAlg, "sector_identifier_uri": c.SectorIdentifier,
		"logo_uri": c.LogoURI, "contacts": []string(c.Contacts), "disabled": c.Disabled,
		"require_pushed_authorization_requests": c.RequirePushedAuthorizationRequests, "jwks": c.JWKS, "jwks_uri": c.JWKSURI,
		"token_endpoint_auth_signing_alg": c.TokenEndpointAuthSigningAlg, "dpop_bound_access_tokens": c.DPoPBoundAccessTokens,
		"profile": c.Profile, "backchannel_logout_uri": c.BackchannelLogoutURI,
		"backchannel_logout_session_required": c.BackchannelLogoutSessionRequired,
	}
}

// diff returns {"field": {"from": a, "to": b}} for every field that differs.
func diff(before, after map[string]any) map[string]any {
	out := map[string]any{}
	for k, b := range before {
		if a := after[k]; !reflect.DeepEqual(normal(a), normal(b)) {
			out[k] = map[string]any{"from": b, "to": a}
		}
	}
	return out
}

// normal makes a nil and an empty list compare equal.
func normal(v any) any {
	if l, ok := v.([]string); ok && len(l) == 0 {
		return []string{}
	}
	return v
}

// CreateClient registers a client and returns it with its secret (shown
// once; "" for a public client). *oauth.ValidationError for a bad spec,
// store.ErrAlreadyExists for a taken ID.
func (s *Service) CreateClient(ctx context.Context, a Actor, spec oauth.ClientSpec) (*store.Client, string, error) {
	var c *store.Client
	var secret string
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		if c, secret, err = s.clients.Create(ctx, spec); err != nil {
			return err
		}
		changes := clientView(c)
		changes["secret"] = secretNote(c)
		return s.audit(ctx, a, "client.create", "client", c.ID, changes)
	})
	if err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func secretNote(c *store.Client) string {
	if c.Public {
		return "none (public client)"
	}
	return "issued"
}

// UpdateClient changes a client (see oauth.Clients.Update). Unless
// allowSectorChange, a change of its pairwise sector is ErrSectorChange. A
// client made confidential gets a new secret, returned to be shown once.
func (s *Service) UpdateClient(ctx context.Context, a Actor, id string, change func(*oauth.ClientSpec) error, allowSectorChange bool) (*store.Client, string, error) {
	var after *store.Client
	var secret string
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		before, c, sec, err := s.clients.Update(ctx, id, change)
		if err != nil {
			return err
		}
		after, secret = c, sec
		was, _ := claims.Sector(before)
		is, _ := claims.Sector(after)
		if was != is && !allowSectorChange {
			return ErrSectorChange
		}
		changes := diff(clientView(before), clientView(after))
		if len(changes) == 0 {
			return nil
		}
		if secret != "" {
			changes["secret"] = "issued"
		}
		if after.Public && !before.Public {
			changes["secret"] = "removed"
		}
		if was != is {
			changes["sector"] = map[string]any{"from": was, "to": is}
		}
		return s.audit(ctx, a, "client.update", "client", id, changes)
	})
	if err != nil {
		return nil, "", err
	}
	return after, secret, nil
}

// SetClientDisabled disables or enables a client. A disabled client is
// unknown to the protocol: it gets no tokens, its tokens stop working, its
// KYC-VS API keys are refused; enabling it brings back the tokens that
// have not expired. Disabling queues a back-channel logout token for each
// of its live sign-ins (when it has a backchannel_logout_uri), in the same
// transaction. Setting the state it has already is not an error and is
// not audited.
func (s *Service) SetClientDisabled(ctx context.Context, a Actor, id string, disabled bool) (*store.Client, error) {
	var out *store.Client
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		changed := false
		c, err := s.st.UpdateClient(ctx, id, func(c *store.Client) error {
			changed = c.Disabled != disabled
			c.Disabled = disabled
			return nil
		})
		if err != nil {
			return err
		}
		out = c
		if !changed {
			return nil
		}
		action := "client.enable"
		changes := map[string]any{"disabled": map[string]any{"from": !disabled, "to": disabled}}
		if disabled {
			action = "client.disable"
			n, err := s.logouts.EndClient(ctx, id)
			if err != nil {
				return err
			}
			changes["logout_tokens_queued"] = n
		}
		return s.audit(ctx, a, action, "client", id, changes)
	})
	return out, err
}

// DeleteClient removes a client with its tokens and KYC-VS API keys.
// store.ErrNotFound for an unknown one.
func (s *Service) DeleteClient(ctx context.Context, a Actor, id string) error {
	return s.st.InTx(ctx, func(ctx context.Context) error {
		c, err := s.st.GetClient(ctx, id)
		if err != nil {
			return err
		}
		if err := s.st.DeleteClient(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "client.delete", "client", id, map[string]any{"client": clientView(c)})
	})
}

// RotateClientSecret gives a confidential client a new secret (see
// oauth.Clients.RotateSecretWithGrace) and returns it, to be shown once.
func (s *Service) RotateClientSecret(ctx context.Context, a Actor, id string, grace time.Duration) (string, *store.Client, error) {
	var secret string
	var c *store.Client
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		if secret, c, err = s.clients.RotateSecretWithGrace(ctx, id, grace); err != nil {
			return err
		}
		changes := map[string]any{"secret": "rotated", "grace_period_seconds": int64(grace / time.Second)}
		var until []string
		for _, r := range c.RotatedSecrets {
			until = append(until, r.ExpiresAt.UTC().Format(time.RFC3339))
		}
		changes["previous_secrets_valid_until"] = until
		return s.audit(ctx, a, "client.rotate_secret", "client", id, changes)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, c, nil
}

// CreateAPIKey issues a KYC-VS API key for a client (kycvsapi.APIKeys) and
// returns it, to be shown once; the audit entry names the key by its
// public ID. store.ErrNotFound for an unknown client.
func (s *Service) CreateAPIKey(ctx context.Context, a Actor, clientID string) (string, *store.APIKey, error) {
	var full string
	var rec *store.APIKey
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		if full, rec, err = s.apiKeys.Create(ctx, clientID); err != nil {
			return err
		}
		return s.audit(ctx, a, "api_key.create", "client", clientID, map[string]any{"api_key_id": rec.ID})
	})
	if err != nil {
		return "", nil, err
	}
	return full, rec, nil
}

// ListAPIKeys returns a client's KYC-VS API keys, revoked ones included,
// oldest first, without their secrets. store.ErrNotFound for an unknown
// client.
func (s *Service) ListAPIKeys(ctx context.Context, clientID string) ([]store.APIKey, error) {
	if _, err := s.st.GetClient(ctx, clientID); err != nil {
		return nil, err
	}
	return s.apiKeys.List(ctx, clientID)
}

// RevokeAPIKey revokes a KYC-VS API key (kycvsapi.APIKeys.Revoke), named
// by its public ID or the whole key, and returns it revoked. With clientID,
// only a key of that client is revoked: another client's is
// store.ErrNotFound, like an unknown key. store.ErrConflict when the key is
// already revoked.
func (s *Service) RevokeAPIKey(ctx context.Context, a Actor, clientID, id string) (*store.APIKey, error) {
	id = kycvsapi.PublicID(id)
	var out *store.APIKey
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		k, err := s.st.GetAPIKey(ctx, id)
		if err != nil {
			return err
		}
		if clientID != "" && k.ClientID != clientID {
			return store.ErrNotFound
		}
		if err := s.apiKeys.Revoke(ctx, id); err != nil {
			return err
		}
		if out, err = s.st.GetAPIKey(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "api_key.revoke", "client", k.ClientID, map[string]any{"api_key_id": k.ID})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// BeneficiaryInput is one beneficiary as an admin enters it.
type BeneficiaryInput struct {
	ID          string
	Mobile      string
	Name        string
	YearOfBirth int
	Doses       []store.Dose
}

// InvalidError lists every problem with an input.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string { return "invalid: " + strings.Join(e.Problems, "; ") }

// ErrSameNameOnMobile: another beneficiary on the mobile has the same name,
// so a sign-in could not tell the two apart.
var ErrSameNameOnMobile = errors.New("another beneficiary on this mobile number has the same name")

// beneficiaryView is what the audit log keeps of a beneficiary: the mobile
// masked, the rest as it is.
func beneficiaryView(b *store.Beneficiary) map[string]any {
	doses := make([]string, len(b.Doses))
	for i, d := range b.Doses {
		doses[i] = fmt.Sprintf("%s %d/%d %s", d.Vaccine, d.DoseNumber, d.TotalDoses, d.DoseDate)
	}
	return map[string]any{"mobile": claims.MaskMobile(b.Mobile), "name": b.Name, "year_of_birth": b.YearOfBirth, "doses": doses}
}

// PutBeneficiary creates (create true) or replaces a beneficiary with its
// doses, checked by the registry CSV's rules (*InvalidError).
// store.ErrAlreadyExists when creating a known ID, store.ErrNotFound when
// replacing an unknown one, ErrSameNameOnMobile when another beneficiary
// on the mobile has the same name.
func (s *Service) PutBeneficiary(ctx context.Context, a Actor, in BeneficiaryInput, create bool) (*store.Beneficiary, error) {
	b, problems := claims.CheckBeneficiary(in.ID, in.Mobile, in.Name, in.YearOfBirth, in.Doses)
	if problems != nil {
		return nil, &InvalidError{Problems: problems}
	}
	var out *store.Beneficiary
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		old, err := s.st.GetBeneficiary(ctx, b.ID)
		switch {
		case err == nil && create:
			return store.ErrAlreadyExists
		case errors.Is(err, store.ErrNotFound) && !create:
			return store.ErrNotFound
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		same, err := s.st.BeneficiariesByMobile(ctx, b.Mobile)
		if err != nil {
			return err
		}
		for _, o := range same {
			if o.ID != b.ID && claims.NameKey(o.Name) == b.NameKey {
				return ErrSameNameOnMobile
			}
		}
		if _, err := s.st.ReplaceBeneficiaries(ctx, []store.Beneficiary{*b}); err != nil {
			return err
		}
		if out, err = s.st.GetBeneficiary(ctx, b.ID); err != nil {
			return err
		}
		if create {
			return s.audit(ctx, a, "beneficiary.create", "beneficiary", b.ID, beneficiaryView(out))
		}
		changes := diff(beneficiaryView(old), beneficiaryView(out))
		if len(changes) == 0 {
			return nil
		}
		return s.audit(ctx, a, "beneficiary.update", "beneficiary", b.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteBeneficiary removes a beneficiary and their doses.
func (s *Service) DeleteBeneficiary(ctx context.Context, a Actor, id string) error {
	return s.st.InTx(ctx, func(ctx context.Context) error {
		b, err := s.st.GetBeneficiary(ctx, id)
		if err != nil {
			return err
		}
		if err := s.st.DeleteBeneficiary(ctx, id); err != nil {
			return err
		}
		return s.audit(ctx, a, "beneficiary.delete", "beneficiary", id, beneficiaryView(b))
	})
}

// EndedSessions is what ending a person's sessions did.
type EndedSessions struct {
	// Sessions is how many browser sessions at kycvs were ended.
	Sessions int `json:"sessions_ended"`
	// LogoutTokens is how many back-channel logout tokens were queued for
	// the clients the person had signed in to within them.
	LogoutTokens int `json:"logout_tokens_queued"`
}

// EndSessions signs a person out everywhere (a lost phone, a complaint):
// it ends every browser session of the beneficiary at kycvs and queues a
// back-channel logout token for each client that signed them in within
// one (see oauth.Logouts.EndPerson), with its audit entry, in one
// transaction. Grants of offline_access stay; the person withdraws those
// on their own page. store.ErrNotFound for an unknown beneficiary.
func (s *Service) EndSessions(ctx context.Context, a Actor, beneficiaryID string) (EndedSessions, error) {
	var out EndedSessions
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.st.GetBeneficiary(ctx, beneficiaryID); err != nil {
			return err
		}
		sessions, queued, err := s.logouts.EndPerson(ctx, beneficiaryID)
		if err != nil {
			return err
		}
		out = EndedSessions{Sessions: sessions, LogoutTokens: queued}
		return s.audit(ctx, a, "beneficiary.end_sessions", "beneficiary", beneficiaryID,
			map[string]any{"sessions_ended": sessions, "logout_tokens_queued": queued})
	})
	return out, err
}

// DefaultMaxDeleteFraction is the share of the registry an import that
// deletes the beneficiaries its file does not name may delete without
// being forced: 1%, so a truncated or wrong file cannot empty it.
const DefaultMaxDeleteFraction = 0.01

// ImportRegistry streams a registry CSV into the store with claims.Import,
// in one transaction with its audit entry, which records the counts, the
// options and the file's SHA-256. A bad file is a *claims.ImportError, a
// refused deletion a *store.DeleteLimitError; either way nothing is
// applied. opts.BeforeCommit is the service's own.
func (s *Service) ImportRegistry(ctx context.Context, a Actor, r io.Reader, opts claims.ImportOptions) (store.ImportResult, error) {
	h := sha256.New()
	opts.BeforeCommit = func(ctx context.Context, res store.ImportResult) error {
		return s.audit(ctx, a, "registry.import", "registry", "", map[string]any{
			"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged, "deleted": res.Deleted,
			"doses": res.Doses, "delete_missing": opts.DeleteMissing, "force": opts.Force,
			"sha256": hex.EncodeToString(h.Sum(nil)),
		})
	}
	if opts.Progress == nil {
		opts.Progress = &claims.Progress{}
	}
	ti := s.imports.start(a.Name, opts.Progress)
	res, err := claims.Import(ctx, s.st, io.TeeReader(r, h), opts)
	s.imports.finish(ti, res, err, s.now())
	return res, err
}

// RotateKey rotates the signing key of alg: scheduled (the new key signs
// after oauth.DefaultActivationDelay, the routine way) or, with
// immediate, at once (after a leak). It returns the new key's ID and when
// it signs.
func (s *Service) RotateKey(ctx context.Context, a Actor, alg string, immediate bool) (string, time.Time, error) {
	delay := oauth.DefaultActivationDelay
	if immediate {
		delay = 0
	}
	var kid string
	var at time.Time
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		if kid, at, err = s.keys.RotateAfter(ctx, alg, delay); err != nil {
			return err
		}
		return s.audit(ctx, a, "key.rotate", "key", kid, map[string]any{"alg": alg, "immediate": immediate, "activates_at": at.UTC().Format(time.RFC3339)})
	})
	if err != nil {
		_ = s.keys.Load(context.WithoutCancel(ctx)) // forget what the rolled-back rotation loaded
		return "", time.Time{}, err
	}
	return kid, at, nil
}

// RetireKey retires (and with withdraw, unpublishes) a signing key; see
// oauth.Keys.Retire for the errors.
func (s *Service) RetireKey(ctx context.Context, a Actor, kid string, withdraw bool) error {
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.keys.Retire(ctx, kid, withdraw); err != nil {
			return err
		}
		return s.audit(ctx, a, "key.retire", "key", kid, map[string]any{"withdraw": withdraw})
	})
	if err != nil {
		_ = s.keys.Load(context.WithoutCancel(ctx))
	}
	return err
}

// Admin API keys are "kycvsadm_" + 16 hex digits (the public ID, stored in
// the clear) + "_" + 43 base64url characters (256 random bits).
const (
	adminKeyPrefix    = "kycvsadm_"
	adminKeyIDHexLen  = 16
	adminKeySecretLen = 43
	adminKeyIDLen     = len(adminKeyPrefix) + adminKeyIDHexLen
	adminKeyLen       = adminKeyIDLen + 1 + adminKeySecretLen
)

// ErrBadName: a name that is empty, too long or not printable.
var ErrBadName = errors.New("name: 1 to 100 printable characters")

// CreateAdminKey issues an admin API key with role and returns it, to be
// shown once; it is stored as a keyed SHA-256. ErrBadName, or an
// *InvalidError for an unknown role.
func (s *Service) CreateAdminKey(ctx context.Context, a Actor, name string, role Role) (string, *store.AdminKey, error) {
	name = strings.TrimSpace(name)
	if !printableName(name) {
		return "", nil, ErrBadName
	}
	if _, ok := grants[role]; !ok {
		return "", nil, &InvalidError{Problems: []string{"role: one of " + roleNames()}}
	}
	var id [adminKeyIDHexLen / 2]byte
	var secret [32]byte
	_, _ = rand.Read(id[:])
	_, _ = rand.Read(secret[:])
	rec := &store.AdminKey{ID: adminKeyPrefix + hex.EncodeToString(id[:]), Name: name, Role: string(role), CreatedAt: s.Now(), CreatedBy: a.Type + ":" + a.ID}
	full := rec.ID + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	rec.Hash = s.hashAdminKey(full)
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.CreateAdminKey(ctx, rec); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_key.create", "admin_key", rec.ID, map[string]any{"name": name, "role": string(role)})
	})
	if err != nil {
		return "", nil, err
	}
	return full, rec, nil
}

// RevokeAdminKey stops an admin API key at once (its public ID or the
// whole key): store.ErrNotFound, store.ErrConflict when already revoked.
func (s *Service) RevokeAdminKey(ctx context.Context, a Actor, id string) error {
	if len(id) == adminKeyLen {
		id = id[:adminKeyIDLen]
	}
	return s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.RevokeAdminKey(ctx, id, s.Now()); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_key.revoke", "admin_key", id, nil)
	})
}

// ErrInvalidAdminKey is AuthenticateKey's one answer for a malformed,
// unknown, wrong or revoked key.
var ErrInvalidAdminKey = errors.New("admin: invalid admin API key")

// AuthenticateKey checks a presented admin API key and returns its record.
// Store errors come back as they are.
func (s *Service) AuthenticateKey(ctx context.Context, presented string) (*store.AdminKey, error) {
	if !wellFormedAdminKey(presented) {
		return nil, ErrInvalidAdminKey
	}
	rec, err := s.st.GetAdminKey(ctx, presented[:adminKeyIDLen])
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ErrInvalidAdminKey
	case err != nil:
		return nil, err
	}
	if !hmac.Equal(rec.Hash, s.hashAdminKey(presented)) || rec.RevokedAt != nil {
		return nil, ErrInvalidAdminKey
	}
	now := s.Now()
	_ = s.st.TouchAdminKey(ctx, rec.ID, now, now.Add(-time.Minute))
	return rec, nil
}

func (s *Service) hashAdminKey(full string) []byte {
	m := hmac.New(sha256.New, s.adminKey)
	m.Write([]byte(full))
	return m.Sum(nil)
}

func wellFormedAdminKey(k string) bool {
	if len(k) != adminKeyLen || !strings.HasPrefix(k, adminKeyPrefix) || k[adminKeyIDLen] != '_' {
		return false
	}
	if _, err := hex.DecodeString(k[len(adminKeyPrefix):adminKeyIDLen]); err != nil {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(k[adminKeyIDLen+1:])
	return err == nil && len(b) == 32
}

// AddAdminUser registers a console user. *InvalidError for a bad mobile,
// name or role; store.ErrAlreadyExists for a mobile already registered.
func (s *Service) AddAdminUser(ctx context.Context, a Actor, mobile, name string, role Role) (*store.AdminUser, error) {
	var problems []string
	e164, err := claims.NormalizeMobile(mobile)
	if err != nil {
		problems = append(problems, "mobile: "+err.Error())
	}
	name = strings.Join(strings.Fields(name), " ")
	if !printableName(name) {
		problems = append(problems, ErrBadName.Error())
	}
	if _, ok := grants[role]; !ok {
		problems = append(problems, "role: one of "+roleNames())
	}
	if problems != nil {
		return nil, &InvalidError{Problems: problems}
	}
	u := &store.AdminUser{ID: s.newRandom(), Mobile: e164, Name: name, Role: string(role), CreatedAt: s.Now()}
	err = s.st.InTx(ctx, func(ctx context.Context) error {
		if err := s.st.CreateAdminUser(ctx, u); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_user.add", "admin_user", u.ID, map[string]any{"name": name, "role": string(role), "mobile": claims.MaskMobile(e164)})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// SetAdminUserRole changes a console user's role; the user is named by ID
// or mobile.
func (s *Service) SetAdminUserRole(ctx context.Context, a Actor, who string, role Role) (*store.AdminUser, error) {
	if _, ok := grants[role]; !ok {
		return nil, &InvalidError{Problems: []string{"role: one of " + roleNames()}}
	}
	var out *store.AdminUser
	err := s.st.InTx(ctx, func(ctx context.Context) error {
		u, err := s.findAdminUser(ctx, who)
		if err != nil {
			return err
		}
		from := u.Role
		if out, err = s.st.UpdateAdminUser(ctx, u.ID, func(u *store.AdminUser) error { u.Role = string(role); return nil }); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_user.set_role", "admin_user", u.ID, map[string]any{"role": map[string]any{"from": from, "to": string(role)}})
	})
	return out, err
}

// RemoveAdminUser removes a console user, named by ID or mobile, and ends
// their sessions.
func (s *Service) RemoveAdminUser(ctx context.Context, a Actor, who string) error {
	return s.st.InTx(ctx, func(ctx context.Context) error {
		u, err := s.findAdminUser(ctx, who)
		if err != nil {
			return err
		}
		if err := s.st.DeleteAdminUser(ctx, u.ID); err != nil {
			return err
		}
		return s.audit(ctx, a, "admin_user.remove", "admin_user", u.ID, map[string]any{"name": u.Name, "role": u.Role})
	})
}

func (s *Service) findAdminUser(ctx context.Context, who string) (*store.AdminUser, error) {
	if e164, err := claims.NormalizeMobile(who); err == nil {
		return s.st.AdminUserByMobile(ctx, e164)
	}
	return s.st.GetAdminUser(ctx, who)
}

// printableName: 1 to 100 characters, none of them control characters.
func printableName(s string) bool {
	if s == "" || len([]rune(s)) > 100 {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd })
}

// randomID is 128 random bits, hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
