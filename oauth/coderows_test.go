package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/store/storetest"
)

// codeRowsStorage is a Storage over s with one client, c1, and a code
// signature that is what follows the code's last dot (as fosite's HMAC
// strategy makes it).
func codeRowsStorage(t *testing.T, s *store.Store) *Storage {
	t.Helper()
	c := &store.Client{ID: "c1", Name: "Airline", RedirectURIs: store.StringList{"https://rp.example/cb"}, Scopes: store.StringList{"openid"}}
	if err := s.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return &Storage{st: s, now: time.Now, codeTTL: time.Minute, codeSignature: func(_ context.Context, code string) string {
		return code[strings.LastIndex(code, ".")+1:]
	}}
}

// authorizeRequest is the request a code is issued for.
func authorizeRequest(id string) *fosite.Request {
	sess := newEmptySession()
	sess.Subject, sess.Claims.Subject, sess.Claims.Nonce = "sub-1", "sub-1", "nonce-1"
	sess.Claims.Extra = map[string]any{"vaccination_status": 2}
	return &fosite.Request{
		ID:             id,
		RequestedAt:    time.Now().UTC(),
		Client:         &Client{Client: &store.Client{ID: "c1"}},
		RequestedScope: fosite.Arguments{"openid"},
		GrantedScope:   fosite.Arguments{"openid"},
		Form:           url.Values{"redirect_uri": {"https://rp.example/cb"}, "code_challenge": {"challenge-1"}, "code_challenge_method": {"S256"}},
		Session:        sess,
	}
}

// issue creates the three rows of code as fosite's authorize handlers do.
func issue(t *testing.T, ctx context.Context, st *Storage, code string, r fosite.Requester) {
	t.Helper()
	sig := st.codeSignature(ctx, code)
	for _, err := range []error{
		st.CreateAuthorizeCodeSession(ctx, sig, r),
		st.CreatePKCERequestSession(ctx, sig, r),
		st.CreateOpenIDConnectSession(ctx, code, r),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// withClients gives ctx a client memo that already holds c1, so the
// statements counted are those of the token rows.
func withClients(t *testing.T, ctx context.Context, st *Storage) context.Context {
	t.Helper()
	ctx = context.WithValue(ctx, clientMemoKey{}, &clientMemo{clients: map[string]*store.Client{}})
	if _, err := st.GetClient(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	return ctx
}

func statementsOf(s *store.Store, do func()) uint64 {
	before, _ := s.Counts()
	do()
	after, _ := s.Counts()
	return after - before
}

// The rows fosite creates in a tokenBatch's scope wait for one INSERT
// (takeBatch); a read in the scope while they wait is refused; without
// a batch each is written at once, as before.
func TestTokenBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		st := codeRowsStorage(t, s)
		ctx := withClients(t, context.Background(), st)

		bctx := withTokenBatch(ctx)
		if n := statementsOf(s, func() { issue(t, bctx, st, "key.sig1", authorizeRequest("r1")) }); n != 0 {
			t.Errorf("creating in a batch sent %d statements, want 0", n)
		}
		if _, err := s.GetToken(ctx, store.KindAuthorizeCode, "sig1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("code before its INSERT: %v, want not written yet", err)
		}

		// A read in the batch's scope while rows wait is refused, and
		// writes nothing.
		if _, err := st.GetAuthorizeCodeSession(bctx, "sig1", newEmptySession()); !errors.Is(err, errReadInBatch) {
			t.Errorf("a code read in its batch's scope: %v, want errReadInBatch", err)
		}
		if _, err := s.GetToken(ctx, store.KindAuthorizeCode, "sig1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("code after a refused read: %v, want not written yet", err)
		}

		var err error
		if n := statementsOf(s, func() { err = s.CreateTokens(ctx, takeBatch(bctx)) }); err != nil || n != 1 {
			t.Errorf("the batch's INSERT: %v, %d statements, want 1", err, n)
		}
		for kind, key := range map[string]string{store.KindAuthorizeCode: "sig1", store.KindPKCE: "sig1", store.KindOpenID: "key.sig1"} {
			if _, err := s.GetToken(ctx, kind, key); err != nil {
				t.Errorf("%s row after the batch's INSERT: %v", kind, err)
			}
		}
		if rows := takeBatch(bctx); len(rows) != 0 {
			t.Errorf("the batch after it was taken: %d rows, want none", len(rows))
		}
		if r, err := st.GetAuthorizeCodeSession(bctx, "sig1", newEmptySession()); err != nil || r.GetID() != "r1" {
			t.Errorf("a code read in its batch's scope once written: %v, %v", r, err)
		}

		// A repeated code fails the batch's INSERT, and none of its rows
		// is written.
		issue(t, bctx, st, "key.sig3", authorizeRequest("r3"))
		issue(t, bctx, st, "key.sig1", authorizeRequest("r4"))
		if err := s.CreateTokens(ctx, takeBatch(bctx)); !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("a batch with a repeated code: %v, want ErrAlreadyExists", err)
		}
		if _, err := s.GetToken(ctx, store.KindAuthorizeCode, "sig3"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the other code of the failed batch: %v, want not written", err)
		}

		// Without a batch, each create is its own INSERT.
		if n := statementsOf(s, func() { issue(t, ctx, st, "key.sig5", authorizeRequest("r5")) }); n != 3 {
			t.Errorf("creating without a batch sent %d statements, want 3", n)
		}
	})
}

