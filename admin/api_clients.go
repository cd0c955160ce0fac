package admin

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// ClientJSON is a client as the admin API shows it: never a secret or its
// hash; rotated secrets only by when they stop working.
type ClientJSON struct {
	ClientID                  string   `json:"client_id"`
	ClientSecret              string   `json:"client_secret,omitempty"`
	Name                      string   `json:"name"`
	RedirectURIs              []string `json:"redirect_uris"`
	PostLogoutRedirectURIs    []string `json:"post_logout_redirect_uris"`
	Scopes                    []string `json:"scopes"`
	Public                    bool     `json:"public"`
	TokenEndpointAuthMethod   string   `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg  string   `json:"id_token_signed_response_alg"`
	UserinfoSignedResponseAlg string   `json:"userinfo_signed_response_alg"`
	SectorIdentifierURI       string   `json:"sector_identifier_uri"`
	LogoURI                   string   `json:"logo_uri"`
	Contacts                  []string `json:"contacts"`
	Disabled                  bool     `json:"disabled"`
	PreviousSecretsValidUntil []string `json:"previous_secrets_valid_until"`
	// The high-assurance settings (RFC 9126, RFC 7523, RFC 9449, FAPI 2.0).
	RequirePAR                  bool            `json:"require_pushed_authorization_requests"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                     string          `json:"jwks_uri"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg"`
	DPoPBoundAccessTokens       bool            `json:"dpop_bound_access_tokens"`
	Profile                     string          `json:"profile"`
	// RegisteredWith is the initial access token a self-registered
	// client used (RFC 7591); "" for a client an admin made.
	RegisteredWith string `json:"registered_with"`
	// Back-Channel Logout 1.0.
	BackchannelLogoutURI             string    `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired bool      `json:"backchannel_logout_session_required"`
	CreatedAt                        time.Time `json:"created_at"`
	UpdatedAt                        time.Time `json:"updated_at"`
}

// ToClientJSON renders c, with secret when one was just made, at now.
func ToClientJSON(c *store.Client, secret string, now time.Time) ClientJSON {
	until := []string{}
	for _, r := range c.RotatedSecrets {
		if now.Before(r.ExpiresAt) {
			until = append(until, r.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	j := ClientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs), Scopes: nonNil(c.Scopes),
		Public: c.Public, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, SectorIdentifierURI: c.SectorIdentifier, LogoURI: c.LogoURI,
		Contacts: nonNil(c.Contacts), Disabled: c.Disabled, PreviousSecretsValidUntil: until, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		RequirePAR: c.RequirePushedAuthorizationRequests, JWKSURI: c.JWKSURI, TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg,
		DPoPBoundAccessTokens: c.DPoPBoundAccessTokens, Profile: c.Profile, RegisteredWith: c.RegisteredWith,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
	}
	if c.JWKS != "" {
		j.JWKS = json.RawMessage(c.JWKS)
	}
	return j
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// clientInput is a create or update body; absent fields are nil.
type clientInput struct {
	ClientID                         *string         `json:"client_id"`
	Name                             *string         `json:"name"`
	RedirectURIs                     *[]string       `json:"redirect_uris"`
	PostLogoutRedirectURIs           *[]string       `json:"post_logout_redirect_uris"`
	Scopes                           *[]string       `json:"scopes"`
	Public                           *bool           `json:"public"`
	TokenEndpointAuthMethod          *string         `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg         *string         `json:"id_token_signed_response_alg"`
	UserinfoSignedResponseAlg        *string         `json:"userinfo_signed_response_alg"`
	SectorIdentifierURI              *string         `json:"sector_identifier_uri"`
	LogoURI                          *string         `json:"logo_uri"`
	Contacts                         *[]string       `json:"contacts"`
	AllowSectorChange                bool            `json:"allow_sector_change"`
	RequirePAR                       *bool           `json:"require_pushed_authorization_requests"`
	JWKS                             json.RawMessage `json:"jwks"`
	JWKSURI                          *string         `json:"jwks_uri"`
	TokenEndpointAuthSigningAlg      *string         `json:"token_endpoint_auth_signing_alg"`
	DPoPBoundAccessTokens            *bool           `json:"dpop_bound_access_tokens"`
	Profile                          *string         `json:"profile"`
	BackchannelLogoutURI             *string         `json:"backchannel_logout_uri"`
	BackchannelLogoutSessionRequired *bool           `json:"backchannel_logout_session_required"`
}

