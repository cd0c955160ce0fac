package admin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// The console's pages and forms. Each form posts back to its page's
// address; a change redirects (303) to the page with ?done=..., a refused
// one shows the form again with every problem.

// dashboardView is the dashboard page: today's and the month's figures,
// the charts (limited to ClientID when set) and the clients to pick from.
type dashboardView struct {
	*Dashboard
	Charts   []chartView
	ClientID string
	Clients  []store.Client
}

func (cn *Console) handleDashboard(c *gin.Context) {
	ctx := c.Request.Context()
	d, err := cn.svc.Dashboard(ctx, cn.cfg.Location)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	clientID := c.Query("client")
	ch, err := cn.svc.Charts(ctx, cn.cfg.Location, clientID)
	if errors.Is(err, store.ErrNotFound) {
		cn.render(c, http.StatusNotFound, "notfound", page{Title: "No such client", Nav: "dashboard"})
		return
	}
	if err != nil {
		cn.serverError(c, err)
		return
	}
	clients, err := cn.svc.st.ListClients(ctx)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	cn.render(c, http.StatusOK, "dashboard", page{Title: "Dashboard", Nav: "dashboard", Data: dashboardView{
		Dashboard: d, Charts: dashboardCharts(ch, cn.cfg.Location), ClientID: clientID, Clients: clients}})
}

// message turns a service error into what the person sees: the problems
// of an invalid input, or one sentence.
func message(err error) (string, []string, bool) {
	var ve *oauth.ValidationError
	var ie *InvalidError
	switch {
	case errors.As(err, &ve):
		return "Please correct these:", ve.Problems, true
	case errors.As(err, &ie):
		return "Please correct these:", ie.Problems, true
	case errors.Is(err, store.ErrNotFound):
		return "It no longer exists.", nil, true
	case errors.Is(err, store.ErrAlreadyExists):
		return "One with this ID already exists.", nil, true
	case errors.Is(err, oauth.ErrPublicClient):
		return "A public client has no secret.", nil, true
	case errors.Is(err, oauth.ErrKeyClient):
		return "This client authenticates with private_key_jwt and has no secret: its registered keys are its credentials.", nil, true
	case errors.Is(err, oauth.ErrBadGrace):
		return oauth.ErrBadGrace.Error() + ".", nil, true
	case errors.Is(err, ErrSectorChange):
		return "This change " + strings.TrimPrefix(ErrSectorChange.Error(), "the change ") + ". Tick the box to do it anyway.", nil, true
	case errors.Is(err, ErrSameNameOnMobile):
		return ErrSameNameOnMobile.Error() + ": a sign-in could not tell them apart.", nil, true
	case errors.Is(err, oauth.ErrLastKey):
		return "This is the only key of its algorithm that is not retired: rotate first.", nil, true
	case errors.Is(err, oauth.ErrKeyRetired):
		return "The key is already retired.", nil, true
	}
	return "", nil, false
}

// Clients.

type clientsData struct {
	Query   string
	Clients []ClientJSON
	Next    string
}

func (cn *Console) handleClients(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	f := store.ClientFilter{Query: q, Limit: 50}
	if b, err := base64.RawURLEncoding.DecodeString(c.Query("after")); err == nil {
		f.AfterName, f.AfterID, _ = strings.Cut(string(b), "\x00")
	}
	cs, more, err := cn.svc.st.SearchClients(c.Request.Context(), f)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	d := clientsData{Query: q}
	for i := range cs {
		d.Clients = append(d.Clients, ToClientJSON(&cs[i], "", cn.now()))
	}
	if more {
		last := cs[len(cs)-1]
		d.Next = "/admin/clients?" + url.Values{"q": {q}, "after": {base64.RawURLEncoding.EncodeToString([]byte(last.Name + "\x00" + last.ID))}}.Encode()
	}
	cn.render(c, http.StatusOK, "clients", page{Title: "Clients", Nav: "clients", Data: d})
}

// clientForm is the client form's fields as typed.
type clientForm struct {
	ID, Name, RedirectURIs, PostLogoutRedirectURIs, Contacts, SectorIdentifier, LogoURI string
	Scopes                                                                              map[string]bool
	Public                                                                              bool
	AuthMethod, IDTokenAlg, UserinfoAlg                                                 string
	// The high-assurance settings.
	Profile, JWKS, JWKSURI, AssertionAlg string
	RequirePAR, DPoP                     bool
	// Back-Channel Logout 1.0.
	BackchannelLogoutURI       string
	BackchannelSessionRequired bool
}

