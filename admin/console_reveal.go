package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// A secret made in the console (a client's secret, a KYC-VS API key, an
// initial access token) is shown once, on the page its form's POST
// redirects to (post/redirect/get), so a reload never submits the form
// again. Until that page is shown the secret waits on the admin's session,
// sealed under a key derived from the server secret, under a random reveal
// ID that the page's URL names (?shown=): never the secret itself in a URL
// or a log. Showing it clears it; a reload says it was shown already.

// revealKind says what a reveal holds, so the page titles it.
type revealKind string

const (
	revealClientSecret revealKind = "client_secret"
	revealAPIKey       revealKind = "api_key"
	revealInitialToken revealKind = "initial_token"
)

// reveal is a secret waiting to be shown once, with the notice its page
// shows beside it. Target is the client it belongs to ("" for an initial
// access token), so it shows only on that client's page.
type reveal struct {
	Kind   revealKind `json:"kind"`
	Target string     `json:"target"`
	Secret string     `json:"secret"`
	Notice string     `json:"notice"`
}

// revealParam is the query parameter naming the reveal a page shows.
const revealParam = "shown"

// sessionIDKey holds the signed-in session's ID (requireSession).
const sessionIDKey = "kycvs.admin.session"

// revealOnce keeps r on the admin's session and redirects to page, which
// shows it once (takeReveal).
func (cn *Console) revealOnce(c *gin.Context, page string, r reveal) {
	sid := c.GetString(sessionIDKey)
	id := randomToken()
	plain, err := json.Marshal(r)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	if err := cn.svc.st.SetAdminSessionReveal(c.Request.Context(), sid, id, cn.reveals.seal(sid+"\x00"+id, plain)); err != nil {
		cn.serverError(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, page+"?"+revealParam+"="+id)
}

// takeReveal returns the reveal c's URL names for target, and clears it.
// asked is false when the URL names none; r.Secret is "" when it was shown
// already (or is not this session's, or not target's). ok is false when
// the store failed: it has answered the error.
func (cn *Console) takeReveal(c *gin.Context, target string) (r reveal, asked, ok bool) {
	id := c.Query(revealParam)
	if id == "" {
		return reveal{}, false, true
	}
	sid := c.GetString(sessionIDKey)
	sealed, err := cn.svc.st.TakeAdminSessionReveal(c.Request.Context(), sid, id)
	if errors.Is(err, store.ErrNotFound) {
		return reveal{}, true, true
	}
	if err != nil {
		cn.serverError(c, err)
		return reveal{}, true, false
	}
	plain, err := cn.reveals.open(sid+"\x00"+id, sealed)
	if err != nil || json.Unmarshal(plain, &r) != nil || r.Target != target {
		cn.log(c).Warn("admin console: a reveal did not open or is not this page's")
		return reveal{}, true, true
	}
	return r, true, true
}

// shownAlready is the notice of a page whose secret was shown before.
const shownAlready = "The secret was shown once, when it was made, and is not kept: it cannot be shown again. If it was not copied, make a new one below"
