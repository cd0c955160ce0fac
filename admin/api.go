package admin

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// APIPrefix is where the admin API is mounted.
const APIPrefix = "/admin/v1"

// MaxImportBytes bounds a registry CSV sent to the API; the API's engine
// must accept bodies this large (web.Config.MaxBodyBytes). JSON bodies are
// held to maxJSONBytes by the API itself.
const (
	MaxImportBytes int64 = 64 << 20
	maxJSONBytes   int64 = 256 << 10
)

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3 description of the admin API, as
// served at /admin/v1/openapi.json.
func OpenAPIDocument() []byte { return bytes.Clone(openAPIDocument) }

// APIConfig is the admin API's configuration.
type APIConfig struct {
	// Location is the time zone of "today" on the dashboard.
	Location *time.Location
	// Logger receives the API's events; nil means the engine's (web.Log).
	Logger *slog.Logger
}

// API is the admin API: JSON under /admin/v1, authenticated by admin API
// keys (Authorization: Bearer kycvsadm_...), each route needing one
// Permission. It is safe for concurrent use.
type API struct {
	cfg APIConfig
	svc *Service
}

// NewAPI returns the admin API over svc.
func NewAPI(cfg APIConfig, svc *Service) *API {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &API{cfg: cfg, svc: svc}
}

// Route is one admin API route and the permission it needs.
type Route struct {
	Method, Path string
	Permission   Permission // "" for the public OpenAPI document
	handler      func(*gin.Context, Actor)
}

// Routes lists every route of the API, as Register mounts them.
func (a *API) Routes() []Route {
	p := APIPrefix
	return []Route{
		{http.MethodGet, p + "/openapi.json", "", nil},
		{http.MethodGet, p + "/me", PermRead, a.handleMe},
		{http.MethodGet, p + "/stats", PermRead, a.handleStats},
		{http.MethodGet, p + "/clients", PermRead, a.handleListClients},
		{http.MethodPost, p + "/clients", PermClients, a.handleCreateClient},
		{http.MethodGet, p + "/clients/:id", PermRead, a.handleGetClient},
		{http.MethodPatch, p + "/clients/:id", PermClients, a.handleUpdateClient},
		{http.MethodDelete, p + "/clients/:id", PermClients, a.handleDeleteClient},
		{http.MethodPost, p + "/clients/:id/disable", PermClients, a.handleDisable(true)},
		{http.MethodPost, p + "/clients/:id/enable", PermClients, a.handleDisable(false)},
		{http.MethodPost, p + "/clients/:id/rotate-secret", PermClients, a.handleRotateSecret},
		{http.MethodGet, p + "/clients/:id/api-keys", PermRead, a.handleListAPIKeys},
		{http.MethodPost, p + "/clients/:id/api-keys", PermClients, a.handleCreateAPIKey},
		{http.MethodPost, p + "/clients/:id/api-keys/:key_id/revoke", PermClients, a.handleRevokeAPIKey},
		{http.MethodGet, p + "/beneficiaries", PermRead, a.handleSearchBeneficiaries},
		{http.MethodPost, p + "/beneficiaries", PermRegistry, a.handleCreateBeneficiary},
		{http.MethodPost, p + "/beneficiaries/import", PermRegistry, a.handleImport},
		{http.MethodGet, p + "/beneficiaries/:id", PermRead, a.handleGetBeneficiary},
		{http.MethodPut, p + "/beneficiaries/:id", PermRegistry, a.handleUpdateBeneficiary},
		{http.MethodDelete, p + "/beneficiaries/:id", PermRegistry, a.handleDeleteBeneficiary},
		{http.MethodGet, p + "/disclosures", PermRead, a.handleListDisclosures},
		{http.MethodGet, p + "/disclosures.csv", PermRead, a.handleExportDisclosures},
		{http.MethodGet, p + "/keys", PermRead, a.handleListKeys},
		{http.MethodPost, p + "/keys/rotate", PermKeys, a.handleRotateKey},
		{http.MethodPost, p + "/keys/:kid/retire", PermKeys, a.handleRetireKey},
		{http.MethodGet, p + "/audit", PermRead, a.handleAudit},
	}
}

