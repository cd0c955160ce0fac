package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// APIKeyJSON is a client's KYC-VS API key as the admin API shows it: its
// public ID, never its secret or hash, except APIKey, the whole key, in
// the answer that made it.
type APIKeyJSON struct {
	APIKey    string     `json:"api_key,omitempty"`
	ID        string     `json:"id"`
	ClientID  string     `json:"client_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// ToAPIKeyJSON renders k, with full when the key was just made.
func ToAPIKeyJSON(k *store.APIKey, full string) APIKeyJSON {
	return APIKeyJSON{APIKey: full, ID: k.ID, ClientID: k.ClientID, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

func (a *API) handleListAPIKeys(c *gin.Context, _ Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	ks, err := a.svc.ListAPIKeys(c.Request.Context(), id)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	items := make([]APIKeyJSON, len(ks))
	for i := range ks {
		items[i] = ToAPIKeyJSON(&ks[i], "")
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (a *API) handleCreateAPIKey(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	var none struct{}
	if !decodeJSON(c, &none, true) {
		return
	}
	full, rec, err := a.svc.CreateAPIKey(c.Request.Context(), actor, id)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	a.log(c).Info("admin: API key created", "client_id", id, "api_key_id", rec.ID, "by", actor.ID)
	c.JSON(http.StatusCreated, ToAPIKeyJSON(rec, full))
}

func (a *API) handleRevokeAPIKey(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	keyID := c.Param("key_id")
	if keyID == "" || len(keyID) > 128 {
		writeError(c, http.StatusNotFound, CodeNotFound, "There is no such API key.")
		return
	}
	var none struct{}
	if !decodeJSON(c, &none, true) {
		return
	}
	ctx := c.Request.Context()
	if _, err := a.svc.Store().GetClient(ctx, id); err != nil {
		a.fail(c, err, "client")
		return
	}
	k, err := a.svc.RevokeAPIKey(ctx, actor, id, keyID)
	switch {
	case errors.Is(err, store.ErrConflict):
		writeError(c, http.StatusConflict, CodeAPIKeyRevoked, "The API key is already revoked.")
		return
	case err != nil:
		a.fail(c, err, "API key")
		return
	}
	a.log(c).Info("admin: API key revoked", "client_id", id, "api_key_id", k.ID, "by", actor.ID)
	c.JSON(http.StatusOK, ToAPIKeyJSON(k, ""))
}