type clientPage struct {
	New    bool
	Client ClientJSON
	Form   clientForm
	// Secret is a secret just made, shown once.
	Secret string
	// APIKeys are the client's KYC-VS API keys; NewAPIKey is one just
	// made, shown once.
	APIKeys   []APIKeyJSON
	NewAPIKey string
	Graces    []graceOption
	Scopes    []string
}

type graceOption struct {
	Seconds int64
	Label   string
}

var graceOptions = []graceOption{{86400, "1 day (recommended)"}, {3600, "1 hour"}, {7 * 86400, "7 days"}, {0, "none: the old secret stops now (it leaked)"}}

var formScopes = []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeFullyVaccinated, claims.ScopeProfile, claims.ScopePhone, claims.ScopeOfflineAccess}

func formOf(c *store.Client) clientForm {
	f := clientForm{ID: c.ID, Name: c.Name, RedirectURIs: strings.Join(c.RedirectURIs, "\n"), PostLogoutRedirectURIs: strings.Join(c.PostLogoutRedirectURIs, "\n"), Contacts: strings.Join(c.Contacts, "\n"),
		SectorIdentifier: c.SectorIdentifier, LogoURI: c.LogoURI, Public: c.Public, AuthMethod: c.TokenEndpointAuthMethod,
		IDTokenAlg: c.IDTokenSignedResponseAlg, UserinfoAlg: c.UserinfoSignedResponseAlg, Scopes: map[string]bool{},
		Profile: c.Profile, JWKS: c.JWKS, JWKSURI: c.JWKSURI, AssertionAlg: c.TokenEndpointAuthSigningAlg,
		RequirePAR: c.RequirePushedAuthorizationRequests, DPoP: c.DPoPBoundAccessTokens,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelSessionRequired: c.BackchannelLogoutSessionRequired}
	for _, s := range c.Scopes {
		f.Scopes[s] = true
	}
	return f
}

func readClientForm(c *gin.Context) clientForm {
	f := clientForm{
		ID: strings.TrimSpace(c.PostForm("client_id")), Name: strings.TrimSpace(c.PostForm("name")),
		RedirectURIs: c.PostForm("redirect_uris"), PostLogoutRedirectURIs: c.PostForm("post_logout_redirect_uris"), Contacts: c.PostForm("contacts"),
		SectorIdentifier: strings.TrimSpace(c.PostForm("sector_identifier_uri")), LogoURI: strings.TrimSpace(c.PostForm("logo_uri")),
		Public: c.PostForm("public") == "on", AuthMethod: c.PostForm("token_endpoint_auth_method"),
		IDTokenAlg: c.PostForm("id_token_signed_response_alg"), UserinfoAlg: c.PostForm("userinfo_signed_response_alg"),
		Scopes:  map[string]bool{},
		Profile: c.PostForm("profile"), JWKS: strings.TrimSpace(c.PostForm("jwks")), JWKSURI: strings.TrimSpace(c.PostForm("jwks_uri")),
		AssertionAlg: c.PostForm("token_endpoint_auth_signing_alg"),
		RequirePAR:   c.PostForm("require_pushed_authorization_requests") == "on", DPoP: c.PostForm("dpop_bound_access_tokens") == "on",
		BackchannelLogoutURI:       strings.TrimSpace(c.PostForm("backchannel_logout_uri")),
		BackchannelSessionRequired: c.PostForm("backchannel_logout_session_required") == "on",
	}
	for _, s := range c.PostFormArray("scopes") {
		f.Scopes[s] = true
	}
	return f
}

// lines splits a text area into its non-empty trimmed lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (f clientForm) apply(spec *oauth.ClientSpec) {
	spec.Name, spec.RedirectURIs, spec.Contacts = f.Name, lines(f.RedirectURIs), lines(f.Contacts)
	spec.PostLogoutRedirectURIs = lines(f.PostLogoutRedirectURIs)
	spec.SectorIdentifier, spec.LogoURI, spec.Public = f.SectorIdentifier, f.LogoURI, f.Public
	spec.TokenEndpointAuthMethod, spec.IDTokenSignedResponseAlg, spec.UserinfoSignedResponseAlg = f.AuthMethod, f.IDTokenAlg, f.UserinfoAlg
	spec.Profile, spec.JWKS, spec.JWKSURI, spec.TokenEndpointAuthSigningAlg = f.Profile, f.JWKS, f.JWKSURI, f.AssertionAlg
	spec.RequirePAR, spec.DPoPBoundAccessTokens = f.RequirePAR, f.DPoP
	spec.BackchannelLogoutURI, spec.BackchannelLogoutSessionRequired = f.BackchannelLogoutURI, f.BackchannelSessionRequired
	spec.Scopes = nil
	for _, s := range formScopes {
		if f.Scopes[s] {
			spec.Scopes = append(spec.Scopes, s)
		}
	}
}

