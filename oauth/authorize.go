package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fositejwt "github.com/ory/fosite/token/jwt"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// LoginPath is consent's sign-in page at the root of the engine, the
// default of Config.LoginURL.
func LoginPath(challenge string) string { return "/login/" + challenge }

// handleAuthorize is the authorization endpoint (OIDC Core 3.1.2), by GET
// or POST. fosite validates the request; then either the browser's session
// answers at once (prompt=none, same client, nothing new asked), or a login
// request is stored and the person is sent to sign in or to the one-tap
// screen of their session.
func (p *Provider) handleAuthorize(c *gin.Context) {
	ar, client, ok := p.validAuthorizeRequest(c)
	if !ok {
		return
	}
	form := ar.GetRequestForm()
	prompt, err := parsePrompt(form.Get("prompt"))
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	plan, err := planDisclosure(ar, client, p.cfg.Assurance.TrustFramework)
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	now := p.cfg.Now().UTC()
	sess, err := p.sessions.CurrentSession(c.Request)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			p.writeAuthorizeError(c, ar, err)
			return
		}
		sess = nil
	}
	forceLogin := prompt.login || (sess != nil && maxAgeExpired(form.Get("max_age"), sess.AuthTime, now))
	// Only prompt=none answers from the session without a page: on a
	// shared phone a button press must never re-share the last person's
	// status, so every interactive request shows at least the one-tap
	// screen naming whose record it is (DESIGN.md "Shared phones").
	if prompt.none {
		needConsent := prompt.consent || !covers(sess, client.ID, plan.Grants)
		p.answerSilently(c, ar, client, plan, sess, forceLogin || sess == nil, needConsent, now)
		return
	}
	p.startLogin(c, ar, client, plan, forceLogin, now)
}

// validAuthorizeRequest has fosite validate the authorization request,
// then applies kycvs's own rules (request objects refused, PAR when the
// client must push, a nonce, PKCE, a well-formed dpop_jkt). It returns the
// request and its client, or false once it has answered: on a page until
// the redirect URI is validated, to the client after.
func (p *Provider) validAuthorizeRequest(c *gin.Context) (fosite.AuthorizeRequester, *Client, bool) {
	r := c.Request
	if err := parseAuthorizeForm(r); err != nil {
		p.writeAuthorizeError(c, nil, err)
		return nil, nil, false
	}
	// Only the parameters kycvs reads, each capped, reach fosite and the
	// stored login request; a refusal waits for a validated redirect URI.
	refuse := trimAuthorizeForm(r.Form)
	// A page shown from here on (an invalid link) is in the language the
	// relying party asked for; consent does the same from the stored form.
	web.UseUILocales(c, r.Form.Get("ui_locales"), p.cfg.Now())
	pushed, refused := refuseRequestObjects(r.Form)
	if pushed {
		refuse = nil
	}
	if refused != nil {
		refuse = refused
	}
	if !p.exactRedirect(c, r.Form) {
		return nil, nil, false
	}
	ar, err := p.oauth2.NewAuthorizeRequest(r.Context(), r)
	if err != nil {
		if refuse != nil && ar != nil && ar.IsRedirectURIValid() {
			// What fosite saw lacked the refused values (a missing state is
			// then its complaint); the client learns the first cause.
			err = refuse
		}
		p.writeAuthorizeError(c, ar, err)
		return nil, nil, false
	}
	if refuse != nil {
		p.writeAuthorizeError(c, ar, refuse)
		return nil, nil, false
	}
	client := ar.GetClient().(*Client)
	if !pushed && p.mustPush(client) {
		p.writeAuthorizeError(c, ar, fosite.ErrInvalidRequest.WithHint("This client must push its authorization requests to the pushed_authorization_request_endpoint first (RFC 9126)."))
		return nil, nil, false
	}
	// The stored request is replayed once the person has signed in
	// (handleResume); its request_uri is used up by then, and the pushed
	// parameters are all in the form.
	ar.GetRequestForm().Del("request_uri")
	if err := checkAuthorizeParams(client, ar.GetRequestForm()); err != nil {
		p.writeAuthorizeError(c, ar, err)
		return nil, nil, false
	}
	return ar, client, true
}

// refuseRequestObjects drops request objects from form, so fosite neither
// parses nor fetches them, and returns the refusal for the client once its
// redirect URI is validated (OIDC Core 6.1, 6.2: refused, not ignored). A
// request_uri that kycvs issued at the PAR endpoint is the one kind it
// accepts (pushed is then true): the pushed request is the whole request.
func refuseRequestObjects(form url.Values) (pushed bool, refuse error) {
	pushed = pushedOnly(form)
	if form.Has("request") {
		refuse = fosite.ErrRequestNotSupported
		form.Del("request")
	}
	if form.Has("request_uri") && !pushed {
		refuse = fosite.ErrRequestURINotSupported
		form.Del("request_uri")
	}
	return pushed, refuse
}

