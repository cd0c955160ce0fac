package oauth

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/kycvs/kycvs/store"
)

// An authorization code is stored as three rows: the code itself, its
// PKCE challenge and its OpenID Connect session (fosite's handlers each
// keep their own). The code and PKCE rows are keyed by the code's
// signature, the OpenID Connect row by the code as issued, because that is
// what fosite's openid handler passes. One authorization writes the three
// and one token exchange reads the three; the two per-request helpers
// below make that one statement each instead of three. Without them in
// the context (other callers, tests) Storage reads and writes each row on
// its own, as fosite asks.

// tokenBatch collects the token rows fosite creates while one
// authorization issues its code, so Provider.finish writes them with one
// multi-row INSERT, together with the rest of the approval (takeBatch,
// store.Writes), instead of an INSERT each. Rows are built when fosite
// hands them over, so what is written is what fosite created, whatever
// it does with its requests afterwards. finish installs a batch around
// NewAuthorizeResponse, where fosite's authorize handlers create rows and
// read or change none, and Storage.BeginTX one in a code exchange's
// transaction, for the tokens; a read there while rows wait would miss
// them, and is refused (errReadInBatch) rather than answered wrong.
type tokenBatch struct {
	mu   sync.Mutex
	rows []*store.OAuthToken
}

type tokenBatchKey struct{}

// withTokenBatch returns a context in which Storage collects the token
// rows it is asked to create in b instead of inserting them.
func withTokenBatch(ctx context.Context) context.Context {
	return context.WithValue(ctx, tokenBatchKey{}, &tokenBatch{})
}

// batchToken keeps row for the INSERT of ctx's batch, if ctx carries
// one, and reports whether it did.
func batchToken(ctx context.Context, row *store.OAuthToken) bool {
	b, _ := ctx.Value(tokenBatchKey{}).(*tokenBatch)
	if b == nil {
		return false
	}
	b.mu.Lock()
	b.rows = append(b.rows, row)
	b.mu.Unlock()
	return true
}

// errReadInBatch refuses a read of token rows while a tokenBatch holds
// rows not yet written.
var errReadInBatch = errors.New("oauth: token rows read while the code's rows are not written yet")

// batchPending reports whether ctx's batch holds rows not yet written.
func batchPending(ctx context.Context) bool {
	b, _ := ctx.Value(tokenBatchKey{}).(*tokenBatch)
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.rows) > 0
}

// takeBatch returns the rows collected in ctx's batch, if any, and
// empties the batch.
func takeBatch(ctx context.Context) []*store.OAuthToken {
	b, _ := ctx.Value(tokenBatchKey{}).(*tokenBatch)
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rows := b.rows
	b.rows = nil
	return rows
}

// codeRows serves one token request's reads of the three rows of the code
// it redeems with one SELECT. fosite reads the code row twice (to check
// the request, then to issue the tokens), the PKCE row once and the
// OpenID Connect row once; the first of those reads loads all three
// (store.GetTokens), the others are answered from what it loaded. A row
// missing then is missing for the whole request: the three are written
// together, so none can appear in between.
//
// The rows are as they were when the request read them, which is what a
// second read moments later would most likely give too; nothing is
// decided on that alone. Of two exchanges racing with one code, both may
// find it active: the conditional UPDATE in InvalidateAuthorizeCodeSession
// still lets only one of them through, inside fosite's token transaction.
// A row this request writes is dropped from the cache (forget), so a
// later read of it goes to the database and sees the write.
type codeRows struct {
	// code is the code as the client sent it (the OpenID Connect row's
	// key), signature its signature (the code and PKCE rows' key).
	code, signature string

	mu     sync.Mutex
	loaded bool
	rows   map[string]*store.OAuthToken // by kind; nil once forgotten
}

type codeRowsKey struct{}

// withCodeRows returns a context in which Storage reads the rows of code
// through one codeRows. The token endpoint installs it for an
// authorization_code grant.
func (s *Storage) withCodeRows(ctx context.Context, code string) context.Context {
	if code == "" || s.codeSignature == nil {
		return ctx
	}
	cr := &codeRows{code: code, signature: s.codeSignature(ctx, code)}
	ctx = context.WithValue(ctx, codeRowsKey{}, cr)
	// Loaded now, with their client (load); a failure is met again, and
	// answered, where fosite reads them.
	_ = cr.load(ctx, s.st)
	return ctx
}

// codeRowsFor returns ctx's codeRows when it holds the row of kind keyed
// by key, or nil.
func codeRowsFor(ctx context.Context, kind, key string) *codeRows {
	cr, _ := ctx.Value(codeRowsKey{}).(*codeRows)
	if cr == nil {
		return nil
	}
	switch kind {
	case store.KindAuthorizeCode, store.KindPKCE:
		if key == cr.signature {
			return cr
		}
	case store.KindOpenID:
		if key == cr.code {
			return cr
		}
	}
	return nil
}

// get returns a copy of the row of kind, loading the three rows on the
// first call, or store.ErrNotFound. The second result is false when the
// row was forgotten: the caller reads it from the database instead.
func (cr *codeRows) get(ctx context.Context, st *store.Store, kind string) (*store.OAuthToken, bool, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if err := cr.loadLocked(ctx, st); err != nil {
		return nil, true, err
	}
	r, ok := cr.rows[kind]
	if !ok {
		return nil, true, store.ErrNotFound
	}
	if r == nil {
		return nil, false, nil
	}
	// Each read gets its own copy, as from the database: fosite keeps
	// and changes what it is given.
	c := *r
	c.Scopes = slices.Clone(r.Scopes)
	c.GrantedScopes = slices.Clone(r.GrantedScopes)
	c.Audience = slices.Clone(r.Audience)
	c.GrantedAudience = slices.Clone(r.GrantedAudience)
	c.Session = slices.Clone(r.Session)
	return &c, true, nil
}

// load reads the three rows, unless they are loaded, and remembers
// their client in the request's memo: the token endpoint loads them
// before fosite authenticates the client, which then costs no read of
// its own when it is the code's client.
func (cr *codeRows) load(ctx context.Context, st *store.Store) error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.loadLocked(ctx, st)
}

func (cr *codeRows) loadLocked(ctx context.Context, st *store.Store) error {
	if cr.loaded {
		return nil
	}
	rows, client, err := st.GetTokensAndClient(ctx,
		store.TokenKey{Kind: store.KindAuthorizeCode, Signature: cr.signature},
		store.TokenKey{Kind: store.KindPKCE, Signature: cr.signature},
		store.TokenKey{Kind: store.KindOpenID, Signature: cr.code})
	if err != nil {
		return err
	}
	rememberClient(ctx, client)
	cr.rows = map[string]*store.OAuthToken{}
	for _, r := range rows {
		cr.rows[r.Kind] = r
	}
	cr.loaded = true
	return nil
}

// forget drops the row of kind after this request wrote it.
func (cr *codeRows) forget(kind string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.loaded {
		cr.rows[kind] = nil
	}
}