func (cn *Console) handleNewClient(c *gin.Context) {
	f := clientForm{Scopes: map[string]bool{claims.ScopeOpenID: true, claims.ScopeVaccinationStatus: true}}
	cn.render(c, http.StatusOK, "client", page{Title: "New client", Nav: "clients", Data: clientPage{New: true, Form: f, Scopes: formScopes}})
}

func (cn *Console) handleCreateClient(c *gin.Context) {
	f := readClientForm(c)
	spec := oauth.ClientSpec{ID: f.ID}
	f.apply(&spec)
	cl, secret, err := cn.svc.CreateClient(c.Request.Context(), actorOf(c), spec)
	if err != nil {
		msg, problems, known := message(err)
		if !known {
			cn.serverError(c, err)
			return
		}
		cn.render(c, http.StatusUnprocessableEntity, "client", page{Title: "New client", Nav: "clients", Error: msg, Problems: problems,
			Data: clientPage{New: true, Form: f, Scopes: formScopes}})
		return
	}
	page := "/admin/clients/" + url.PathEscape(cl.ID)
	if secret == "" {
		back(c, page, "registered")
		return
	}
	cn.revealOnce(c, page, reveal{Kind: revealClientSecret, Target: cl.ID, Secret: secret, Notice: "The client is registered."})
}

func (cn *Console) showClient(c *gin.Context, status int, cl *store.Client, secret, notice string) {
	cn.showClientWithKey(c, status, cl, secret, "", notice)
}

// showClientWithKey shows the client page with a secret or an API key
// just made.
func (cn *Console) showClientWithKey(c *gin.Context, status int, cl *store.Client, secret, apiKey, notice string) {
	keys, ok := cn.apiKeysOf(c, cl.ID)
	if !ok {
		return
	}
	cn.render(c, status, "client", page{Title: cl.Name, Nav: "clients", Notice: notice,
		Data: clientPage{Client: ToClientJSON(cl, secret, cn.now()), Form: formOf(cl), Secret: secret, APIKeys: keys, NewAPIKey: apiKey,
			Graces: graceOptions, Scopes: formScopes}})
}

// apiKeysOf is the client's KYC-VS API keys for its page.
func (cn *Console) apiKeysOf(c *gin.Context, clientID string) ([]APIKeyJSON, bool) {
	ks, err := cn.svc.st.ListAPIKeys(c.Request.Context(), clientID)
	if err != nil {
		cn.serverError(c, err)
		return nil, false
	}
	out := make([]APIKeyJSON, len(ks))
	for i := range ks {
		out[i] = ToAPIKeyJSON(&ks[i], "")
	}
	return out, true
}

func (cn *Console) handleClient(c *gin.Context) {
	cl, err := cn.svc.st.GetClient(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		cn.render(c, http.StatusNotFound, "notfound", page{Title: "No such client", Nav: "clients"})
		return
	}
	if err != nil {
		cn.serverError(c, err)
		return
	}
	r, asked, ok := cn.takeReveal(c, cl.ID)
	switch {
	case !ok:
	case r.Kind == revealClientSecret:
		cn.showClient(c, http.StatusOK, cl, r.Secret, r.Notice)
	case r.Kind == revealAPIKey:
		cn.showClientWithKey(c, http.StatusOK, cl, "", r.Secret, r.Notice)
	case asked:
		cn.showClient(c, http.StatusOK, cl, "", shownAlready+": rotate the client's secret, or make a new API key.")
	default:
		cn.showClient(c, http.StatusOK, cl, "", "")
	}
}