// Register mounts the API on e, an engine of its own (web.NewEngine with
// MaxBodyBytes at least MaxImportBytes) that serves APIPrefix and nothing
// else: unknown paths and methods answer JSON errors there, not pages.
func (a *API) Register(e *gin.Engine) {
	e.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, CodeNotFound, "There is no such admin API route; see "+APIPrefix+"/openapi.json.")
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "This route does not take that method; see "+APIPrefix+"/openapi.json.")
	})
	for _, r := range a.Routes() {
		if r.handler == nil {
			e.GET(r.Path, serveOpenAPI)
			continue
		}
		e.Handle(r.Method, r.Path, a.recover, a.authenticate(r.Permission, r.handler))
	}
}

func serveOpenAPI(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}

// Stable error codes of the admin API, in the "error" member of every
// error response; "message" says the same for people.
const (
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeInvalidRequest   = "invalid_request"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeBodyTooLarge     = "body_too_large"
	CodeValidation       = "validation_failed"
	CodeInvalidCSV       = "invalid_csv"
	CodeAlreadyExists    = "already_exists"
	CodePublicClient     = "public_client"
	CodeSectorChange     = "sector_change"
	CodeSameName         = "same_name_on_mobile"
	CodeLastKey          = "last_key"
	CodeKeyRetired       = "key_retired"
	CodeAPIKeyRevoked    = "api_key_revoked"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal_error"
)

// apiError is the body of every error.
type apiError struct {
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

func writeError(c *gin.Context, status int, code, message string, details ...string) {
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, apiError{Error: code, Message: message, Details: details})
}

func (a *API) log(c *gin.Context) *slog.Logger {
	if a.cfg.Logger == nil {
		return web.Log(c)
	}
	return a.cfg.Logger.With("request_id", web.RequestID(c))
}

// recover answers a panic with a JSON 500 (the engine's own recovery would
// render a page).
func (a *API) recover(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log(c).Error("admin API: panic", "panic", fmt.Sprint(p), "path", c.FullPath())
			writeError(c, http.StatusInternalServerError, CodeInternal, "Something went wrong on our side.")
		}
	}()
	c.Next()
}

// authenticate checks the bearer admin API key and the route's
// permission, then runs h with the caller as Actor.
func (a *API) authenticate(perm Permission, h func(*gin.Context, Actor)) gin.HandlerFunc {
	return func(c *gin.Context) {
		scheme, key, ok := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			c.Header("WWW-Authenticate", `Bearer realm="kycvs-admin"`)
			writeError(c, http.StatusUnauthorized, CodeUnauthorized, "Send an admin API key: Authorization: Bearer kycvsadm_...")
			return
		}
		rec, err := a.svc.AuthenticateKey(c.Request.Context(), strings.TrimSpace(key))
		switch {
		case errors.Is(err, ErrInvalidAdminKey):
			c.Header("WWW-Authenticate", `Bearer realm="kycvs-admin", error="invalid_token"`)
			writeError(c, http.StatusUnauthorized, CodeUnauthorized, "The admin API key is not valid or has been revoked.")
			return
		case err != nil:
			a.storeError(c, err)
			return
		}
		actor := Actor{Type: ActorAPIKey, ID: rec.ID, Name: rec.Name, Role: Role(rec.Role), IP: c.ClientIP(), RequestID: web.RequestID(c)}
		if !actor.Role.Can(perm) {
			a.log(c).Info("admin API: forbidden", "key", rec.ID, "role", rec.Role, "needs", string(perm))
			writeError(c, http.StatusForbidden, CodeForbidden, fmt.Sprintf("The role %s may not do this (it needs %s).", rec.Role, perm))
			return
		}
		c.Header("Cache-Control", "no-store")
		h(c, actor)
	}
}

// storeError answers an error no handler expected.
func (a *API) storeError(c *gin.Context, err error) {
	if errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		a.log(c).Error("admin API: database unavailable", "err", err)
		writeError(c, http.StatusServiceUnavailable, CodeUnavailable, "The database cannot be reached right now. Try again in a minute.")
		return
	}
	a.log(c).Error("admin API: failed", "err", err)
	writeError(c, http.StatusInternalServerError, CodeInternal, "Something went wrong on our side.")
}

