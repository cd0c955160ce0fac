package registration

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// MaxBodyBytes bounds a registration or replacement body: the metadata of
// a client with a few keys in its jwks is a few kilobytes.
const MaxBodyBytes = 32 << 10

// DefaultIPLimit is how many requests to the registration endpoints one
// client IP may make in an hour: registering is rare, and a registration
// writes a client.
const DefaultIPLimit = 30

// ipLimitWindow is the window of Config.IPLimit.
const ipLimitWindow = time.Hour

// keyIP prefixes the per-IP counter in the store's limit events.
const keyIP = "registration-ip:"

// Config is the registration endpoints' configuration.
type Config struct {
	// Issuer is the exact issuer URL; configuration endpoint URLs start
	// with it.
	Issuer string
	// IPLimit caps requests per client IP in an hour; 0 turns it off.
	IPLimit int
	Now     func() time.Time
	Logger  *slog.Logger
}

// Endpoint serves the registration and client configuration endpoints.
// It is safe for concurrent use.
type Endpoint struct {
	cfg Config
	svc *admin.Service
}

// New returns the endpoints over svc, which registers, audits and checks
// the tokens.
func New(cfg Config, svc *admin.Service) *Endpoint {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	return &Endpoint{cfg: cfg, svc: svc}
}

// Register mounts the endpoints. They take bearer tokens, not cookies, so
// they carry no CSRF check (as the other protocol endpoints).
func (e *Endpoint) Register(r gin.IRouter) {
	r.POST(oauth.PathRegister, e.limit, e.handleRegister)
	r.GET(oauth.PathRegister+"/:client_id", e.limit, e.handleRead)
	r.PUT(oauth.PathRegister+"/:client_id", e.limit, e.handleReplace)
	r.DELETE(oauth.PathRegister+"/:client_id", e.limit, e.handleDelete)
}

// ClientURI is the client configuration endpoint of a client (RFC 7592 1).
func (e *Endpoint) ClientURI(clientID string) string {
	return e.cfg.Issuer + oauth.PathRegister + "/" + clientID
}

func (e *Endpoint) log(c *gin.Context) *slog.Logger {
	if e.cfg.Logger == nil {
		return web.Log(c)
	}
	return e.cfg.Logger.With("request_id", web.RequestID(c))
}

// limit counts the request against its client IP's hourly limit, in the
// database so every server process shares it.
func (e *Endpoint) limit(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	if e.cfg.IPLimit <= 0 {
		return
	}
	now := e.cfg.Now()
	err := e.svc.Store().RecordOTPSend(c.Request.Context(), now, store.Limit{Key: keyIP + c.ClientIP(), Max: e.cfg.IPLimit, Since: now.Add(-ipLimitWindow)})
	var le *store.LimitError
	switch {
	case errors.As(err, &le):
		wait := max(int(le.RetryAt.Sub(now).Round(time.Second)/time.Second), 1)
		c.Header("Retry-After", strconv.Itoa(wait))
		e.log(c).Info("registration: per-IP limit reached", "ip", c.ClientIP())
		writeError(c, http.StatusTooManyRequests, "too_many_requests", "Too many registration requests from this address; try again later.")
	case err != nil:
		e.fail(c, err)
	}
}

// writeError sends an error response (RFC 7591 3.2.2, RFC 6750 3 for
// token errors) and ends the request.
func writeError(c *gin.Context, status int, code, description string) {
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": description})
}

// fail answers the errors every handler shares.
func (e *Endpoint) fail(c *gin.Context, err error) {
	var ve *oauth.ValidationError
	switch {
	case errors.Is(err, admin.ErrInvalidInitialToken):
		writeError(c, http.StatusUnauthorized, "invalid_token", "The initial access token is not valid: it may be wrong, expired, used up or revoked. Ask the operator for a new one.")
	case errors.Is(err, admin.ErrInvalidRegistrationToken):
		writeError(c, http.StatusUnauthorized, "invalid_token", "The registration access token is not valid for this client.")
	case errors.As(err, &ve):
		code := "invalid_client_metadata"
		if ve.BadRedirectURI {
			code = "invalid_redirect_uri"
		}
		writeError(c, http.StatusBadRequest, code, strings.Join(ve.Problems, "; "))
	case errors.Is(err, admin.ErrSecretMismatch):
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", "client_secret: not the client's secret; a client cannot choose its secret.")
	case errors.Is(err, store.ErrConflict):
		// The sector identifier or redirect URIs changed while the
		// document was fetched (oauth.Clients.Update).
		writeError(c, http.StatusConflict, "invalid_client_metadata", "The registration changed meanwhile; read it and try again.")
	case errors.Is(err, admin.ErrSectorChange):
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", "The change would move the client to another pairwise sector, which changes every person's sub; ask the operator.")
	default:
		f := web.FailureOf(err)
		f.Answer(c, e.log(c), err)
		code := "server_error"
		if f.Outage {
			code = "temporarily_unavailable"
		}
		writeError(c, f.Status, code, f.Message)
	}
}