func (cn *Console) clientError(c *gin.Context, id string, err error, f *clientForm) {
	msg, problems, known := message(err)
	if !known {
		cn.serverError(c, err)
		return
	}
	cl, gerr := cn.svc.st.GetClient(c.Request.Context(), id)
	if gerr != nil {
		cn.render(c, http.StatusNotFound, "notfound", page{Title: "No such client", Nav: "clients"})
		return
	}
	form := formOf(cl)
	if f != nil {
		form = *f
	}
	keys, ok := cn.apiKeysOf(c, cl.ID)
	if !ok {
		return
	}
	cn.render(c, http.StatusUnprocessableEntity, "client", page{Title: cl.Name, Nav: "clients", Error: msg, Problems: problems,
		Data: clientPage{Client: ToClientJSON(cl, "", cn.now()), Form: form, APIKeys: keys, Graces: graceOptions, Scopes: formScopes}})
}

func (cn *Console) handleUpdateClient(c *gin.Context) {
	id := c.Param("id")
	f := readClientForm(c)
	cl, secret, err := cn.svc.UpdateClient(c.Request.Context(), actorOf(c), id, func(s *oauth.ClientSpec) error {
		f.apply(s)
		return nil
	}, c.PostForm("allow_sector_change") == "on")
	if err != nil {
		cn.clientError(c, id, err, &f)
		return
	}
	if secret != "" {
		cn.revealOnce(c, "/admin/clients/"+url.PathEscape(id), reveal{Kind: revealClientSecret, Target: cl.ID, Secret: secret,
			Notice: "Saved. The client is confidential now: here is its secret."})
		return
	}
	back(c, "/admin/clients/"+url.PathEscape(id), "updated")
}

func (cn *Console) handleSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		if _, err := cn.svc.SetClientDisabled(c.Request.Context(), actorOf(c), id, disabled); err != nil {
			cn.clientError(c, id, err, nil)
			return
		}
		done := "enabled"
		if disabled {
			done = "disabled"
		}
		back(c, "/admin/clients/"+url.PathEscape(id), done)
	}
}

func (cn *Console) handleRotateSecret(c *gin.Context) {
	id := c.Param("id")
	grace, err := strconv.ParseInt(c.PostForm("grace_period_seconds"), 10, 64)
	if err != nil {
		grace = int64(oauth.DefaultSecretGrace / time.Second)
	}
	secret, cl, err := cn.svc.RotateClientSecret(c.Request.Context(), actorOf(c), id, time.Duration(grace)*time.Second)
	if err != nil {
		cn.clientError(c, id, err, nil)
		return
	}
	notice := "New secret made. The old one stops working now."
	if grace > 0 {
		notice = "New secret made. The old one keeps working until the time shown below."
	}
	cn.revealOnce(c, "/admin/clients/"+url.PathEscape(id), reveal{Kind: revealClientSecret, Target: cl.ID, Secret: secret, Notice: notice})
}

// errNotConfirmed: a delete form sent without its confirmation box ticked.
var errNotConfirmed = &InvalidError{Problems: []string{"tick the box to confirm the deletion"}}

func (cn *Console) handleDeleteClient(c *gin.Context) {
	id := c.Param("id")
	if c.PostForm("confirm") != "on" {
		cn.clientError(c, id, errNotConfirmed, nil)
		return
	}
	if err := cn.svc.DeleteClient(c.Request.Context(), actorOf(c), id); err != nil {
		cn.clientError(c, id, err, nil)
		return
	}
	back(c, "/admin/clients", "deleted")
}

// errAPIKeyRevoked: a revoke form sent for a key already revoked.
var errAPIKeyRevoked = &InvalidError{Problems: []string{"the API key is already revoked"}}

func (cn *Console) handleCreateAPIKey(c *gin.Context) {
	id := c.Param("id")
	full, _, err := cn.svc.CreateAPIKey(c.Request.Context(), actorOf(c), id)
	if err != nil {
		cn.clientError(c, id, err, nil)
		return
	}
	cn.revealOnce(c, "/admin/clients/"+url.PathEscape(id), reveal{Kind: revealAPIKey, Target: id, Secret: full, Notice: "New API key made."})
}

func (cn *Console) handleRevokeAPIKey(c *gin.Context) {
	id := c.Param("id")
	_, err := cn.svc.RevokeAPIKey(c.Request.Context(), actorOf(c), id, c.Param("key_id"))
	if errors.Is(err, store.ErrConflict) {
		err = errAPIKeyRevoked
	}
	if err != nil {
		cn.clientError(c, id, err, nil)
		return
	}
	back(c, "/admin/clients/"+url.PathEscape(id), "api_key_revoked")
}

// Registry.

