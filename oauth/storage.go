package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/kycvs/kycvs/store"
)

// Storage adapts store.Store to the storage interfaces fosite's handlers
// need. Every token kind maps onto one row shape (store.OAuthToken).
type Storage struct {
	st  *store.Store
	now func() time.Time
	// codeTTL is how long an authorization code lives (Lifetimes.CodeTTL).
	codeTTL time.Duration
	// codeSignature is the token strategy's AuthorizeCodeSignature: the
	// key of a code's own and PKCE rows (withCodeRows).
	codeSignature func(ctx context.Context, code string) string
}

var (
	_ fosite.ClientManager               = (*Storage)(nil)
	_ oauth2.CoreStorage                 = (*Storage)(nil)
	_ oauth2.TokenRevocationStorage      = (*Storage)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Storage)(nil)
	_ pkce.PKCERequestStorage            = (*Storage)(nil)
	_ fositestorage.Transactional        = (*Storage)(nil)
	_ fosite.PARStorage                  = (*Storage)(nil)
)

// GetClient returns an enabled client, or fosite.ErrNotFound: a disabled
// client is as good as unknown to the protocol. The client's rotated
// secrets are those still in their grace period at the storage's clock.
func (s *Storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := getClient(ctx, s.st, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if c.Disabled {
		return nil, fosite.ErrNotFound
	}
	return &Client{Client: c, now: s.now()}, nil
}

// ClientAssertionJWTValid and SetClientAssertionJWT serve private_key_jwt
// client authentication, which kycvs does not offer (discovery does not
// list it, and clients register no keys), so no assertion ever gets here.
func (s *Storage) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrInvalidClient.WithHint("Client assertions are not supported.")
}

func (s *Storage) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrInvalidClient.WithHint("Client assertions are not supported.")
}

// BeginTX, Commit and Rollback let fosite's token endpoint make a code
// exchange atomic: the code is invalidated and the tokens written together.
// For an authorization code (withGatheredWrites) nothing is sent until
// Commit, which writes the code's invalidation and the tokens with one
// store.Write; elsewhere they are a database transaction.
func (s *Storage) BeginTX(ctx context.Context) (context.Context, error) {
	if ctx.Value(gatherWritesKey{}) != nil {
		// The tokens wait in a tokenBatch, as the code's rows do.
		return withTokenBatch(context.WithValue(ctx, writesKey{}, s.st.NewWrites())), nil
	}
	return s.st.BeginTx(ctx)
}

// Commit writes what was gathered, or commits. A code found used by then
// (another exchange won the race) is ErrInvalidatedAuthorizeCode, as
// InvalidateAuthorizeCodeSession reports it in a transaction.
func (s *Storage) Commit(ctx context.Context) error {
	if w := gatheredWrites(ctx); w != nil {
		w.CreateTokens(takeBatch(ctx))
		err := s.st.Write(ctx, w)
		if errors.Is(err, store.ErrConflict) {
			return fosite.ErrInvalidatedAuthorizeCode
		}
		return err
	}
	return s.st.CommitTx(ctx)
}

// Rollback drops what was gathered, or rolls back.
func (s *Storage) Rollback(ctx context.Context) error {
	if gatheredWrites(ctx) != nil {
		return nil
	}
	return s.st.RollbackTx(ctx)
}

type gatherWritesKey struct{}
type writesKey struct{}

// withGatheredWrites returns a context in which fosite's token
// transaction gathers its writes for one store.Write at Commit: the token
// endpoint's, for an authorization_code grant, whose transaction writes
// (the code used, the tokens) and reads nothing.
func withGatheredWrites(ctx context.Context) context.Context {
	return context.WithValue(ctx, gatherWritesKey{}, true)
}

// gatheredWrites returns the writes BeginTX put in ctx, or nil.
func gatheredWrites(ctx context.Context) *store.Writes {
	w, _ := ctx.Value(writesKey{}).(*store.Writes)
	return w
}

