package oauth

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	hoauth2 "github.com/ory/fosite/handler/oauth2"

	"github.com/kycvs/kycvs/store"
)

// refreshGrant is fosite's refresh token grant, except for fapi2 clients,
// whose refresh tokens are not rotated.
//
// FAPI 2.0 Security Profile 5.3.2.1 lets an authorization server rotate
// refresh tokens only if a retry with the previous token still succeeds
// when the client lost the answer with the new one, and its note
// discourages rotation: it brings a confidential client no security (the
// token is useless without the client's key) and costs operations dearly.
// fosite rotates on every refresh and refuses the previous token at once,
// so for a fapi2 client the grant answers with the token presented and
// keeps it: it works until it expires or is revoked, as the OpenID
// conformance suite expects (its refresh test skips the lost-answer retry
// only when the token comes back the same).
//
// Everything else is fosite's: HandleTokenEndpointRequest validates the
// token, the client and the scopes; bindDPoP binds the new access token to
// the request's proof; the OpenID Connect refresh handler adds the ID token.
type refreshGrant struct {
	*hoauth2.RefreshTokenGrantHandler
	storage *Storage
}

// refreshGrantFactory composes refreshGrant in place of
// compose.OAuth2RefreshTokenGrantFactory.
func refreshGrantFactory(st *Storage) compose.Factory {
	return func(config fosite.Configurator, storage, strategy any) any {
		inner := compose.OAuth2RefreshTokenGrantFactory(config, storage, strategy).(*hoauth2.RefreshTokenGrantHandler)
		return &refreshGrant{RefreshTokenGrantHandler: inner, storage: st}
	}
}

// keepsRefreshToken reports whether a client's refresh tokens are kept
// across refreshes instead of rotated.
func keepsRefreshToken(c fosite.Client) bool {
	kc, ok := c.(*Client)
	return ok && kc.Profile == ProfileFAPI2
}

// PopulateTokenEndpointResponse issues the new access token. For a client
// whose refresh token is kept, it writes only the access token, after
// locking the refresh token's row (a revocation racing the refresh either
// finds the new access token or refuses the refresh), retires the grant's
// earlier access tokens, and answers with the refresh token presented.
func (h *refreshGrant) PopulateTokenEndpointResponse(ctx context.Context, requester fosite.AccessRequester, responder fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, requester) || !keepsRefreshToken(requester.GetClient()) {
		return h.RefreshTokenGrantHandler.PopulateTokenEndpointResponse(ctx, requester, responder)
	}
	refresh := requester.GetRequestForm().Get("refresh_token")
	signature := h.RefreshTokenStrategy.RefreshTokenSignature(ctx, refresh)
	accessToken, accessSignature, err := h.AccessTokenStrategy.GenerateAccessToken(ctx, requester)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	// The refresh token and its form stay out of the stored row.
	stored := requester.Sanitize(nil)
	stored.SetID(requester.GetID())
	err = h.storage.st.InTx(ctx, func(ctx context.Context) error {
		if err := h.storage.st.HoldActiveToken(ctx, store.KindRefreshToken, signature); err != nil {
			return err
		}
		if err := h.storage.RevokeAccessToken(ctx, requester.GetID()); err != nil {
			return err
		}
		return h.storage.CreateAccessTokenSession(ctx, accessSignature, stored)
	})
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		// Revoked (or its client deleted) while this request was checked.
		return fosite.ErrInvalidGrant.WithHint("The refresh token is no longer valid.")
	case err != nil:
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	responder.SetAccessToken(accessToken)
	responder.SetTokenType("bearer")
	responder.SetExpiresIn(accessTokenExpiresIn(requester, time.Now()))
	responder.SetScopes(requester.GetGrantedScopes())
	responder.SetExtra("refresh_token", refresh)
	return nil
}

// accessTokenExpiresIn is what is left of the new access token's life, as
// fosite's handlers answer expires_in.
func accessTokenExpiresIn(r fosite.Requester, now time.Time) time.Duration {
	return r.GetSession().GetExpiresAt(fosite.AccessToken).Sub(now)
}