type registryData struct {
	Mobile        string
	Searched      bool
	Beneficiaries []BeneficiaryJSON
	// Imports are this process's registry imports, running and recent.
	Imports []ImportStatus
}

func (cn *Console) handleRegistry(c *gin.Context) {
	raw := strings.TrimSpace(c.Query("mobile"))
	d := registryData{Mobile: raw, Imports: cn.svc.Imports()}
	if raw == "" {
		cn.render(c, http.StatusOK, "registry", page{Title: "Registry", Nav: "registry", Data: d})
		return
	}
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		cn.render(c, http.StatusBadRequest, "registry", page{Title: "Registry", Nav: "registry", Error: "Enter a 10-digit mobile number, or + and the country code.", Data: d})
		return
	}
	ctx := c.Request.Context()
	bs, err := cn.svc.st.BeneficiariesByMobile(ctx, mobile)
	if err == nil {
		err = cn.svc.Audit(ctx, actorOf(c), "beneficiary.search", "mobile", claims.MaskMobile(mobile), map[string]any{"found": len(bs)})
	}
	if err != nil {
		cn.serverError(c, err)
		return
	}
	d.Searched = true
	for i := range bs {
		d.Beneficiaries = append(d.Beneficiaries, ToBeneficiaryJSON(&bs[i]))
	}
	cn.render(c, http.StatusOK, "registry", page{Title: "Registry", Nav: "registry", Data: d})
}

// beneficiaryForm is the beneficiary form as typed; Doses has one dose a
// line: vaccine, dose number, total doses, date.
type beneficiaryForm struct {
	ID, Mobile, Name, YearOfBirth, Doses string
}

type beneficiaryPage struct {
	New         bool
	Beneficiary BeneficiaryJSON
	Form        beneficiaryForm
}

func beneficiaryFormOf(b *store.Beneficiary) beneficiaryForm {
	var doses []string
	for _, d := range b.Doses {
		doses = append(doses, fmt.Sprintf("%s, %d, %d, %s", d.Vaccine, d.DoseNumber, d.TotalDoses, d.DoseDate))
	}
	return beneficiaryForm{ID: b.ID, Mobile: b.Mobile, Name: b.Name, YearOfBirth: strconv.Itoa(b.YearOfBirth), Doses: strings.Join(doses, "\n")}
}

func readBeneficiaryForm(c *gin.Context) (beneficiaryForm, BeneficiaryInput, []string) {
	f := beneficiaryForm{ID: strings.TrimSpace(c.PostForm("beneficiary_id")), Mobile: c.PostForm("mobile"), Name: c.PostForm("name"),
		YearOfBirth: strings.TrimSpace(c.PostForm("year_of_birth")), Doses: c.PostForm("doses")}
	in := BeneficiaryInput{ID: f.ID, Mobile: f.Mobile, Name: f.Name}
	var problems []string
	yob, err := strconv.Atoi(f.YearOfBirth)
	if err != nil {
		problems = append(problems, "year_of_birth: a four-digit year")
	}
	in.YearOfBirth = yob
	for i, l := range lines(f.Doses) {
		parts := strings.Split(l, ",")
		if len(parts) != 4 {
			problems = append(problems, fmt.Sprintf("doses line %d: vaccine, dose number, total doses, date (YYYY-MM-DD)", i+1))
			continue
		}
		n, err1 := strconv.Atoi(strings.TrimSpace(parts[1]))
		t, err2 := strconv.Atoi(strings.TrimSpace(parts[2]))
		if err1 != nil || err2 != nil {
			problems = append(problems, fmt.Sprintf("doses line %d: dose number and total doses are whole numbers", i+1))
			continue
		}
		in.Doses = append(in.Doses, store.Dose{Vaccine: strings.TrimSpace(parts[0]), DoseNumber: n, TotalDoses: t, DoseDate: strings.TrimSpace(parts[3])})
	}
	return f, in, problems
}

func (cn *Console) handleNewBeneficiary(c *gin.Context) {
	cn.render(c, http.StatusOK, "beneficiary", page{Title: "New beneficiary", Nav: "registry", Data: beneficiaryPage{New: true}})
}