func (s *Storage) create(ctx context.Context, kind, signature string, r fosite.Requester) error {
	row, err := newTokenRow(kind, signature, r)
	if err != nil {
		return err
	}
	return s.insert(ctx, row)
}

// insert writes row, or keeps it for the multi-row INSERT of ctx's
// tokenBatch when there is one.
func (s *Storage) insert(ctx context.Context, row *store.OAuthToken) error {
	if batchToken(ctx, row) {
		return nil
	}
	return s.st.CreateToken(ctx, row)
}

// newTokenRow is the row that stores r under signature.
func newTokenRow(kind, signature string, r fosite.Requester) (*store.OAuthToken, error) {
	sess, err := json.Marshal(r.GetSession())
	if err != nil {
		return nil, err
	}
	var subject, beneficiaryID string
	var expires time.Time
	if os, ok := r.GetSession().(*Session); ok {
		subject, beneficiaryID = os.GetSubject(), os.BeneficiaryID
		expires = os.GetExpiresAt(tokenTypeOf(kind))
	}
	if expires.IsZero() {
		// PKCE and OIDC rows live as long as their code.
		expires = r.GetRequestedAt().Add(24 * time.Hour)
		if os, ok := r.GetSession().(*Session); ok {
			if e := os.GetExpiresAt(fosite.AuthorizeCode); !e.IsZero() {
				expires = e
			}
		}
	}
	return &store.OAuthToken{
		Kind:            kind,
		Signature:       signature,
		RequestID:       r.GetID(),
		ClientID:        r.GetClient().GetID(),
		Subject:         subject,
		BeneficiaryID:   beneficiaryID,
		RequestedAt:     r.GetRequestedAt().UTC(),
		ExpiresAt:       expires.UTC(),
		Scopes:          store.StringList(r.GetRequestedScopes()),
		GrantedScopes:   store.StringList(r.GetGrantedScopes()),
		Audience:        store.StringList(r.GetRequestedAudience()),
		GrantedAudience: store.StringList(r.GetGrantedAudience()),
		Form:            r.GetRequestForm().Encode(),
		Session:         sess,
		Active:          true,
	}, nil
}

func tokenTypeOf(kind string) fosite.TokenType {
	switch kind {
	case store.KindAuthorizeCode:
		return fosite.AuthorizeCode
	case store.KindAccessToken:
		return fosite.AccessToken
	case store.KindRefreshToken:
		return fosite.RefreshToken
	case store.KindPAR:
		return fosite.PushedAuthorizeRequestContext
	}
	return fosite.AuthorizeCode
}

// get loads a row into a fosite request. It returns the request even for an
// inactive row, beside inactiveErr, so fosite can detect replays.
func (s *Storage) get(ctx context.Context, kind, signature string, session fosite.Session, inactiveErr error) (fosite.Requester, error) {
	row, err := s.getRow(ctx, kind, signature)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	req, err := s.toRequest(ctx, row, session)
	if err != nil {
		return nil, err
	}
	if !row.Active {
		if inactiveErr == nil {
			return nil, fosite.ErrNotFound
		}
		return req, inactiveErr
	}
	return req, nil
}

// getRow reads one row: from ctx's codeRows when they hold it, else from
// the database. A read while ctx's tokenBatch holds rows not yet written
// is refused (errReadInBatch).
func (s *Storage) getRow(ctx context.Context, kind, signature string) (*store.OAuthToken, error) {
	if cr := codeRowsFor(ctx, kind, signature); cr != nil {
		row, held, err := cr.get(ctx, s.st, kind)
		if held {
			return row, err
		}
	}
	if batchPending(ctx) {
		return nil, errReadInBatch
	}
	if !hasClientMemo(ctx) {
		return s.st.GetToken(ctx, kind, signature)
	}
	// The row's client comes in the same statement, for toRequest to find
	// in the memo; userinfo's access token comes with its person too.
	var row *store.OAuthToken
	var client *store.Client
	var err error
	if person := userinfoPersonOf(ctx); person != nil && kind == store.KindAccessToken {
		row, client, person.b, err = s.st.GetTokenWithPerson(ctx, kind, signature)
		if err == nil {
			person.id = row.BeneficiaryID
		}
	} else {
		row, client, err = s.st.GetTokenAndClient(ctx, kind, signature)
	}
	if err != nil {
		return nil, err
	}
	rememberClient(ctx, client)
	return row, nil
}

