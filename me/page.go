package me

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Messages of the signed-in page (?m=...).
var (
	pageNotices = map[string]web.Msg{"withdrawn": web.M("me.withdrawn_notice")}
	pageErrors  = map[string]web.Msg{"gone": web.M("me.gone")}
)

// channelMsgs say, for a disclosure's channel, how it was disclosed.
var channelMsgs = map[store.DisclosureChannel]string{
	store.DisclosedAtAuthorize: "me.channel_authorize",
	store.DisclosedAtUserinfo:  "me.channel_userinfo",
	store.DisclosedAtRefresh:   "me.channel_refresh",
	store.DisclosedByAPI:       "me.channel_api",
}

// Audit actions the page records, about a person (target type "person",
// target ID the beneficiary ID).
const (
	ActionWithdraw = "person.withdraw"
	ActionDownload = "person.download"
	auditTarget    = "person"
	auditActor     = "person"
)

// Grant kinds, as the download names them; the form's grant IDs start with
// their prefix.
const (
	grantRefresh = "refresh_token"
	grantAPI     = "kycvs_api_token"
	prefixOAuth  = "r."
	prefixAPI    = "a."
)

// grant is one standing grant of one person.
type grant struct {
	ID            string // prefixOAuth + request ID, or prefixAPI + transaction ID
	Kind          string
	ClientID      string
	BeneficiaryID string
	Scopes        []string
	Since, Until  time.Time
}

// mobileData is what the page reads for one mobile.
type mobileData struct {
	people []store.Beneficiary
	ids    []string
	names  map[string]string // beneficiary ID -> name
}

func (p *Page) load(ctx context.Context, mobile string) (*mobileData, error) {
	people, err := p.st.BeneficiariesByMobile(ctx, mobile)
	if err != nil {
		return nil, err
	}
	d := &mobileData{people: people, names: map[string]string{}}
	for _, b := range people {
		d.ids = append(d.ids, b.ID)
		d.names[b.ID] = b.Name
	}
	return d, nil
}

// grants returns the standing grants of d's people, oldest first.
func (p *Page) grants(ctx context.Context, d *mobileData, now time.Time) ([]grant, error) {
	var out []grant
	if len(d.ids) == 0 {
		return nil, nil
	}
	tokens, err := p.st.StandingRefreshTokens(ctx, d.ids, now)
	if err != nil {
		return nil, err
	}
	// Withdraw ends everything one person granted one client, so the
	// client's grants of that person are listed once, the oldest.
	seen := map[[2]string]bool{}
	for _, rg := range tokens {
		t := rg.Token
		key := [2]string{t.ClientID, rg.BeneficiaryID}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, grant{
			ID: prefixOAuth + t.RequestID, Kind: grantRefresh, ClientID: t.ClientID, BeneficiaryID: rg.BeneficiaryID,
			Scopes: t.GrantedScopes, Since: rg.GrantedAt, Until: t.ExpiresAt,
		})
	}
	txns, err := p.st.LiveAPITransactions(ctx, d.ids, now)
	if err != nil {
		return nil, err
	}
	for _, t := range txns {
		since := t.CreatedAt
		if t.VerifiedAt != nil {
			since = *t.VerifiedAt
		}
		out = append(out, grant{
			ID: prefixAPI + t.ID, Kind: grantAPI, ClientID: t.ClientID, BeneficiaryID: t.BeneficiaryID,
			Scopes: []string{claims.ScopeVaccinationStatus}, Since: since, Until: t.ExpiresAt,
		})
	}
	return out, nil
}

// clientNames looks up verifiers' display names, once per request; a
// client deleted since is shown by its ID.
type clientNames struct {
	st    *store.Store
	names map[string]string
}

func (n *clientNames) get(ctx context.Context, id string) string {
	if name, ok := n.names[id]; ok {
		return name
	}
	name := id
	if c, err := n.st.GetClient(ctx, id); err == nil {
		name = c.Name
	}
	n.names[id] = name
	return name
}