func (cn *Console) putBeneficiary(c *gin.Context, create bool) {
	f, in, problems := readBeneficiaryForm(c)
	title := "New beneficiary"
	if !create {
		in.ID, f.ID, title = c.Param("id"), c.Param("id"), "Beneficiary "+c.Param("id")
	}
	var b *store.Beneficiary
	err := error(&InvalidError{Problems: problems})
	if problems == nil {
		b, err = cn.svc.PutBeneficiary(c.Request.Context(), actorOf(c), in, create)
	}
	if err != nil {
		msg, problems, known := message(err)
		if !known {
			cn.serverError(c, err)
			return
		}
		cn.render(c, http.StatusUnprocessableEntity, "beneficiary", page{Title: title, Nav: "registry", Error: msg, Problems: problems,
			Data: beneficiaryPage{New: create, Form: f}})
		return
	}
	done := "updated"
	if create {
		done = "created"
	}
	back(c, "/admin/registry/"+url.PathEscape(b.ID), done)
}

func (cn *Console) handleCreateBeneficiary(c *gin.Context) { cn.putBeneficiary(c, true) }
func (cn *Console) handleUpdateBeneficiary(c *gin.Context) { cn.putBeneficiary(c, false) }

func (cn *Console) handleBeneficiary(c *gin.Context) {
	ctx := c.Request.Context()
	b, err := cn.svc.st.GetBeneficiary(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		cn.render(c, http.StatusNotFound, "notfound", page{Title: "No such beneficiary", Nav: "registry"})
		return
	}
	if err == nil {
		err = cn.svc.Audit(ctx, actorOf(c), "beneficiary.read", "beneficiary", b.ID, nil)
	}
	if err != nil {
		cn.serverError(c, err)
		return
	}
	cn.render(c, http.StatusOK, "beneficiary", page{Title: "Beneficiary " + b.ID, Nav: "registry",
		Data: beneficiaryPage{Beneficiary: ToBeneficiaryJSON(b), Form: beneficiaryFormOf(b)}})
}

// handleEndSessions signs the person out of every browser session
// (Service.EndSessions).
func (cn *Console) handleEndSessions(c *gin.Context) {
	id := c.Param("id")
	if _, err := cn.svc.EndSessions(c.Request.Context(), actorOf(c), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			cn.render(c, http.StatusNotFound, "notfound", page{Title: "No such beneficiary", Nav: "registry"})
			return
		}
		cn.serverError(c, err)
		return
	}
	back(c, "/admin/registry/"+url.PathEscape(id), "sessions_ended")
}

// Disclosures.

type disclosuresData struct {
	ClientID, BeneficiaryID, Since, Until, Status string
	Clients                                       []store.Client
	Disclosures                                   []DisclosureJSON
	Next, CSV                                     string
}

// consoleDisclosureFilter reads the disclosure filters of the console,
// the API's query parameters.
func consoleDisclosureFilter(c *gin.Context) (store.DisclosureFilter, []string) {
	q := &query{c: c}
	f := disclosureFilter(q)
	return f, q.problems
}

func (cn *Console) handleDisclosures(c *gin.Context) {
	ctx := c.Request.Context()
	f, problems := consoleDisclosureFilter(c)
	cur, ok := cn.svc.decodeCursor(c.Query("cursor"))
	if !ok {
		problems = append(problems, "cursor: not valid; start again")
	}
	f.After, f.Limit = cur, 50
	d := disclosuresData{ClientID: c.Query("client_id"), BeneficiaryID: c.Query("beneficiary_id"), Since: c.Query("since"), Until: c.Query("until"), Status: c.Query("status")}
	cs, err := cn.svc.st.ListClients(ctx)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	d.Clients = cs
	if problems != nil {
		cn.render(c, http.StatusBadRequest, "disclosures", page{Title: "Disclosures", Nav: "disclosures", Error: "Please correct the filters:", Problems: problems, Data: d})
		return
	}
	ds, more, err := cn.svc.st.PageDisclosures(ctx, f)
	if err == nil {
		// Every page is audited, not only the first.
		err = cn.svc.Audit(ctx, actorOf(c), "disclosure.query", "disclosures", "", DisclosureQuery(f))
	}
	if err != nil {
		cn.serverError(c, err)
		return
	}
	for i := range ds {
		d.Disclosures = append(d.Disclosures, ToDisclosureJSON(&ds[i]))
	}
	params := url.Values{}
	for _, k := range []string{"client_id", "beneficiary_id", "since", "until", "status"} {
		if v := c.Query(k); v != "" {
			params.Set(k, v)
		}
	}
	d.CSV = "/admin/disclosures.csv?" + params.Encode()
	if more {
		last := ds[len(ds)-1]
		params.Set("cursor", cn.svc.encodeCursor(last.CreatedAt, last.ID))
		d.Next = "/admin/disclosures?" + params.Encode()
	}
	cn.render(c, http.StatusOK, "disclosures", page{Title: "Disclosures", Nav: "disclosures", Data: d})
}