func (s *Storage) toRequest(ctx context.Context, row *store.OAuthToken, session fosite.Session) (*fosite.Request, error) {
	if session == nil {
		session = newEmptySession()
	}
	if err := json.Unmarshal(row.Session, session); err != nil {
		return nil, fmt.Errorf("stored session of %s: %w", row.Kind, err)
	}
	client, err := s.GetClient(ctx, row.ClientID)
	if errors.Is(err, fosite.ErrNotFound) {
		// A deleted or disabled client's tokens are dead.
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		// An outage is not a dead token: reporting it as one would burn
		// the client's code (invalid_grant) instead of asking it to retry.
		return nil, err
	}
	form, err := url.ParseQuery(row.Form)
	if err != nil {
		return nil, err
	}
	return &fosite.Request{
		ID:                row.RequestID,
		RequestedAt:       row.RequestedAt,
		Client:            client,
		RequestedScope:    fosite.Arguments(row.Scopes),
		GrantedScope:      fosite.Arguments(row.GrantedScopes),
		RequestedAudience: fosite.Arguments(row.Audience),
		GrantedAudience:   fosite.Arguments(row.GrantedAudience),
		Form:              form,
		Session:           session,
	}, nil
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// Authorization codes.

// CreateAuthorizeCodeSession stores a code issued now by the storage's
// clock, which also sets when it expires (fosite stamped both by time.Now,
// the only clock it reads; codeClock checks the expiry on this clock). The
// code lives codeTTL, a FAPI 2.0 client's FAPI2CodeLifetime at most,
// whatever --code-ttl says.
func (s *Storage) CreateAuthorizeCodeSession(ctx context.Context, code string, r fosite.Requester) error {
	now := s.now().UTC()
	if sess := r.GetSession(); sess != nil {
		life := s.codeTTL
		if c, ok := r.GetClient().(*Client); ok && c.Profile == ProfileFAPI2 {
			life = min(life, FAPI2CodeLifetime)
		}
		sess.SetExpiresAt(fosite.AuthorizeCode, now.Add(life))
	}
	row, err := newTokenRow(store.KindAuthorizeCode, code, r)
	if err != nil {
		return err
	}
	row.RequestedAt = now
	return s.insert(ctx, row)
}

// GetAuthorizeCodeSession returns the request with ErrInvalidatedAuthorizeCode
// for a used code, so fosite revokes what the code issued (RFC 6749 §4.1.2).
func (s *Storage) GetAuthorizeCodeSession(ctx context.Context, code string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindAuthorizeCode, code, session, fosite.ErrInvalidatedAuthorizeCode)
}