// when shows an instant in the page's time zone.
func (p *Page) when(t time.Time) string {
	return t.In(p.cfg.Location).Format("2006-01-02 15:04 MST")
}

// renderPage is the signed-in page.
func (p *Page) renderPage(c *gin.Context, sess *store.MeSession) {
	ctx := c.Request.Context()
	now := p.now()
	d, err := p.load(ctx, sess.Mobile)
	if err != nil {
		p.serverError(c, err)
		return
	}
	page := web.MePage{
		MaskedMobile:   claims.MaskMobile(sess.Mobile),
		WithdrawAction: pathWithdraw, SignOutAction: pathSignOut, DownloadURL: pathDownload,
		CSRFToken: web.CSRFToken(c), ExpiresAt: p.when(sess.ExpiresAt),
		Notice: pageNotices[c.Query("m")], Error: pageErrors[c.Query("m")], Rights: p.rights(),
	}
	names := &clientNames{st: p.st, names: map[string]string{}}
	for _, b := range d.people {
		page.People = append(page.People, web.MePerson{Name: b.Name, Status: statusMsg(int(claims.StatusFromDoses(b.Doses)))})
	}
	after, cursorOK := decodeCursor(c.Query("after"))
	if len(d.ids) > 0 && cursorOK {
		ds, more, err := p.st.PageDisclosures(ctx, store.DisclosureFilter{BeneficiaryIDs: d.ids, After: after, Limit: p.cfg.PageSize})
		if err != nil {
			p.serverError(c, err)
			return
		}
		for _, x := range ds {
			page.Disclosures = append(page.Disclosures, web.MeDisclosure{
				Verifier: names.get(ctx, x.ClientID), Person: d.names[x.BeneficiaryID], When: p.when(x.CreatedAt),
				Claims: x.Claims, Value: valueMsg(&x), Channel: web.M(channelMsg(x.Channel)),
			})
		}
		if more && len(ds) > 0 {
			last := ds[len(ds)-1]
			page.OlderURL = Path + "?after=" + url.QueryEscape(encodeCursor(last.CreatedAt, last.ID))
		}
		if after != nil {
			page.FirstURL = Path
		}
	}
	gs, err := p.grants(ctx, d, now)
	if err != nil {
		p.serverError(c, err)
		return
	}
	for _, g := range gs {
		kind := web.M("me.grant_refresh")
		if g.Kind == grantAPI {
			kind = web.M("me.grant_api")
		}
		page.Grants = append(page.Grants, web.MeGrant{
			ID: g.ID, Verifier: names.get(ctx, g.ClientID), Person: d.names[g.BeneficiaryID], Kind: kind,
			Since: p.when(g.Since), Until: p.when(g.Until),
		})
	}
	ws, err := p.withdrawals(ctx, d)
	if err != nil {
		p.serverError(c, err)
		return
	}
	for _, w := range ws {
		client, _ := w.Changes["client_id"].(string)
		page.Withdrawals = append(page.Withdrawals, web.MeWithdrawal{Verifier: names.get(ctx, client), Person: d.names[w.TargetID], When: p.when(w.At)})
	}
	web.Render(c, http.StatusOK, "me", page)
}

// maxWithdrawals is how many past withdrawals the page and the download
// show, newest first.
const maxWithdrawals = 50

// withdrawals are the audit entries of d's people's withdrawals.
func (p *Page) withdrawals(ctx context.Context, d *mobileData) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	for _, id := range d.ids {
		es, _, err := p.st.ListAuditEntries(ctx, store.AuditFilter{Action: ActionWithdraw, TargetType: auditTarget, TargetID: id, Limit: maxWithdrawals})
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	slices.SortFunc(out, func(a, b store.AuditEntry) int { return b.At.Compare(a.At) })
	if len(out) > maxWithdrawals {
		out = out[:maxWithdrawals]
	}
	return out, nil
}