func (cn *Console) handleDisclosuresCSV(c *gin.Context) {
	ctx := c.Request.Context()
	f, problems := consoleDisclosureFilter(c)
	if problems != nil {
		web400(c, strings.Join(problems, "; "))
		return
	}
	if err := cn.svc.Audit(ctx, actorOf(c), "disclosure.export", "disclosures", "", DisclosureQuery(f)); err != nil {
		cn.serverError(c, err)
		return
	}
	var buf bytes.Buffer
	if err := WriteDisclosuresCSV(ctx, cn.svc.st, f, &buf); err != nil {
		cn.serverError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="disclosures.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func web400(c *gin.Context, msg string) {
	c.Data(http.StatusBadRequest, "text/plain; charset=utf-8", []byte(msg+"\n"))
}

// Keys.

type keysData struct {
	Keys       []KeyJSON
	Activation time.Duration
	Grace      time.Duration
}

func (cn *Console) handleKeys(c *gin.Context) {
	ks, err := KeyList(c.Request.Context(), cn.svc.st, cn.now())
	if err != nil {
		cn.serverError(c, err)
		return
	}
	cn.render(c, http.StatusOK, "keys", page{Title: "Signing keys", Nav: "keys", Data: keysData{Keys: ks, Activation: oauth.DefaultActivationDelay, Grace: cn.svc.keys.RetireGrace()}})
}

func (cn *Console) keysError(c *gin.Context, err error) {
	msg, _, known := message(err)
	if !known {
		cn.serverError(c, err)
		return
	}
	ks, kerr := KeyList(c.Request.Context(), cn.svc.st, cn.now())
	if kerr != nil {
		cn.serverError(c, kerr)
		return
	}
	cn.render(c, http.StatusConflict, "keys", page{Title: "Signing keys", Nav: "keys", Error: msg, Data: keysData{Keys: ks, Activation: oauth.DefaultActivationDelay, Grace: cn.svc.keys.RetireGrace()}})
}

func (cn *Console) handleRotateKey(c *gin.Context) {
	alg := c.PostForm("alg")
	if alg != oauth.RS256 && alg != oauth.ES256 {
		cn.keysError(c, &InvalidError{Problems: []string{"alg: RS256 or ES256"}})
		return
	}
	if _, _, err := cn.svc.RotateKey(c.Request.Context(), actorOf(c), alg, c.PostForm("immediate") == "on"); err != nil {
		cn.keysError(c, err)
		return
	}
	back(c, "/admin/keys", "rotated")
}

func (cn *Console) handleRetireKey(c *gin.Context) {
	if err := cn.svc.RetireKey(c.Request.Context(), actorOf(c), c.Param("kid"), c.PostForm("withdraw") == "on"); err != nil {
		cn.keysError(c, err)
		return
	}
	back(c, "/admin/keys", "retired")
}

// Audit log.

type auditData struct {
	ActorID, Action, TargetType, TargetID string
	Entries                               []AuditJSON
	Next                                  string
}

func (cn *Console) handleAudit(c *gin.Context) {
	q := &query{c: c}
	f := auditFilter(q)
	f.After, f.Limit = q.cursor(cn.svc), 50
	d := auditData{ActorID: f.ActorID, Action: f.Action, TargetType: f.TargetType, TargetID: f.TargetID}
	if len(q.problems) > 0 {
		cn.render(c, http.StatusBadRequest, "audit", page{Title: "Audit log", Nav: "audit", Error: "Please correct the filters:", Problems: q.problems, Data: d})
		return
	}
	es, more, err := cn.svc.st.ListAuditEntries(c.Request.Context(), f)
	if err != nil {
		cn.serverError(c, err)
		return
	}
	for i := range es {
		d.Entries = append(d.Entries, ToAuditJSON(&es[i]))
	}
	if more {
		last := es[len(es)-1]
		params := url.Values{"actor_id": {f.ActorID}, "action": {f.Action}, "target_type": {f.TargetType}, "target_id": {f.TargetID},
			"cursor": {cn.svc.encodeCursor(last.At, last.ID)}}
		d.Next = "/admin/audit?" + params.Encode()
	}
	cn.render(c, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: d})
}