// fail answers the errors every write may meet; anything else is a store
// error.
func (a *API) fail(c *gin.Context, err error, what string) {
	var ve *oauth.ValidationError
	var ie *InvalidError
	var imp *claims.ImportError
	switch {
	case errors.As(err, &ve):
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The "+what+" is not valid.", ve.Problems...)
	case errors.As(err, &ie):
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The "+what+" is not valid.", ie.Problems...)
	case errors.As(err, &imp):
		details := make([]string, len(imp.Errors))
		for i, le := range imp.Errors {
			details[i] = fmt.Sprintf("line %d: %s", le.Line, le.Msg)
		}
		writeError(c, http.StatusUnprocessableEntity, CodeInvalidCSV, fmt.Sprintf("The CSV has %d problem(s); nothing was imported.", len(imp.Errors)), details...)
	case errors.Is(err, store.ErrNotFound):
		writeError(c, http.StatusNotFound, CodeNotFound, "There is no such "+what+".")
	case errors.Is(err, store.ErrAlreadyExists):
		writeError(c, http.StatusConflict, CodeAlreadyExists, "A "+what+" with this ID already exists.")
	case errors.Is(err, oauth.ErrPublicClient):
		writeError(c, http.StatusConflict, CodePublicClient, "A public client has no secret to rotate.")
	case errors.Is(err, oauth.ErrBadGrace):
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The grace period is not valid.", "grace_period_seconds: 0 to 2592000 (30 days)")
	case errors.Is(err, ErrSectorChange):
		writeError(c, http.StatusConflict, CodeSectorChange, ErrSectorChange.Error()+". Send allow_sector_change: true to do it anyway.")
	case errors.Is(err, ErrSameNameOnMobile):
		writeError(c, http.StatusConflict, CodeSameName, ErrSameNameOnMobile.Error()+": a sign-in could not tell them apart.")
	case errors.Is(err, oauth.ErrLastKey):
		writeError(c, http.StatusConflict, CodeLastKey, "This is the only key of its algorithm that is not retired: rotate first.")
	case errors.Is(err, oauth.ErrKeyRetired):
		writeError(c, http.StatusConflict, CodeKeyRetired, "The key is already retired.")
	default:
		a.storeError(c, err)
	}
}

// decodeJSON reads a JSON object body into v, refusing unknown fields.
// An empty body is allowed when optional (v keeps its zero value).
func decodeJSON(c *gin.Context, v any, optional bool) bool {
	if c.Request.ContentLength > maxJSONBytes {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The body is larger than 256 KiB.")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxJSONBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || int64(len(body)) > maxJSONBytes:
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The body is larger than 256 KiB.")
		return false
	case err != nil:
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body could not be read.")
		return false
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		if !optional {
			writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body must be a JSON object.")
		}
		return optional
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" {
		writeError(c, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send the body as application/json.")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if body[0] != '{' {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body must be a JSON object.")
		return false
	}
	if err := dec.Decode(v); err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body is not valid: "+jsonProblem(err))
		return false
	}
	if dec.More() {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body must be one JSON object.")
		return false
	}
	return true
}

// jsonProblem says what is wrong with a JSON body without echoing it.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s", te.Field, te.Type.Kind())
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// Cursors are opaque to clients: base64url of "unix-nanoseconds|id".
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + "|" + id))
}

func decodeCursor(s string) (*store.Cursor, bool) {
	if s == "" {
		return nil, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	ns, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, false
	}
	return &store.Cursor{At: time.Unix(0, n).UTC(), ID: id}, true
}

// query reads the listing parameters every list shares.
type query struct {
	c        *gin.Context
	problems []string
}

func (q *query) str(name string, max int) string {
	v := strings.TrimSpace(q.c.Query(name))
	if len(v) > max {
		q.problems = append(q.problems, fmt.Sprintf("%s: at most %d characters", name, max))
		return ""
	}
	return v
}

// time reads an RFC 3339 time or a date (midnight UTC; with endOfDay, the
// next midnight, so "until" a date includes that day).
func (q *query) time(name string, endOfDay bool) time.Time {
	v := q.c.Query(name)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil {
		if endOfDay {
			return d.AddDate(0, 0, 1)
		}
		return d
	}
	q.problems = append(q.problems, name+": an RFC 3339 time (2026-01-31T18:30:00Z) or a date (2026-01-31)")
	return time.Time{}
}