func statusMsg(s int) web.Msg {
	switch s {
	case 1:
		return web.M("me.status_1")
	case 2:
		return web.M("me.status_2")
	}
	return web.M("me.status_0")
}

// valueMsg is the status value a disclosure carried, if any.
func valueMsg(d *store.Disclosure) web.Msg {
	if d.VaccinationStatus != nil {
		return statusMsg(*d.VaccinationStatus)
	}
	return web.Msg{}
}

func channelMsg(ch store.DisclosureChannel) string {
	if id, ok := channelMsgs[ch]; ok {
		return id
	}
	return "me.channel_authorize"
}

// encodeCursor makes the opaque "older" cursor: the last disclosure's time
// and ID.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(at.UTC().Format(time.RFC3339Nano) + " " + id))
}

// decodeCursor reads a cursor; nil and true for none, false for one that
// is not ours (the page then lists nothing rather than guessing).
func decodeCursor(s string) (*store.Cursor, bool) {
	if s == "" {
		return nil, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	at, id, ok := strings.Cut(string(b), " ")
	if !ok || id == "" {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, false
	}
	return &store.Cursor{At: t, ID: id}, true
}

// errGone: the grant to withdraw is not a standing grant of this mobile's
// people (already ended, or never theirs).
var errGone = errors.New("me: no such standing grant")

// handleWithdraw ends one standing grant of the signed-in mobile's people
// at once and records it, in one transaction. The grant is looked up among
// the session's own, so an ID from elsewhere withdraws nothing.
func (p *Page) handleWithdraw(c *gin.Context) {
	sess, err := p.session(c)
	if errors.Is(err, store.ErrNotFound) {
		p.clearCookie(c, SessionCookie)
		back(c, "ended")
		return
	}
	if err != nil {
		p.serverError(c, err)
		return
	}
	ctx := c.Request.Context()
	now := p.now()
	want := c.PostForm("grant")
	var g *grant
	err = p.st.InTx(ctx, func(ctx context.Context) error {
		d, err := p.load(ctx, sess.Mobile)
		if err != nil {
			return err
		}
		gs, err := p.grants(ctx, d, now)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(gs, func(g grant) bool { return g.ID == want })
		if i < 0 {
			return errGone
		}
		g = &gs[i]
		switch g.Kind {
		case grantRefresh:
			err = p.endGrant(ctx, g.ClientID, g.BeneficiaryID)
		case grantAPI:
			_, err = p.st.UpdateAPITransaction(ctx, strings.TrimPrefix(g.ID, prefixAPI), func(t *store.APITransaction) error {
				if t.State != store.TxnVerified {
					return errGone
				}
				t.State = store.TxnDead
				return nil
			})
		}
		if err != nil {
			return err
		}
		return p.audit(ctx, c, sess, ActionWithdraw, g.BeneficiaryID, map[string]any{"client_id": g.ClientID, "grant": g.Kind})
	})
	switch {
	case errors.Is(err, errGone):
		back(c, "gone")
		return
	case err != nil:
		p.serverError(c, err)
		return
	}
	p.log(c).Info("me: grant withdrawn", "client_id", g.ClientID, "grant", g.Kind, "mobile_tag", p.otps.LogTag(sess.Mobile))
	back(c, "withdrawn")
}

// audit records what a person did on their page. The actor is the
// mobile's keyed tag, never the number.
func (p *Page) audit(ctx context.Context, c *gin.Context, sess *store.MeSession, action, beneficiaryID string, changes map[string]any) error {
	return p.st.CreateAuditEntry(ctx, &store.AuditEntry{
		ID: randomID(), At: p.now(), ActorType: auditActor, ActorID: p.otps.LogTag(sess.Mobile),
		IP: c.ClientIP(), RequestID: web.RequestID(c), Action: action,
		TargetType: auditTarget, TargetID: beneficiaryID, Changes: store.JSONObject(changes),
	})
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
