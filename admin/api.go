package admin

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
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
		{http.MethodGet, p + "/initial-tokens", PermRead, a.handleListInitialTokens},
		{http.MethodPost, p + "/initial-tokens", PermClients, a.handleCreateInitialToken},
		{http.MethodPost, p + "/initial-tokens/:id/revoke", PermClients, a.handleRevokeInitialToken},
		{http.MethodGet, p + "/beneficiaries", PermRead, a.handleSearchBeneficiaries},
		{http.MethodPost, p + "/beneficiaries", PermRegistry, a.handleCreateBeneficiary},
		{http.MethodPost, p + "/beneficiaries/import", PermRegistry, a.handleImport},
		{http.MethodPost, p + "/beneficiaries/changes", PermRegistry, a.handleChanges},
		{http.MethodGet, p + "/registry/imports", PermRead, a.handleImports},
		{http.MethodGet, p + "/beneficiaries/:id", PermRead, a.handleGetBeneficiary},
		{http.MethodPut, p + "/beneficiaries/:id", PermRegistry, a.handleUpdateBeneficiary},
		{http.MethodDelete, p + "/beneficiaries/:id", PermRegistry, a.handleDeleteBeneficiary},
		{http.MethodPost, p + "/beneficiaries/:id/end-sessions", PermRegistry, a.handleEndSessions},
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
	e.NoRoute(NotFound)
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

// NotFound is the admin API's JSON 404. Give it as web.Config.NotFound to
// the API's engine, so paths no route can serve (a NUL in an ID) answer
// JSON too.
func NotFound(c *gin.Context) {
	writeError(c, http.StatusNotFound, CodeNotFound, "There is no such admin API route; see "+APIPrefix+"/openapi.json.")
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
	CodeTooManyDeletes   = "too_many_deletes"
	CodeInvalidChanges   = "invalid_changes"
	CodeAlreadyExists    = "already_exists"
	CodePublicClient     = "public_client"
	// CodeKeyClient: a private_key_jwt client has no secret to rotate.
	CodeKeyClient     = "private_key_jwt_client"
	CodeSectorChange  = "sector_change"
	CodeSameName      = "same_name_on_mobile"
	CodeLastKey       = "last_key"
	CodeKeyRetired    = "key_retired"
	CodeAPIKeyRevoked = "api_key_revoked"
	// CodeInitialTokenRevoked: the initial access token is already revoked.
	CodeInitialTokenRevoked = "initial_token_revoked"
	CodeUnavailable         = "unavailable"
	CodeInternal            = "internal_error"
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
	f := web.FailureOf(err)
	f.Answer(c, a.log(c), err)
	code := CodeInternal
	if f.Outage {
		code = CodeUnavailable
	}
	writeError(c, f.Status, code, f.Message)
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
		writeError(c, http.StatusUnprocessableEntity, CodeInvalidCSV, fmt.Sprintf("The CSV has %d problem(s); nothing was imported.", imp.Count()), details...)
	case errors.Is(err, store.ErrTooManyDeletes):
		writeError(c, http.StatusConflict, CodeTooManyDeletes, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(c, http.StatusNotFound, CodeNotFound, "There is no such "+what+".")
	case errors.Is(err, store.ErrAlreadyExists):
		writeError(c, http.StatusConflict, CodeAlreadyExists, "A "+what+" with this ID already exists.")
	case errors.Is(err, oauth.ErrPublicClient):
		writeError(c, http.StatusConflict, CodePublicClient, "A public client has no secret to rotate.")
	case errors.Is(err, oauth.ErrKeyClient):
		writeError(c, http.StatusConflict, CodeKeyClient, "This client authenticates with private_key_jwt and has no secret to rotate; change its keys instead.")
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

// decodeJSON reads a JSON object body into v, refusing unknown fields,
// duplicate keys and keys in another case than documented (strictKeys).
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
	if err := strictKeys(body, v); err != nil {
		writeError(c, http.StatusBadRequest, CodeInvalidRequest, "The body is not valid: "+err.Error()+".")
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

// Cursors are opaque to clients and tamper-evident: base64url of
// "unix-nanoseconds|id", a dot, and a MAC of it under a key derived from
// the server secret. A forged cursor (one that starts a disclosure listing
// past the newest row and reads everything) is refused; see decodeCursor.
func (s *Service) encodeCursor(at time.Time, id string) string {
	payload := []byte(strconv.FormatInt(at.UnixNano(), 10) + "|" + id)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.cursorMAC(payload))
}

// decodeCursor returns the position in a cursor encodeCursor made; nil and
// true for none, false for anything else.
func (s *Service) decodeCursor(v string) (*store.Cursor, bool) {
	if v == "" {
		return nil, true
	}
	p, m, found := strings.Cut(v, ".")
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if !found || err1 != nil || err2 != nil || !hmac.Equal(mac, s.cursorMAC(payload)) {
		return nil, false
	}
	ns, id, ok := strings.Cut(string(payload), "|")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, false
	}
	return &store.Cursor{At: time.Unix(0, n).UTC(), ID: id}, true
}

func (s *Service) cursorMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write(payload)
	return m.Sum(nil)[:16]
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

func (q *query) cursor(s *Service) *store.Cursor {
	cur, ok := s.decodeCursor(q.c.Query("cursor"))
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
