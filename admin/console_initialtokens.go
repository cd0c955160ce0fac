package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/store"
)

// The console's page of initial access tokens, for verifying entities
// that register themselves (RFC 7591): the list, a form to issue one
// (shown once), and revocation.

// initialTokenLifetimes are the form's choices of how long a token works.
var initialTokenLifetimes = []struct {
	Label string
	TTL   time.Duration
}{
	{"1 hour", time.Hour}, {"1 day", 24 * time.Hour}, {"7 days", 7 * 24 * time.Hour}, {"30 days", MaxInitialTokenTTL},
}

type initialTokensData struct {
	Tokens    []InitialTokenJSON
	Lifetimes []struct {
		Label string
		TTL   time.Duration
	}
	Endpoint string
	// New is a token just made, shown once.
	New string
	// Form keeps what was typed when the form is refused.
	Name, Uses string
}

func (cn *Console) handleInitialTokens(c *gin.Context) {
	r, asked, ok := cn.takeReveal(c, "")
	switch {
	case !ok:
	case r.Kind == revealInitialToken:
		cn.showInitialTokens(c, http.StatusOK, page{Notice: r.Notice}, initialTokensData{New: r.Secret, Uses: "1"})
	case asked:
		cn.showInitialTokens(c, http.StatusOK, page{Notice: shownAlready + ": revoke the token if it is not needed, and issue another."}, initialTokensData{Uses: "1"})
	default:
		cn.showInitialTokens(c, http.StatusOK, page{}, initialTokensData{Uses: "1"})
	}
}

// showInitialTokens renders the page with p's messages and d's form.
func (cn *Console) showInitialTokens(c *gin.Context, status int, p page, d initialTokensData) {
	ts, err := cn.svc.ListInitialTokens(c.Request.Context())
	if err != nil {
		cn.serverError(c, err)
		return
	}
	now := cn.now()
	for i := range ts {
		d.Tokens = append(d.Tokens, ToInitialTokenJSON(&ts[i], "", now))
	}
	d.Lifetimes = initialTokenLifetimes
	p.Title, p.Nav, p.Data = "Self-registration", "clients", d
	cn.render(c, status, "initialtokens", p)
}

func (cn *Console) handleCreateInitialToken(c *gin.Context) {
	d := initialTokensData{Name: c.PostForm("name"), Uses: strings.TrimSpace(c.PostForm("uses"))}
	uses, err := strconv.Atoi(d.Uses)
	if err != nil {
		uses = 0 // refused below with the service's words
	}
	ttl, err := time.ParseDuration(c.PostForm("expires"))
	if err != nil {
		ttl = 0
	}
	full, _, err := cn.svc.CreateInitialToken(c.Request.Context(), actorOf(c), d.Name, uses, ttl)
	if err != nil {
		msg, problems, known := message(err)
		if !known {
			cn.serverError(c, err)
			return
		}
		cn.showInitialTokens(c, http.StatusUnprocessableEntity, page{Error: msg, Problems: problems}, d)
		return
	}
	cn.revealOnce(c, "/admin/initial-tokens", reveal{Kind: revealInitialToken, Secret: full, Notice: "New initial access token made."})
}

func (cn *Console) handleRevokeInitialToken(c *gin.Context) {
	_, err := cn.svc.RevokeInitialToken(c.Request.Context(), actorOf(c), c.Param("id"))
	switch {
	case errors.Is(err, store.ErrConflict):
		cn.showInitialTokens(c, http.StatusConflict, page{Error: "The token is already revoked."}, initialTokensData{Uses: "1"})
		return
	case err != nil:
		msg, _, known := message(err)
		if !known {
			cn.serverError(c, err)
			return
		}
		cn.showInitialTokens(c, http.StatusNotFound, page{Error: msg}, initialTokensData{Uses: "1"})
		return
	}
	back(c, "/admin/initial-tokens", "initial_token_revoked")
}