// bearer returns the request's bearer token (RFC 6750 2.1), or "".
func bearer(c *gin.Context) string {
	scheme, token, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func (e *Endpoint) from(c *gin.Context) admin.Registrant {
	return admin.Registrant{IP: c.ClientIP(), RequestID: web.RequestID(c)}
}

// readMetadata decodes a JSON object of client metadata. Members of the
// wrong type, a body that is not one JSON object or not JSON at all are
// invalid_client_metadata; unknown members are ignored (RFC 7591 2).
func readMetadata(c *gin.Context) (*Metadata, bool) {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", "The body must be client metadata as JSON (Content-Type: application/json).")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(c, http.StatusRequestEntityTooLarge, "invalid_client_metadata", "The metadata is larger than 32 KiB.")
		return nil, false
	case err != nil:
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", "The body could not be read.")
		return nil, false
	}
	var m Metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil || dec.More() || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		msg := "The body must be one JSON object of client metadata."
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			msg = te.Field + ": must be a JSON " + jsonKind(te.Type.Kind().String())
		}
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", msg)
		return nil, false
	}
	return &m, true
}

// jsonKind names a Go kind as JSON does.
func jsonKind(k string) string {
	switch k {
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	}
	return k
}

// spec turns metadata into a spec, answering its own problems.
func spec(c *gin.Context, m *Metadata) (oauth.ClientSpec, bool) {
	s, problems := m.Spec()
	if problems != nil {
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", strings.Join(problems, "; "))
		return s, false
	}
	return s, true
}

// handleRegister is the client registration endpoint (RFC 7591 3.1): the
// initial access token is checked before the metadata is read.
func (e *Endpoint) handleRegister(c *gin.Context) {
	token := bearer(c)
	if err := e.svc.CheckInitialToken(c.Request.Context(), token); err != nil {
		e.fail(c, err)
		return
	}
	m, ok := readMetadata(c)
	if !ok {
		return
	}
	s, ok := spec(c, m)
	if !ok {
		return
	}
	cl, secret, regToken, err := e.svc.RegisterClient(c.Request.Context(), token, e.from(c), s)
	if err != nil {
		e.fail(c, err)
		return
	}
	e.log(c).Info("registration: client registered", "client_id", cl.ID, "initial_token_id", cl.RegisteredWith)
	c.JSON(http.StatusCreated, information(cl, secret, regToken, e.ClientURI(cl.ID)))
}

// handleRead is the client read request (RFC 7592 2.1). The answer carries
// a new registration access token (RFC 7592 3); the one presented is
// replaced.
func (e *Endpoint) handleRead(c *gin.Context) {
	cl, regToken, err := e.svc.ReadRegisteredClient(c.Request.Context(), c.Param("client_id"), bearer(c), e.from(c))
	if err != nil {
		e.fail(c, err)
		return
	}
	e.log(c).Info("registration: client read, registration access token replaced", "client_id", cl.ID)
	c.JSON(http.StatusOK, information(cl, "", regToken, e.ClientURI(cl.ID)))
}

// handleReplace is the client update request (RFC 7592 2.2): the body
// replaces every metadata value, omitted ones included, and the answer
// carries a new registration access token (RFC 7592 3).
func (e *Endpoint) handleReplace(c *gin.Context) {
	id, token := c.Param("client_id"), bearer(c)
	if _, err := e.svc.RegisteredClient(c.Request.Context(), id, token); err != nil {
		e.fail(c, err)
		return
	}
	m, ok := readMetadata(c)
	if !ok {
		return
	}
	if m.ClientID != id {
		writeError(c, http.StatusBadRequest, "invalid_client_metadata", "client_id: must be sent and name the client being updated")
		return
	}
	s, ok := spec(c, m)
	if !ok {
		return
	}
	cl, secret, regToken, err := e.svc.UpdateRegisteredClient(c.Request.Context(), id, token, e.from(c), s, m.ClientSecret)
	if err != nil {
		e.fail(c, err)
		return
	}
	e.log(c).Info("registration: client updated, registration access token replaced", "client_id", id)
	c.JSON(http.StatusOK, information(cl, secret, regToken, e.ClientURI(cl.ID)))
}

// handleDelete is the client delete request (RFC 7592 2.3): the client and
// its tokens go at once.
func (e *Endpoint) handleDelete(c *gin.Context) {
	id := c.Param("client_id")
	if err := e.svc.DeleteRegisteredClient(c.Request.Context(), id, bearer(c), e.from(c)); err != nil {
		e.fail(c, err)
		return
	}
	e.log(c).Info("registration: client deleted", "client_id", id)
	c.Status(http.StatusNoContent)
}