func (q *query) limit() int {
	v := q.c.Query("limit")
	if v == "" {
		return 100
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		q.problems = append(q.problems, "limit: a whole number from 1 to 1000")
		return 100
	}
	return n
}

func (q *query) cursor() *store.Cursor {
	cur, ok := decodeCursor(q.c.Query("cursor"))
	if !ok {
		q.problems = append(q.problems, "cursor: not a cursor this API returned")
	}
	return cur
}

// ok answers 400 with every problem found, and reports whether there was
// none.
func (q *query) ok() bool {
	if len(q.problems) > 0 {
		writeError(q.c, http.StatusBadRequest, CodeInvalidRequest, "The query parameters are not valid.", q.problems...)
		return false
	}
	return true
}

// validID is a path ID kycvs could have stored: 1 to 128 characters.
func validID(c *gin.Context, name string) (string, bool) {
	id := c.Param(name)
	if id == "" || len(id) > 128 {
		writeError(c, http.StatusNotFound, CodeNotFound, "There is no such "+strings.TrimSuffix(name, "id")+".")
		return "", false
	}
	return id, true
}

func (a *API) handleMe(c *gin.Context, actor Actor) {
	perms := actor.Role.Permissions()
	c.JSON(http.StatusOK, gin.H{"actor_type": actor.Type, "id": actor.ID, "name": actor.Name, "role": actor.Role, "permissions": perms})
}

