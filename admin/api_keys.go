package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// KeyJSON is a signing key's lifecycle (never key material; the public
// halves are in the JWKS).
type KeyJSON struct {
	KID          string     `json:"kid"`
	Alg          string     `json:"alg"`
	State        string     `json:"state"`
	Published    bool       `json:"published"`
	CreatedAt    time.Time  `json:"created_at"`
	ActivatesAt  *time.Time `json:"activates_at"`
	RetiredAt    *time.Time `json:"retired_at"`
	PublishUntil *time.Time `json:"publish_until"`
}

// KeyList returns every key with its state at now.
func KeyList(ctx context.Context, st *store.Store, now time.Time) ([]KeyJSON, error) {
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := []KeyJSON{}
	for _, s := range oauth.KeyStates(rows, now) {
		out = append(out, KeyJSON{KID: s.KID, Alg: s.Alg, State: s.State, Published: s.Published, CreatedAt: s.CreatedAt,
			ActivatesAt: s.ActivatesAt, RetiredAt: s.RetiredAt, PublishUntil: s.PublishUntil})
	}
	return out, nil
}

func (a *API) handleListKeys(c *gin.Context, _ Actor) {
	ks, err := KeyList(c.Request.Context(), a.svc.Store(), a.svc.Now())
	if err != nil {
		a.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": ks})
}

func (a *API) keyJSON(c *gin.Context, kid string) (KeyJSON, bool) {
	ks, err := KeyList(c.Request.Context(), a.svc.Store(), a.svc.Now())
	if err != nil {
		a.storeError(c, err)
		return KeyJSON{}, false
	}
	for _, k := range ks {
		if k.KID == kid {
			return k, true
		}
	}
	writeError(c, http.StatusNotFound, CodeNotFound, "There is no such key.")
	return KeyJSON{}, false
}

func (a *API) handleRotateKey(c *gin.Context, actor Actor) {
	in := struct {
		Alg       string `json:"alg"`
		Immediate bool   `json:"immediate"`
	}{}
	if !decodeJSON(c, &in, false) {
		return
	}
	if in.Alg != oauth.RS256 && in.Alg != oauth.ES256 {
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The rotation is not valid.", "alg: RS256 or ES256")
		return
	}
	kid, _, err := a.svc.RotateKey(c.Request.Context(), actor, in.Alg, in.Immediate)
	if err != nil {
		a.fail(c, err, "key")
		return
	}
	a.log(c).Info("admin: signing key rotated", "kid", kid, "alg", in.Alg, "immediate", in.Immediate, "by", actor.ID)
	if k, ok := a.keyJSON(c, kid); ok {
		c.JSON(http.StatusCreated, k)
	}
}

func (a *API) handleRetireKey(c *gin.Context, actor Actor) {
	kid, ok := validID(c, "kid")
	if !ok {
		return
	}
	in := struct {
		Withdraw bool `json:"withdraw"`
	}{}
	if !decodeJSON(c, &in, true) {
		return
	}
	if err := a.svc.RetireKey(c.Request.Context(), actor, kid, in.Withdraw); err != nil {
		a.fail(c, err, "key")
		return
	}
	if k, ok := a.keyJSON(c, kid); ok {
		c.JSON(http.StatusOK, k)
	}
}