// InvalidateAuthorizeCodeSession marks the code used, in fosite's token
// transaction. It is one conditional UPDATE: of two exchanges racing on
// one code, only one gets past it. The used code stays, inactive, until it
// expires, so a replay is seen and revokes what the code issued.
//
// The code's PKCE challenge and OpenID Connect session stay as well, and
// go with the code: newTokenRow gives them its expiry, and the clean-up
// removes the three together. Deleting them here would cost a statement
// in every exchange and guard nothing, because fosite reaches them only
// through a code that is valid at that moment. Its PKCE handler runs
// after the code handler (compose order in New), which refuses a used,
// expired or unknown code before the challenge is looked at; its openid
// handler reads the session only after this exchange has used the code.
// Once the code is used, no request reads either again. They hold no more
// than the code's own row (the same session), and the OpenID Connect
// row's key, the code itself, is worthless once used.
func (s *Storage) InvalidateAuthorizeCodeSession(ctx context.Context, code string) error {
	if cr := codeRowsFor(ctx, store.KindAuthorizeCode, code); cr != nil {
		cr.forget(store.KindAuthorizeCode)
	}
	if w := gatheredWrites(ctx); w != nil {
		// Conditional: a code used by then fails Commit.
		w.DeactivateToken(store.KindAuthorizeCode, code)
		return nil
	}
	err := s.st.DeactivateToken(ctx, store.KindAuthorizeCode, code)
	if errors.Is(err, store.ErrConflict) {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return notFound(err)
}

// Access tokens.

func (s *Storage) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.KindAccessToken, signature, r)
}

func (s *Storage) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindAccessToken, signature, session, nil)
}

func (s *Storage) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return notFound(s.st.DeleteToken(ctx, store.KindAccessToken, signature))
}

// Refresh tokens.

func (s *Storage) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, store.KindRefreshToken, signature, r)
}

// GetRefreshTokenSession returns the request with ErrInactiveToken for a
// rotated token, so fosite revokes the whole family on reuse.
func (s *Storage) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindRefreshToken, signature, session, fosite.ErrInactiveToken)
}

func (s *Storage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return notFound(s.st.DeleteToken(ctx, store.KindRefreshToken, signature))
}

// RotateRefreshToken retires the refresh and access tokens of a grant before
// fosite issues the next pair, in fosite's token transaction.
//
// The refresh token being used is retired first, only if it is still
// active: of two refreshes racing with one token, the second waits for the
// first's row lock and then finds the token retired, so it fails
// (ErrSerializationFailure: fosite answers invalid_request and rolls back)
// instead of minting a second live token pair from one refresh token.
func (s *Storage) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	err := s.st.DeactivateToken(ctx, store.KindRefreshToken, signature)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fosite.ErrSerializationFailure
	case err != nil:
		return notFound(err)
	}
	if err := s.RevokeRefreshToken(ctx, requestID); err != nil {
		return err
	}
	return s.RevokeAccessToken(ctx, requestID)
}

func (s *Storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.st.DeactivateTokensByRequest(ctx, store.KindRefreshToken, requestID)
}

func (s *Storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	return s.st.DeactivateTokensByRequest(ctx, store.KindAccessToken, requestID)
}

// OpenID Connect sessions, keyed by the code itself: fosite's openid
// handler passes the code as issued, not its signature.

func (s *Storage) CreateOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) error {
	return s.create(ctx, store.KindOpenID, code, r)
}

func (s *Storage) GetOpenIDConnectSession(ctx context.Context, code string, r fosite.Requester) (fosite.Requester, error) {
	req, err := s.get(ctx, store.KindOpenID, code, r.GetSession(), nil)
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return req, err
}

// DeleteOpenIDConnectSession keeps the session: fosite calls it once the
// exchange has used the code, after which nothing reads the session
// again; it expires with the code (see InvalidateAuthorizeCodeSession).
func (s *Storage) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return nil
}

// PKCE challenges, keyed by the code's signature.

func (s *Storage) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, store.KindPKCE, signature, session, nil)
}

func (s *Storage) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.KindPKCE, signature, r)
}

// DeletePKCERequestSession keeps the challenge: fosite calls it while it
// checks the code_verifier, before the token transaction begins, so a
// deletion here would outlive a failed exchange. A code whose challenge
// was gone could then be redeemed by a confidential client without any
// code_verifier (fosite treats a missing challenge as "PKCE not used"),
// and an honest retry would be refused. The challenge stays until it
// expires with its code, unreachable once the code is used (see
// InvalidateAuthorizeCodeSession).
func (s *Storage) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return nil
}