func (a *API) handleStats(c *gin.Context, actor Actor) {
	d, err := a.svc.Dashboard(c.Request.Context(), a.cfg.Location)
	if err != nil {
		a.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

// Clients.

// ClientJSON is a client as the admin API shows it: never a secret or its
// hash; rotated secrets only by when they stop working.
type ClientJSON struct {
	ClientID                  string    `json:"client_id"`
	ClientSecret              string    `json:"client_secret,omitempty"`
	Name                      string    `json:"name"`
	RedirectURIs              []string  `json:"redirect_uris"`
	Scopes                    []string  `json:"scopes"`
	Public                    bool      `json:"public"`
	TokenEndpointAuthMethod   string    `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg  string    `json:"id_token_signed_response_alg"`
	UserinfoSignedResponseAlg string    `json:"userinfo_signed_response_alg"`
	SectorIdentifierURI       string    `json:"sector_identifier_uri"`
	LogoURI                   string    `json:"logo_uri"`
	Contacts                  []string  `json:"contacts"`
	Disabled                  bool      `json:"disabled"`
	PreviousSecretsValidUntil []string  `json:"previous_secrets_valid_until"`
	CreatedAt                 time.Time `json:"created_at"`
	UpdatedAt                 time.Time `json:"updated_at"`
}

// ToClientJSON renders c, with secret when one was just made, at now.
func ToClientJSON(c *store.Client, secret string, now time.Time) ClientJSON {
	until := []string{}
	for _, r := range c.RotatedSecrets {
		if now.Before(r.ExpiresAt) {
			until = append(until, r.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	return ClientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name, RedirectURIs: nonNil(c.RedirectURIs), Scopes: nonNil(c.Scopes),
		Public: c.Public, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, SectorIdentifierURI: c.SectorIdentifier, LogoURI: c.LogoURI,
		Contacts: nonNil(c.Contacts), Disabled: c.Disabled, PreviousSecretsValidUntil: until, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// clientInput is a create or update body; absent fields are nil.
type clientInput struct {
	ClientID                  *string   `json:"client_id"`
	Name                      *string   `json:"name"`
	RedirectURIs              *[]string `json:"redirect_uris"`
	Scopes                    *[]string `json:"scopes"`
	Public                    *bool     `json:"public"`
	TokenEndpointAuthMethod   *string   `json:"token_endpoint_auth_method"`
	IDTokenSignedResponseAlg  *string   `json:"id_token_signed_response_alg"`
	UserinfoSignedResponseAlg *string   `json:"userinfo_signed_response_alg"`
	SectorIdentifierURI       *string   `json:"sector_identifier_uri"`
	LogoURI                   *string   `json:"logo_uri"`
	Contacts                  *[]string `json:"contacts"`
	AllowSectorChange         bool      `json:"allow_sector_change"`
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
	if in.Scopes != nil {
		spec.Scopes = *in.Scopes
	}
	if in.Contacts != nil {
		spec.Contacts = *in.Contacts
	}
	if in.Public != nil {
		spec.Public = *in.Public
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

// KYC-VS API keys.

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

// Registry.

// BeneficiaryJSON is a beneficiary as the admin API shows it.
type BeneficiaryJSON struct {
	ID                string     `json:"beneficiary_id"`
	Mobile            string     `json:"mobile"`
	Name              string     `json:"name"`
	YearOfBirth       int        `json:"year_of_birth"`
	Doses             []DoseJSON `json:"doses"`
	VaccinationStatus int        `json:"vaccination_status"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// DoseJSON is one dose.
type DoseJSON struct {
	Vaccine    string `json:"vaccine"`
	DoseNumber int    `json:"dose_number"`
	TotalDoses int    `json:"total_doses"`
	DoseDate   string `json:"dose_date"`
}

// ToBeneficiaryJSON renders b.
func ToBeneficiaryJSON(b *store.Beneficiary) BeneficiaryJSON {
	out := BeneficiaryJSON{ID: b.ID, Mobile: b.Mobile, Name: b.Name, YearOfBirth: b.YearOfBirth, Doses: []DoseJSON{},
		VaccinationStatus: int(claims.StatusFromDoses(b.Doses)), CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	for _, d := range b.Doses {
		out.Doses = append(out.Doses, DoseJSON{Vaccine: d.Vaccine, DoseNumber: d.DoseNumber, TotalDoses: d.TotalDoses, DoseDate: d.DoseDate})
	}
	return out
}

type beneficiaryInput struct {
	ID          string     `json:"beneficiary_id"`
	Mobile      string     `json:"mobile"`
	Name        string     `json:"name"`
	YearOfBirth int        `json:"year_of_birth"`
	Doses       []DoseJSON `json:"doses"`
}

func (in beneficiaryInput) input() BeneficiaryInput {
	out := BeneficiaryInput{ID: strings.TrimSpace(in.ID), Mobile: in.Mobile, Name: in.Name, YearOfBirth: in.YearOfBirth}
	for _, d := range in.Doses {
		out.Doses = append(out.Doses, store.Dose{Vaccine: strings.TrimSpace(d.Vaccine), DoseNumber: d.DoseNumber, TotalDoses: d.TotalDoses, DoseDate: strings.TrimSpace(d.DoseDate)})
	}
	return out
}

func (a *API) handleSearchBeneficiaries(c *gin.Context, actor Actor) {
	raw := c.Query("mobile")
	mobile, err := claims.NormalizeMobile(raw)
	if err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The query parameters are not valid.", "mobile: a 10-digit Indian mobile number, or + and the country code")
		return
	}
	ctx := c.Request.Context()
	bs, err := a.svc.Store().BeneficiariesByMobile(ctx, mobile)
	if err != nil {
		a.storeError(c, err)
		return
	}
	if err := a.svc.Audit(ctx, actor, "beneficiary.search", "mobile", claims.MaskMobile(mobile), map[string]any{"found": len(bs)}); err != nil {
		a.storeError(c, err)
		return
	}
	items := make([]BeneficiaryJSON, len(bs))
	for i := range bs {
		items[i] = ToBeneficiaryJSON(&bs[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (a *API) handleGetBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	b, err := a.svc.Store().GetBeneficiary(ctx, id)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	if err := a.svc.Audit(ctx, actor, "beneficiary.read", "beneficiary", id, nil); err != nil {
		a.storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, ToBeneficiaryJSON(b))
}

func (a *API) handleCreateBeneficiary(c *gin.Context, actor Actor) {
	var in beneficiaryInput
	if !decodeJSON(c, &in, false) {
		return
	}
	b, err := a.svc.PutBeneficiary(c.Request.Context(), actor, in.input(), true)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.JSON(http.StatusCreated, ToBeneficiaryJSON(b))
}

func (a *API) handleUpdateBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	var in beneficiaryInput
	if !decodeJSON(c, &in, false) {
		return
	}
	if in.ID != "" && in.ID != id {
		writeError(c, http.StatusUnprocessableEntity, CodeValidation, "The beneficiary is not valid.", "beneficiary_id: cannot change")
		return
	}
	in.ID = id
	b, err := a.svc.PutBeneficiary(c.Request.Context(), actor, in.input(), false)
	if err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.JSON(http.StatusOK, ToBeneficiaryJSON(b))
}

func (a *API) handleDeleteBeneficiary(c *gin.Context, actor Actor) {
	id, ok := validID(c, "id")
	if !ok {
		return
	}
	if err := a.svc.DeleteBeneficiary(c.Request.Context(), actor, id); err != nil {
		a.fail(c, err, "beneficiary")
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) handleImport(c *gin.Context, actor Actor) {
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "text/csv" {
		writeError(c, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Send the registry CSV as text/csv.")
		return
	}
	if c.Request.ContentLength > MaxImportBytes {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The CSV is larger than 64 MiB; split it.")
		return
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, MaxImportBytes)
	res, err := a.svc.ImportRegistry(c.Request.Context(), actor, body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeError(c, http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The CSV is larger than 64 MiB; split it.")
		return
	}
	if err != nil {
		a.fail(c, err, "registry CSV")
		return
	}
	c.JSON(http.StatusOK, gin.H{"created": res.Created, "updated": res.Updated, "doses": res.Doses})
}

// Disclosures.

// DisclosureJSON is one disclosure record.
type DisclosureJSON struct {
	ID                string    `json:"id"`
	ClientID          string    `json:"client_id"`
	BeneficiaryID     string    `json:"beneficiary_id"`
	Subject           string    `json:"subject"`
	Claims            []string  `json:"claims"`
	VaccinationStatus *int      `json:"vaccination_status"`
	Channel           string    `json:"channel"`
	RequestID         string    `json:"request_id"`
	CreatedAt         time.Time `json:"created_at"`
}

// ToDisclosureJSON renders d.
func ToDisclosureJSON(d *store.Disclosure) DisclosureJSON {
	return DisclosureJSON{ID: d.ID, ClientID: d.ClientID, BeneficiaryID: d.BeneficiaryID, Subject: d.Subject, Claims: nonNil(d.Claims),
		VaccinationStatus: d.VaccinationStatus, Channel: d.Channel, RequestID: d.RequestID, CreatedAt: d.CreatedAt}
}

// disclosureFilter reads the filters of both disclosure routes.
func disclosureFilter(q *query) store.DisclosureFilter {
	f := store.DisclosureFilter{
		ClientID: q.str("client_id", 128), BeneficiaryID: q.str("beneficiary_id", 128),
		Since: q.time("since", false), Until: q.time("until", true),
	}
	switch v := q.c.Query("status"); v {
	case "":
	case "0", "1", "2":
		n := int(v[0] - '0')
		f.Status = &n
	case "none":
		n := -1
		f.Status = &n
	default:
		q.problems = append(q.problems, "status: 0, 1, 2 or none")
	}
	return f
}

// DisclosureQuery describes a disclosure filter for the audit log.
func DisclosureQuery(f store.DisclosureFilter) map[string]any {
	m := map[string]any{}
	if f.ClientID != "" {
		m["client_id"] = f.ClientID
	}
	if f.BeneficiaryID != "" {
		m["beneficiary_id"] = f.BeneficiaryID
	}
	if !f.Since.IsZero() {
		m["since"] = f.Since.UTC().Format(time.RFC3339)
	}
	if !f.Until.IsZero() {
		m["until"] = f.Until.UTC().Format(time.RFC3339)
	}
	if f.Status != nil {
		m["status"] = "none"
		if *f.Status >= 0 {
			m["status"] = statusLabel(f.Status)
		}
	}
	return m
}

func (a *API) handleListDisclosures(c *gin.Context, actor Actor) {
	q := &query{c: c}
	f := disclosureFilter(q)
	f.Limit, f.After = q.limit(), q.cursor()
	if !q.ok() {
		return
	}
	ctx := c.Request.Context()
	ds, more, err := a.svc.Store().PageDisclosures(ctx, f)
	if err != nil {
		a.storeError(c, err)
		return
	}
	if f.After == nil {
		// One entry per query, not per page.
		if err := a.svc.Audit(ctx, actor, "disclosure.query", "disclosures", "", DisclosureQuery(f)); err != nil {
			a.storeError(c, err)
			return
		}
	}
	writePage(c, ds, more, ToDisclosureJSON, func(d *store.Disclosure) string { return encodeCursor(d.CreatedAt, d.ID) })
}

// DisclosureCSVHeader is the disclosure export's header.
var DisclosureCSVHeader = []string{"id", "created_at", "client_id", "beneficiary_id", "subject", "claims", "vaccination_status", "channel", "request_id"}

// WriteDisclosuresCSV writes the matching disclosures as CSV to w, newest
// first, reading them in pages.
func WriteDisclosuresCSV(ctx context.Context, st *store.Store, f store.DisclosureFilter, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(DisclosureCSVHeader); err != nil {
		return err
	}
	err := st.EachDisclosure(ctx, f, func(d *store.Disclosure) error {
		status := ""
		if d.VaccinationStatus != nil {
			status = strconv.Itoa(*d.VaccinationStatus)
		}
		return cw.Write([]string{d.ID, d.CreatedAt.UTC().Format(time.RFC3339), csvSafe(d.ClientID), csvSafe(d.BeneficiaryID), d.Subject,
			strings.Join(d.Claims, " "), status, d.Channel, d.RequestID})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a value a spreadsheet would run as a formula from being
// one (a client or beneficiary ID is chosen by whoever registered it).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (a *API) handleExportDisclosures(c *gin.Context, actor Actor) {
	q := &query{c: c}
	f := disclosureFilter(q)
	if !q.ok() {
		return
	}
	ctx := c.Request.Context()
	if err := a.svc.Audit(ctx, actor, "disclosure.export", "disclosures", "", DisclosureQuery(f)); err != nil {
		a.storeError(c, err)
		return
	}
	// Written to a buffer first, so a failure half-way is an error
	// response, not a truncated file.
	var buf bytes.Buffer
	if err := WriteDisclosuresCSV(ctx, a.svc.Store(), f, &buf); err != nil {
		a.storeError(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="disclosures.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// Keys.

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

// Audit log.

// AuditJSON is one audit entry.
type AuditJSON struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	ActorType  string         `json:"actor_type"`
	ActorID    string         `json:"actor_id"`
	ActorName  string         `json:"actor_name"`
	Role       string         `json:"role"`
	IP         string         `json:"ip"`
	RequestID  string         `json:"request_id"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Changes    map[string]any `json:"changes"`
}

// ToAuditJSON renders e.
func ToAuditJSON(e *store.AuditEntry) AuditJSON {
	ch := map[string]any(e.Changes)
	if ch == nil {
		ch = map[string]any{}
	}
	return AuditJSON{ID: e.ID, At: e.At, ActorType: e.ActorType, ActorID: e.ActorID, ActorName: e.ActorName, Role: e.Role, IP: e.IP,
		RequestID: e.RequestID, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID, Changes: ch}
}

// auditFilter reads the audit log's filters.
func auditFilter(q *query) store.AuditFilter {
	return store.AuditFilter{
		ActorID: q.str("actor_id", 200), Action: q.str("action", 100),
		TargetType: q.str("target_type", 50), TargetID: q.str("target_id", 200),
		Since: q.time("since", false), Until: q.time("until", true),
	}
}

func (a *API) handleAudit(c *gin.Context, _ Actor) {
	q := &query{c: c}
	f := auditFilter(q)
	f.Limit, f.After = q.limit(), q.cursor()
	if !q.ok() {
		return
	}
	es, more, err := a.svc.Store().ListAuditEntries(c.Request.Context(), f)
	if err != nil {
		a.storeError(c, err)
		return
	}
	writePage(c, es, more, ToAuditJSON, func(e *store.AuditEntry) string { return encodeCursor(e.At, e.ID) })
}

// writePage answers one page of a cursor-paged list: the rows as JSON and,
// when more follow, the cursor of the last row.
func writePage[R, J any](c *gin.Context, rows []R, more bool, toJSON func(*R) J, cursor func(*R) string) {
	items := make([]J, len(rows))
	for i := range rows {
		items[i] = toJSON(&rows[i])
	}
	next := ""
	if more && len(rows) > 0 {
		next = cursor(&rows[len(rows)-1])
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}