// checkAuthorizeParams applies the rules fosite leaves to kycvs: a nonce
// (checkNonce), PKCE (checkPKCE), and a dpop_jkt that is a JWK thumbprint.
func checkAuthorizeParams(client *Client, form url.Values) error {
	if err := checkNonce(form); err != nil {
		return err
	}
	if err := checkPKCE(client, form); err != nil {
		return err
	}
	if jkt := form.Get("dpop_jkt"); jkt != "" && !validJKT(jkt) {
		return fosite.ErrInvalidRequest.WithHint("dpop_jkt is not a SHA-256 JWK thumbprint.")
	}
	return nil
}

// answerSilently answers prompt=none from the browser's session, never
// with a page (OIDC Core 3.1.2.6): login_required when there is no session
// or it needs a new sign-in, consent_required when the session's grants
// for the client do not cover the plan, else the code.
func (p *Provider) answerSilently(c *gin.Context, ar fosite.AuthorizeRequester, client *Client, plan disclosure, sess *store.Session, needLogin, needConsent bool, now time.Time) {
	switch {
	case needLogin:
		p.writeAuthorizeError(c, ar, fosite.ErrLoginRequired.WithHint("The person is not signed in."))
		return
	case needConsent:
		p.writeAuthorizeError(c, ar, fosite.ErrConsentRequired.WithHint("The person has not agreed to share this with the client in this session."))
		return
	}
	p.finish(c, ar, client, plan, approval{
		BeneficiaryID: sess.BeneficiaryID,
		AuthTime:      sess.AuthTime,
		RequestedAt:   now,
		Session:       sess,
	})
}

// startLogin stores the login request, with the disclosure plan the
// sign-in pages show and the resume releases, and sends the browser to
// sign in.
func (p *Provider) startLogin(c *gin.Context, ar fosite.AuthorizeRequester, client *Client, plan disclosure, forceLogin bool, now time.Time) {
	form := ar.GetRequestForm()
	lr := &store.LoginRequest{
		ID:         newChallenge(),
		ClientID:   client.ID,
		ClientName: client.displayName(),
		Form:       form.Encode(),
		Scopes:     plan.Grants,
		Claims:     plan.All(),
		Plan:       plan.stored(),
		State:      store.LoginPending,
		LoginHint:  form.Get("login_hint"),
		ForceLogin: forceLogin,
		CreatedAt:  now,
		ExpiresAt:  now.Add(p.cfg.LoginTTL),
	}
	if err := p.st.CreateLoginRequest(c.Request.Context(), lr); err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	c.Redirect(http.StatusSeeOther, p.cfg.NewLoginURL(c.Request.Context(), lr))
}

// exactRedirect enforces exact string matching of redirect_uri against the
// registration (fosite alone would accept any port on a loopback URI,
// RFC 8252 7.3). A mismatch is shown to the person and never redirected.
// A request without redirect_uri is left to fosite, which uses the one
// registered URI or refuses.
func (p *Provider) exactRedirect(c *gin.Context, form url.Values) bool {
	uri := form.Get("redirect_uri")
	id := form.Get("client_id")
	if uri == "" || id == "" {
		return true
	}
	client, err := getClient(c.Request.Context(), p.st, id)
	if err != nil {
		return true // fosite reports the unknown client or the outage
	}
	if !slices.Contains(client.RedirectURIs, uri) {
		web.RenderError(c, http.StatusBadRequest, "redirect_unregistered")
		return false
	}
	return true
}

// approval is how a person came to agree: by OTP just now, by the consent
// screen, or silently by an existing session.
type approval struct {
	BeneficiaryID string
	AuthTime      time.Time
	RequestedAt   time.Time
	LoginRequest  string
	// Session is the browser session the approval belongs to; its sid
	// goes into the ID token and the client is remembered in it for
	// back-channel logout. nil when there is none.
	Session *store.Session
	// Beneficiary is the person as read with the login request, or nil:
	// finish reads them from the registry then.
	Beneficiary *store.Beneficiary
}