// With codeRows, the token exchange's four reads of a code's rows (the
// code twice, PKCE, OpenID Connect) are one statement and give what
// reads of their own give; a row the request wrote is read again.
func TestCodeRows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, s *store.Store) {
		st := codeRowsStorage(t, s)
		ctx := withClients(t, context.Background(), st)
		issue(t, ctx, st, "key.sig1", authorizeRequest("r1"))

		type reads struct{ code, pkce, code2, oidc fosite.Requester }
		read := func(ctx context.Context) (r reads) {
			t.Helper()
			var err error
			if r.code, err = st.GetAuthorizeCodeSession(ctx, "sig1", newEmptySession()); err != nil {
				t.Fatal(err)
			}
			if r.pkce, err = st.GetPKCERequestSession(ctx, "sig1", newEmptySession()); err != nil {
				t.Fatal(err)
			}
			// fosite changes what it got; the next read is not affected.
			r.code.(*fosite.Request).GrantedScope[0] = "changed"
			r.code.GetSession().(*Session).Subject = "changed"
			if r.code2, err = st.GetAuthorizeCodeSession(ctx, "sig1", newEmptySession()); err != nil {
				t.Fatal(err)
			}
			if r.oidc, err = st.GetOpenIDConnectSession(ctx, "key.sig1", fosite.NewAccessRequest(newEmptySession())); err != nil {
				t.Fatal(err)
			}
			return r
		}
		var alone, cached reads
		if n := statementsOf(s, func() { alone = read(ctx) }); n != 4 {
			t.Errorf("reads without codeRows: %d statements, want 4", n)
		}
		var cctx context.Context
		if n := statementsOf(s, func() { cctx = st.withCodeRows(ctx, "key.sig1"); cached = read(cctx) }); n != 1 {
			t.Errorf("reads with codeRows: %d statements, want 1", n)
		}
		for name, pair := range map[string][2]fosite.Requester{
			"code": {alone.code2, cached.code2}, "pkce": {alone.pkce, cached.pkce}, "oidc": {alone.oidc, cached.oidc},
		} {
			a, c := pair[0], pair[1]
			as, cs := a.GetSession().(*Session), c.GetSession().(*Session)
			if a.GetID() != c.GetID() || a.GetRequestForm().Encode() != c.GetRequestForm().Encode() ||
				strings.Join(a.GetGrantedScopes(), " ") != strings.Join(c.GetGrantedScopes(), " ") ||
				as.Subject != cs.Subject || as.Claims.Nonce != cs.Claims.Nonce || as.Claims.Extra["vaccination_status"] != cs.Claims.Extra["vaccination_status"] {
				t.Errorf("%s: read alone %+v, through codeRows %+v", name, a, c)
			}
			if cs.Subject != "sub-1" || cs.Claims.Nonce != "nonce-1" || c.GetGrantedScopes()[0] != "openid" {
				t.Errorf("%s through codeRows: subject %q, nonce %q, scopes %v", name, cs.Subject, cs.Claims.Nonce, c.GetGrantedScopes())
			}
		}

		// The exchange uses the code: a later read in the request goes to
		// the database and finds it used (ErrInvalidatedAuthorizeCode,
		// with the request, so fosite can revoke what it issued).
		if err := st.InvalidateAuthorizeCodeSession(cctx, "sig1"); err != nil {
			t.Fatal(err)
		}
		var r fosite.Requester
		var err error
		if n := statementsOf(s, func() { r, err = st.GetAuthorizeCodeSession(cctx, "sig1", newEmptySession()) }); n != 1 ||
			!errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) || r == nil || r.GetID() != "r1" {
			t.Errorf("the used code read again: %v, %v after %d statements, want ErrInvalidatedAuthorizeCode from the database", r, err, n)
		}
		if err := st.InvalidateAuthorizeCodeSession(ctx, "sig1"); !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
			t.Errorf("a second use: %v, want ErrInvalidatedAuthorizeCode", err)
		}
		// Its PKCE and OpenID Connect rows stay until they expire with it.
		for kind, key := range map[string]string{store.KindPKCE: "sig1", store.KindOpenID: "key.sig1"} {
			if _, err := s.GetToken(ctx, kind, key); err != nil {
				t.Errorf("%s row of the used code: %v, want it kept until it expires", kind, err)
			}
		}

		// An unknown code: one statement finds none of its rows.
		n := statementsOf(s, func() {
			uctx := st.withCodeRows(ctx, "key.nope")
			if _, err := st.GetAuthorizeCodeSession(uctx, "nope", newEmptySession()); !errors.Is(err, fosite.ErrNotFound) {
				t.Errorf("unknown code: %v, want ErrNotFound", err)
			}
			if _, err := st.GetPKCERequestSession(uctx, "nope", newEmptySession()); !errors.Is(err, fosite.ErrNotFound) {
				t.Errorf("unknown code's PKCE: %v, want ErrNotFound", err)
			}
			if _, err := st.GetOpenIDConnectSession(uctx, "key.nope", fosite.NewAccessRequest(newEmptySession())); !errors.Is(err, openid.ErrNoSessionFound) {
				t.Errorf("unknown code's OpenID Connect session: %v, want ErrNoSessionFound", err)
			}
		})
		if n != 1 {
			t.Errorf("reads of an unknown code: %d statements, want 1", n)
		}

		// Another code's rows are not the codeRows' to answer.
		issue(t, ctx, st, "key.sig2", authorizeRequest("r2"))
		if r, err := st.GetAuthorizeCodeSession(cctx, "sig2", newEmptySession()); err != nil || r.GetID() != "r2" {
			t.Errorf("another code read under codeRows: %v, %v", r, err)
		}
	})
}
