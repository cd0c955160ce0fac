package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// InitialTokenJSON is an initial access token as the admin API shows it:
// its public ID and state, never its secret or hash, except
// InitialAccessToken, the whole token, in the answer that made it.
type InitialTokenJSON struct {
	InitialAccessToken string     `json:"initial_access_token,omitempty"`
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	MaxUses            int        `json:"max_uses"`
	Uses               int        `json:"uses"`
	ExpiresAt          time.Time  `json:"expires_at"`
	CreatedAt          time.Time  `json:"created_at"`
	CreatedBy          string     `json:"created_by"`
	LastUsedAt         *time.Time `json:"last_used_at"`
	RevokedAt          *time.Time `json:"revoked_at"`
	// State is active, revoked, expired or used up (InitialTokenState).
	State string `json:"state"`
}

// ToInitialTokenJSON renders t at now, with full when it was just made.
func ToInitialTokenJSON(t *store.InitialAccessToken, full string, now time.Time) InitialTokenJSON {
	return InitialTokenJSON{InitialAccessToken: full, ID: t.ID, Name: t.Name, MaxUses: t.MaxUses, Uses: t.Uses,
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, LastUsedAt: t.LastUsedAt,
		RevokedAt: t.RevokedAt, State: InitialTokenState(t, now)}
}

func (a *API) handleListInitialTokens(c *gin.Context, _ Actor) {
	ts, err := a.svc.ListInitialTokens(c.Request.Context())
	if err != nil {
		a.storeError(c, err)
		return
	}
	now := a.svc.Now()
	items := make([]InitialTokenJSON, len(ts))
	for i := range ts {
		items[i] = ToInitialTokenJSON(&ts[i], "", now)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (a *API) handleCreateInitialToken(c *gin.Context, actor Actor) {
	in := struct {
		Name      string `json:"name"`
		Uses      *int   `json:"uses"`
		ExpiresIn *int64 `json:"expires_in_seconds"`
	}{}
	// A body is required ({} takes the defaults), so an empty request
	// issues nothing.
	if !decodeJSON(c, &in, false) {
		return
	}
	uses, ttl := 1, DefaultInitialTokenTTL
	if in.Uses != nil {
		uses = *in.Uses
	}
	if in.ExpiresIn != nil {
		// Clamped before the conversion so a huge number cannot wrap
		// into a valid duration; the service refuses it.
		ttl = time.Duration(min(max(*in.ExpiresIn, -1), int64(MaxInitialTokenTTL/time.Second)+1)) * time.Second
	}
	full, rec, err := a.svc.CreateInitialToken(c.Request.Context(), actor, in.Name, uses, ttl)
	if err != nil {
		a.fail(c, err, "initial access token")
		return
	}
	a.log(c).Info("admin: initial access token created", "initial_token_id", rec.ID, "by", actor.ID)
	c.JSON(http.StatusCreated, ToInitialTokenJSON(rec, full, a.svc.Now()))
}

func (a *API) handleRevokeInitialToken(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	var none struct{}
	if !decodeJSON(c, &none, true) {
		return
	}
	t, err := a.svc.RevokeInitialToken(c.Request.Context(), actor, id)
	switch {
	case errors.Is(err, store.ErrConflict):
		writeError(c, http.StatusConflict, CodeInitialTokenRevoked, "The initial access token is already revoked.")
		return
	case err != nil:
		a.fail(c, err, "initial access token")
		return
	}
	a.log(c).Info("admin: initial access token revoked", "initial_token_id", t.ID, "by", actor.ID)
	c.JSON(http.StatusOK, ToInitialTokenJSON(t, "", a.svc.Now()))
}