// apply sets the fields present in in on spec.
func (in *clientInput) apply(spec *oauth.ClientSpec) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = strings.TrimSpace(*v)
		}
	}
	set(&spec.Name, in.Name)
	set(&spec.TokenEndpointAuthMethod, in.TokenEndpointAuthMethod)
	set(&spec.IDTokenSignedResponseAlg, in.IDTokenSignedResponseAlg)
	set(&spec.UserinfoSignedResponseAlg, in.UserinfoSignedResponseAlg)
	set(&spec.SectorIdentifier, in.SectorIdentifierURI)
	set(&spec.LogoURI, in.LogoURI)
	if in.RedirectURIs != nil {
		spec.RedirectURIs = *in.RedirectURIs
	}
	if in.PostLogoutRedirectURIs != nil {
		spec.PostLogoutRedirectURIs = *in.PostLogoutRedirectURIs
	}
	if in.Scopes != nil {
		spec.Scopes = *in.Scopes
	}
	if in.Contacts != nil {
		spec.Contacts = *in.Contacts
	}
	if in.Public != nil {
		spec.Public = *in.Public
	}
	set(&spec.TokenEndpointAuthSigningAlg, in.TokenEndpointAuthSigningAlg)
	set(&spec.Profile, in.Profile)
	if in.JWKSURI != nil {
		spec.JWKSURI, spec.JWKS = strings.TrimSpace(*in.JWKSURI), ""
	}
	if len(in.JWKS) > 0 && string(in.JWKS) != "null" {
		spec.JWKS, spec.JWKSURI = string(in.JWKS), ""
	}
	if in.RequirePAR != nil {
		spec.RequirePAR = *in.RequirePAR
	}
	if in.DPoPBoundAccessTokens != nil {
		spec.DPoPBoundAccessTokens = *in.DPoPBoundAccessTokens
	}
	set(&spec.BackchannelLogoutURI, in.BackchannelLogoutURI)
	if in.BackchannelLogoutSessionRequired != nil {
		spec.BackchannelLogoutSessionRequired = *in.BackchannelLogoutSessionRequired
	}
}

func (a *API) handleListClients(c *gin.Context, _ Actor) {
	q := &query{c: c}
	search := q.str("q", 200)
	limit := q.limit()
	var afterName, afterID string
	if cur := c.Query("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		name, id, ok := strings.Cut(string(b), "\x00")
		if err != nil || !ok || id == "" {
			q.problems = append(q.problems, "cursor: not a cursor this API returned")
		}
		afterName, afterID = name, id
	}
	if !q.ok() {
		return
	}
	cs, more, err := a.svc.Store().SearchClients(c.Request.Context(), store.ClientFilter{Query: search, AfterName: afterName, AfterID: afterID, Limit: limit})
	if err != nil {
		a.storeError(c, err)
		return
	}
	now := a.svc.Now()
	items := make([]ClientJSON, len(cs))
	for i := range cs {
		items[i] = ToClientJSON(&cs[i], "", now)
	}
	next := ""
	if more {
		last := cs[len(cs)-1]
		next = base64.RawURLEncoding.EncodeToString([]byte(last.Name + "\x00" + last.ID))
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func (a *API) handleCreateClient(c *gin.Context, actor Actor) {
	var in clientInput
	if !decodeJSON(c, &in, false) {
		return
	}
	var spec oauth.ClientSpec
	if in.ClientID != nil {
		spec.ID = strings.TrimSpace(*in.ClientID)
	}
	in.apply(&spec)
	cl, secret, err := a.svc.CreateClient(c.Request.Context(), actor, spec)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	a.log(c).Info("admin: client created", "client_id", cl.ID, "by", actor.ID)
	c.JSON(http.StatusCreated, ToClientJSON(cl, secret, a.svc.Now()))
}

func (a *API) handleGetClient(c *gin.Context, _ Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	cl, err := a.svc.Store().GetClient(c.Request.Context(), id)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	c.JSON(http.StatusOK, ToClientJSON(cl, "", a.svc.Now()))
}

func (a *API) handleUpdateClient(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	var in clientInput
	if !decodeJSON(c, &in, false) {
		return
	}
	if in.ClientID != nil && *in.ClientID != id {
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The client is not valid.", "client_id: cannot change")
		return
	}
	cl, secret, err := a.svc.UpdateClient(c.Request.Context(), actor, id, func(s *oauth.ClientSpec) error {
		in.apply(s)
		return nil
	}, in.AllowSectorChange)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	c.JSON(http.StatusOK, ToClientJSON(cl, secret, a.svc.Now()))
}

func (a *API) handleDeleteClient(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	if err := a.svc.DeleteClient(c.Request.Context(), actor, id); err != nil {
		a.fail(c, err, "client")
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) handleDisable(disabled bool) func(*gin.Context, Actor) {
	return func(c *gin.Context, actor Actor) {
		id, ok := validID(c, "id")
		if !ok {
			return
		}
		var none struct{}
		if !decodeJSON(c, &none, true) {
			return
		}
		cl, err := a.svc.SetClientDisabled(c.Request.Context(), actor, id, disabled)
		if err != nil {
			a.fail(c, err, "client")
			return
		}
		c.JSON(http.StatusOK, ToClientJSON(cl, "", a.svc.Now()))
	}
}

func (a *API) handleRotateSecret(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	in := struct {
		Grace *int64 `json:"grace_period_seconds"`
	}{}
	if !decodeJSON(c, &in, true) {
		return
	}
	grace := oauth.DefaultSecretGrace
	if in.Grace != nil {
		if *in.Grace < 0 || *in.Grace > int64(oauth.MaxSecretGrace/time.Second) {
			a.fail(c, oauth.ErrBadGrace, "client")
			return
		}
		grace = time.Duration(*in.Grace) * time.Second
	}
	secret, cl, err := a.svc.RotateClientSecret(c.Request.Context(), actor, id, grace)
	if err != nil {
		a.fail(c, err, "client")
		return
	}
	a.log(c).Info("admin: client secret rotated", "client_id", id, "grace", grace, "by", actor.ID)
	c.JSON(http.StatusOK, ToClientJSON(cl, secret, a.svc.Now()))
}