// finish issues the authorization code. The code, the disclosure record,
// the client's place in the session (for back-channel logout) and the login
// request's move to "used" are written together (store.WriteTogether):
// all or none.
func (p *Provider) finish(c *gin.Context, ar fosite.AuthorizeRequester, client *Client, plan disclosure, a approval) {
	ctx := c.Request.Context()
	if b := a.Beneficiary; b == nil || b.ID != a.BeneficiaryID {
		b, err := p.registry.Beneficiary(ctx, a.BeneficiaryID)
		if errors.Is(err, store.ErrNotFound) {
			p.writeAuthorizeError(c, ar, fosite.ErrAccessDenied.WithHint("The person's record is no longer in the registry."))
			return
		}
		if err != nil {
			p.writeAuthorizeError(c, ar, err)
			return
		}
		a.Beneficiary = b
	}
	var answer func()
	err := p.st.WriteTogether(ctx, func(w *store.Writes) error {
		answer = p.issue(c, w, ar, client, plan, a)
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		web.RenderError(c, http.StatusConflict, "already_complete")
		return
	}
	if err != nil {
		p.writeAuthorizeError(c, ar, err)
		return
	}
	answer()
}

// issue works out the authorization code for a, whose person
// a.Beneficiary is: it adds to w the code's rows, the disclosure record,
// the client's place in the session and, for a login request, its move
// from approved to used (conditional: of two answers racing, one
// issues), and returns the answer to write once w has landed. When no
// code can be issued it adds nothing and the answer is the error.
func (p *Provider) issue(c *gin.Context, w *store.Writes, ar fosite.AuthorizeRequester, client *Client, plan disclosure, a approval) (answer func()) {
	b := a.Beneficiary
	sector, err := claims.Sector(client.Client)
	if err != nil {
		return func() {
			p.writeAuthorizeError(c, ar, fosite.ErrServerError.WithHint("The client's registration has no usable sector for pairwise subjects.").WithDebug(err.Error()))
		}
	}
	subject := p.pairwise.Subject(sector, b.ID)
	values := p.claimValues(b, plan.All())
	sess := newSession(subject, client, b.ID, plan, values, a)
	sess.AuthorizeJKT = ar.GetRequestForm().Get("dpop_jkt")
	for _, scope := range ar.GetRequestedScopes() {
		ar.GrantScope(scope)
	}
	rp := p.rpSession(a.Session, client.ID, subject, b.ID, ar.GetGrantedScopes().Has(claims.ScopeOfflineAccess))
	if rp != nil {
		// Back-Channel Logout 1.0 2.4: the ID token names the session
		// that a logout token will name.
		sess.DefaultSession.Claims.Extra["sid"] = rp.SID
	}
	// fosite creates the code, PKCE and OpenID Connect rows one by one;
	// they are kept (tokenBatch) and written with the rest.
	bctx := withTokenBatch(c.Request.Context())
	resp, err := p.oauth2.NewAuthorizeResponse(bctx, ar, sess)
	if err != nil {
		return func() { p.writeAuthorizeError(c, ar, err) }
	}
	disclosure := p.newDisclosure(client.ID, b.ID, subject, store.DisclosedAtAuthorize, ar.GetID(), plan.All(), values)
	if a.LoginRequest != "" {
		w.UseApprovedLoginRequest(a.LoginRequest)
	}
	w.CreateTokens(takeBatch(bctx))
	if rp != nil {
		w.RecordRPSession(rp)
	}
	w.CreateDisclosure(disclosure)
	return func() {
		p.cfg.Metrics.Disclosed(string(disclosure.Channel), disclosure.VaccinationStatus)
		p.writeAuthorizeResponse(c, ar, resp)
	}
}

// newSession builds the fosite session for one approval. Disclosed claims
// go into the ID token's extra claims, never over a protocol claim.
func newSession(subject string, client *Client, beneficiaryID string, plan disclosure, values map[string]any, a approval) *Session {
	extra := map[string]any{}
	for _, name := range plan.IDToken {
		if v, ok := values[name]; ok && !protectedClaims[name] {
			extra[name] = v
		}
	}
	return &Session{
		DefaultSession: &openid.DefaultSession{
			Claims: &fositejwt.IDTokenClaims{
				Subject:     subject,
				AuthTime:    a.AuthTime.UTC(),
				RequestedAt: a.RequestedAt.UTC(),
				// RFC 8176: a one-time password, delivered by SMS.
				AuthenticationMethodsReferences: []string{"otp", "sms"},
				Extra:                           extra,
			},
			Headers: &fositejwt.Headers{Extra: map[string]any{"alg": client.idTokenAlg()}},
			Subject: subject,
		},
		BeneficiaryID:  beneficiaryID,
		ClientID:       client.ID,
		Userinfo:       plan.Userinfo,
		IDToken:        plan.IDToken,
		LoginRequestID: a.LoginRequest,
	}
}

// protectedClaims may never come from the registry or a claims request
// (the protected-claims rule: an extension must not forge protocol claims).
var protectedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"nonce": true, "auth_time": true, "acr": true, "amr": true, "azp": true,
	"at_hash": true, "c_hash": true, "sid": true, "rat": true,
}

// newDisclosure makes the record of one disclosure, made now by the
// provider's clock.
func (p *Provider) newDisclosure(clientID, beneficiaryID, subject string, channel store.DisclosureChannel, requestID string, names []string, values map[string]any) *store.Disclosure {
	d := &store.Disclosure{
		CreatedAt:     p.cfg.Now().UTC(),
		ID:            newChallenge(),
		ClientID:      clientID,
		BeneficiaryID: beneficiaryID,
		Subject:       subject,
		Claims:        store.StringList(names),
		Channel:       channel,
		RequestID:     requestID,
	}
	if v, ok := values[claims.ClaimVaccinationStatus].(int); ok {
		d.VaccinationStatus = &v
	} else if vc, ok := values[claims.ClaimVerifiedClaims].(map[string]any); ok {
		if v, ok := vc["claims"].(map[string]any)[claims.ClaimVaccinationStatus].(int); ok {
			d.VaccinationStatus = &v
		}
	}
	// The yes or no, never the status it came from: that was not disclosed.
	if v, ok := values[claims.ClaimFullyVaccinated].(bool); ok {
		d.FullyVaccinated = &v
	}
	return d
}

// newChallenge returns 256 random bits, URL-safe.
func newChallenge() string { return randomToken(32) }
