package kycvsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/locale"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/otp"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// Paths of the three calls, as Co-WIN published them.
const (
	PathGenerateOTP = "/api/v3/vaccination/generateOTP"
	PathConfirmOTP  = "/api/v3/vaccination/confirmOTP"
	PathStatus      = "/api/v3/vaccination/status"
)

// HeaderAPIKey carries the verifying entity's API key.
const HeaderAPIKey = "x-api-key"

// Defaults of Config.
const (
	DefaultTokenTTL       = 15 * time.Minute
	DefaultTransactionTTL = 15 * time.Minute
)

// Config is the API's configuration; cmd/kycvs fills it.
type Config struct {
	// Issuer is kycvs's issuer URL, the iss of tokens and results.
	// Required.
	Issuer string
	// TokenTTL is the life of the bearer token and of a signed result.
	// Default DefaultTokenTTL (Co-WIN's "about 15 minutes").
	TokenTTL time.Duration
	// TransactionTTL is how long a transaction can wait for confirmOTP;
	// the OTP itself expires sooner (consent's OTP TTL). Default
	// DefaultTransactionTTL.
	TransactionTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives the API's events, with the request id; nil means
	// the engine's logger (web.Log).
	Logger *slog.Logger
	// Metrics counts recorded disclosures (channel store.DisclosedByAPI); nil counts
	// nothing.
	Metrics Metrics
}

// Metrics is what the API reports for monitoring (web.Metrics provides
// it): one call per disclosure recorded.
type Metrics interface {
	Disclosed(channel string, status *int)
}

var _ Metrics = (*web.Metrics)(nil)

// OTPs is what the API needs of the shared OTP service (otp.Service, the
// one the browser flow uses too).
type OTPs interface {
	Issue(ctx context.Context, req otp.Request) error
	VerifyDigest(s *otp.State, binding, hexDigest string, now time.Time) error
	// TriesLeft is how many codes may still be tried (otp.Service).
	TriesLeft(tries int) (left int, limited bool)
	// LogTag is what logs say instead of a mobile number.
	LogTag(mobile string) string
}

var _ OTPs = (*otp.Service)(nil)

// Registry is what the API needs of the vaccination registry
// (claims.Registry). Match returns an error wrapping claims.ErrNoMatch when
// nobody matches; Beneficiary one wrapping store.ErrNotFound when the
// record is gone; other errors mean the registry cannot be read.
type Registry interface {
	Match(ctx context.Context, mobileE164, name string) (*store.Beneficiary, error)
	Beneficiary(ctx context.Context, id string) (*store.Beneficiary, error)
}

var _ Registry = (*claims.Registry)(nil)

// Signer signs and checks JWS with kycvs's published keys (oauth.Keys).
type Signer interface {
	SignJWS(alg, typ string, claims map[string]any) (string, error)
	VerifyJWS(token, typ string) ([]byte, error)
}

var _ Signer = (*oauth.Keys)(nil)

// API serves the three calls. It is safe for concurrent use.
type API struct {
	cfg      Config
	st       *store.Store
	keys     *APIKeys
	otps     OTPs
	reg      Registry
	pairwise *claims.Pairwise
	signer   Signer
	// audience is the bearer token's aud: the status endpoint's URL.
	audience string
}

// New returns the API. It returns an error for a missing or malformed
// issuer; the other arguments are required.
func New(cfg Config, st *store.Store, keys *APIKeys, otps OTPs, reg Registry, pw *claims.Pairwise, signer Signer) (*API, error) {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if u, err := url.Parse(cfg.Issuer); err != nil || cfg.Issuer == "" || !u.IsAbs() {
		return nil, fmt.Errorf("kycvsapi: bad issuer %q", cfg.Issuer)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.TransactionTTL <= 0 {
		cfg.TransactionTTL = DefaultTransactionTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &API{
		cfg: cfg, st: st, keys: keys, otps: otps, reg: reg, pairwise: pw, signer: signer,
		audience: cfg.Issuer + PathStatus,
	}, nil
}

// Register mounts the three calls. They carry no CSRF check: they
// authenticate with an API key, a transaction's OTP or a bearer token,
// never a cookie.
func (a *API) Register(r gin.IRouter) {
	r.POST(PathGenerateOTP, a.handleGenerateOTP)
	r.POST(PathConfirmOTP, a.handleConfirmOTP)
	r.GET(PathStatus, a.handleStatus)
}

// TooLarge gives the engine's body limit (web.Config.TooLarge) the API's
// own 413 for its calls, so a client reads the JSON error it reads for
// every other refusal, not an HTML page.
func TooLarge() map[string]gin.HandlerFunc {
	h := func(c *gin.Context) { writeError(c, errTooLarge) }
	return map[string]gin.HandlerFunc{PathGenerateOTP: h, PathConfirmOTP: h, PathStatus: h}
}

var errTooLarge = fail(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "The request body is too large.")

func (a *API) now() time.Time { return a.cfg.Now().UTC() }

// log is the logger for the request c serves. Never give it an OTP, a key,
// a token, a name or a mobile number, not even masked (OTPs.LogTag).
func (a *API) log(c *gin.Context) *slog.Logger {
	if a.cfg.Logger == nil {
		return web.Log(c)
	}
	return a.cfg.Logger.With("request_id", web.RequestID(c))
}

// field is a request field that integrations send as a JSON string, and
// some as a number (a mobile number typed into a numeric field).
type field string

func (f *field) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = field(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = field(n.String())
	return nil
}

func (f field) trimmed() string { return strings.TrimSpace(string(f)) }

// decode reads the JSON object body into v. Unknown fields (Co-WIN clients
// send email_id) are ignored.
func decode(c *gin.Context, v any) *apiError {
	body, err := io.ReadAll(c.Request.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errTooLarge
	}
	if err != nil {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "The request body could not be read.")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, v) != nil {
		return fail(http.StatusBadRequest, CodeInvalidRequest, "The body must be a JSON object with the documented fields, as strings.")
	}
	return nil
}

// authenticate checks the x-api-key header. With required false, a
// missing header is fine (nil key); a present one must be valid.
func (a *API) authenticate(c *gin.Context, required bool) (*store.APIKey, *store.Client, *apiError) {
	presented := strings.TrimSpace(c.GetHeader(HeaderAPIKey))
	if presented == "" {
		if required {
			return nil, nil, fail(http.StatusUnauthorized, CodeAPIKeyRequired, "Send your API key in the x-api-key header.")
		}
		return nil, nil, nil
	}
	key, client, err := a.keys.Authenticate(c.Request.Context(), presented)
	switch {
	case errors.Is(err, ErrInvalidAPIKey):
		return nil, nil, fail(http.StatusUnauthorized, CodeInvalidAPIKey, "The API key is not valid.")
	case err != nil:
		a.log(c).Error("kycvsapi: API key check failed", "err", err)
		return nil, nil, internal(err)
	}
	return key, client, nil
}

// maxLangLen bounds generateOTP's lang: a few language tags.
const maxLangLen = 64

// handleGenerateOTP sends an OTP to the mobile and starts a transaction.
// It answers the same, in content and timing, whether or not the mobile is
// registered: the registry is not read here.
func (a *API) handleGenerateOTP(c *gin.Context) {
	key, client, e := a.authenticate(c, true)
	if e != nil {
		writeError(c, e)
		return
	}
	if len(client.Scopes) > 0 && !client.Scopes.Contains(claims.ScopeVaccinationStatus) {
		writeError(c, fail(http.StatusForbidden, CodeNotAllowed, "This verifying entity is not registered to ask for the vaccination status."))
		return
	}
	mobile, name, lang, e := parseGenerateOTP(c)
	if e != nil {
		writeError(c, e)
		return
	}
	txnID := newUUID()
	now := a.now()
	ctx := c.Request.Context()
	err := a.otps.Issue(ctx, otp.Request{
		Binding:     txnID,
		Mobile:      mobile,
		Name:        name,
		ClientIP:    c.ClientIP(),
		Client:      client.ID,
		Entity:      displayName(client),
		Notice:      otp.NoticeShare,
		Lang:        lang,
		ResendScope: client.ID,
		Save: func(ctx context.Context, s otp.State) error {
			t := &store.APITransaction{
				ID: txnID, ClientID: client.ID, APIKeyID: key.ID, State: store.TxnOTPSent,
				Mobile: mobile, Name: name, CreatedAt: now, ExpiresAt: now.Add(a.cfg.TransactionTTL),
			}
			setTxnOTP(t, s)
			return a.st.CreateAPITransaction(ctx, t)
		},
		Undo: func(ctx context.Context, _ otp.State) {
			if err := a.st.DeleteAPITransaction(ctx, txnID); err != nil {
				a.log(c).Error("kycvsapi: could not remove an unsent transaction", "err", err)
			}
		},
	})
	if e := a.issueFailure(c, client, mobile, err); e != nil {
		writeError(c, e)
		return
	}
	a.log(c).Info("kycvsapi: OTP sent", "client_id", client.ID, "api_key", key.ID, "txn", txnID, "mobile_tag", a.otps.LogTag(mobile))
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"txnId": txnID})
}

// parseGenerateOTP reads generateOTP's body: the mobile in E.164, the
// name as given, and the SMS's language.
func parseGenerateOTP(c *gin.Context) (mobile, name string, lang locale.Lang, e *apiError) {
	var body struct {
		Mobile field `json:"mobile_number"`
		Name   field `json:"full_name"`
		// Lang, optional, is the SMS's language: BCP 47 tags in order
		// of preference, as ui_locales ("hi", "ta hi"); English when
		// absent or when none is supported.
		Lang field `json:"lang"`
	}
	if e := decode(c, &body); e != nil {
		return "", "", "", e
	}
	mobile, err := claims.NormalizeMobile(body.Mobile.trimmed())
	if err != nil {
		return "", "", "", fail(http.StatusBadRequest, CodeInvalidMobileNumber, "mobile_number must be a 10-digit Indian mobile number, or + and the country code.")
	}
	name = body.Name.trimmed()
	if !otp.ValidName(name) {
		return "", "", "", fail(http.StatusBadRequest, CodeInvalidFullName, "full_name must be the person's name as registered, 1 to 100 characters.")
	}

	lang = locale.English
	if raw := body.Lang.trimmed(); raw != "" {
		if len(raw) > maxLangLen {
			return "", "", "", fail(http.StatusBadRequest, CodeInvalidLang, "lang must be a BCP 47 language tag such as \"hi\", or a few separated by spaces, at most 64 characters.")
		}
		lang, _ = locale.MatchUILocales(raw)
	}
	return mobile, name, lang, nil
}

// issueFailure is generateOTP's answer when the OTP could not be issued
// (a send limit, an SMS not sent, a store failure), logged; nil when err
// is nil.
func (a *API) issueFailure(c *gin.Context, client *store.Client, mobile string, err error) *apiError {
	var limited *otp.LimitError
	var unsent *otp.SendError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &limited):
		a.log(c).Warn("kycvsapi: OTP send limit reached", "client_id", client.ID, "mobile_tag", a.otps.LogTag(mobile), "limit", limited.Limit)
		return limitError(limited)
	case errors.As(err, &unsent):
		a.log(c).Error("kycvsapi: SMS not sent", "client_id", client.ID, "mobile_tag", a.otps.LogTag(mobile), "err", unsent.Err)
		e := fail(http.StatusServiceUnavailable, CodeSMSNotSent, "The SMS could not be sent. Try again in a minute.")
		if errors.Is(unsent.Err, otp.ErrSenderBusy) {
			e = fail(http.StatusServiceUnavailable, CodeSMSNotSent, "The SMS service is busy. Try again in a few seconds.")
			e.retryAfter = otp.SenderBusyRetry * time.Second
		}
		return e
	default:
		a.log(c).Error("kycvsapi: OTP not issued", "client_id", client.ID, "err", err)
		return internal(err)
	}
}

func limitError(l *otp.LimitError) *apiError {
	var e *apiError
	switch l.Limit {
	case otp.LimitIP:
		e = fail(http.StatusTooManyRequests, CodeTooManyRequests, "Too many OTP requests from your network. Try again later.")
	case otp.LimitResend:
		e = fail(http.StatusTooManyRequests, CodeResendTooSoon, "An OTP was sent to this mobile number a moment ago. Wait before asking for another.")
	case otp.LimitClient:
		e = fail(http.StatusTooManyRequests, CodeTooManyRequests, "Too many OTP requests from this entity. Try again later.")
	default:
		e = fail(http.StatusTooManyRequests, CodeOTPLimitReached, "Too many OTPs were sent to this mobile number today. Try again later.")
	}
	e.retryAfter = l.RetryAfter
	return e
}

// Outcomes of confirmOTP's step on the locked transaction.
var (
	errTxnGone  = errors.New("kycvsapi: transaction not usable")
	errNoRecord = errors.New("kycvsapi: no record")
)

// registryError: the registry could not be read (not "no match").
type registryError struct{ err error }

func (e *registryError) Error() string { return "kycvsapi: registry: " + e.err.Error() }
func (e *registryError) Unwrap() error { return e.err }

// handleConfirmOTP checks the OTP's SHA-256 for a transaction. Right, and
// the registry has the person under that mobile and name: the
// transaction is verified and the answer is the bearer token. Wrong: the
// try is counted. A present x-api-key must be valid and the transaction's
// entity's (Co-WIN clients send it on every call; it is optional here
// because the txnId and the OTP already prove the caller).
func (a *API) handleConfirmOTP(c *gin.Context) {
	digest, txnID, e := parseConfirmOTP(c)
	if e != nil {
		writeError(c, e)
		return
	}
	client, sector, e := a.confirmableTxn(c, txnID)
	if e != nil {
		writeError(c, e)
		return
	}
	t, token, err := a.confirmTxn(c.Request.Context(), txnID, digest, sector)
	a.answerConfirm(c, client, t, token, err)
}

// parseConfirmOTP reads confirmOTP's body: the OTP's hex SHA-256 and the
// transaction's ID.
func parseConfirmOTP(c *gin.Context) (digest, txnID string, e *apiError) {
	var body struct {
		OTP   field `json:"otp"`
		TxnID field `json:"txnId"`
	}
	if e := decode(c, &body); e != nil {
		return "", "", e
	}
	digest, txnID = body.OTP.trimmed(), body.TxnID.trimmed()
	switch {
	case digest == "":
		return "", "", fail(http.StatusBadRequest, CodeOTPRequired, "otp is required: the hex SHA-256 of the 6-digit OTP.")
	case !otp.IsDigest(digest):
		return "", "", fail(http.StatusBadRequest, CodeInvalidOTPFormat, "otp must be the hex SHA-256 of the 6-digit OTP (64 hex digits).")
	case !isUUID(txnID):
		return "", "", fail(http.StatusBadRequest, CodeInvalidTxnID, "txnId must be the txnId generateOTP returned.")
	}
	return digest, txnID, nil
}

// invalidTxn is the answer for a transaction that is unknown, another
// entity's, expired or used: one answer for all.
func invalidTxn() *apiError {
	return fail(http.StatusUnauthorized, CodeInvalidTransaction, "This transaction is unknown, expired or already used. Start again with generateOTP.")
}

// confirmableTxn returns the entity of the transaction txnID and its
// pairwise sector when the caller may confirm the transaction: a present
// API key must be the transaction's entity's, which must still be enabled.
func (a *API) confirmableTxn(c *gin.Context, txnID string) (*store.Client, string, *apiError) {
	caller, _, e := a.authenticate(c, false)
	if e != nil {
		return nil, "", e
	}
	ctx := c.Request.Context()
	t, err := a.st.GetAPITransaction(ctx, txnID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", invalidTxn()
	case err != nil:
		return nil, "", internal(err)
	case caller != nil && caller.ClientID != t.ClientID:
		// Another entity's transaction: said as if unknown.
		return nil, "", invalidTxn()
	}
	client, e := a.entity(ctx, t)
	if e != nil {
		return nil, "", e
	}
	sector, err := claims.Sector(client)
	if err != nil {
		a.log(c).Error("kycvsapi: no pairwise sector for client", "client_id", client.ID, "err", err)
		return nil, "", internal(err)
	}
	return client, sector, nil
}

// confirmTxn checks the OTP's digest on the locked transaction and, when
// it is right, matches the registry and signs the token, in one
// transaction. It returns the transaction as written (nil when nothing
// was), the token, and the outcome: errTxnGone, an otp error (a wrong try
// is counted, too many kill the transaction), errNoRecord, a
// *registryError (rolled back: the OTP stays usable) or a store error.
func (a *API) confirmTxn(ctx context.Context, txnID, digest, sector string) (*store.APITransaction, string, error) {
	now := a.now()
	var token string
	var t *store.APITransaction
	err := a.st.InTx(ctx, func(ctx context.Context) error {
		var err error
		t, err = a.st.UpdateAPITransaction(ctx, txnID, func(r *store.APITransaction) error {
			if r.State != store.TxnOTPSent || !now.Before(r.ExpiresAt) {
				return errTxnGone
			}
			s := txnOTP(r)
			err := a.otps.VerifyDigest(&s, r.ID, digest, now)
			switch {
			case errors.Is(err, otp.ErrExpired):
				return err
			case errors.Is(err, otp.ErrTooManyTries):
				setTxnOTP(r, s)
				r.State = store.TxnDead
				r.Mobile, r.Name = "", ""
				return &store.KeepChanges{Err: err}
			case err != nil:
				setTxnOTP(r, s)
				return &store.KeepChanges{Err: err}
			}
			// The OTP is right: only now is the registry read.
			b, err := a.reg.Match(ctx, r.Mobile, r.Name)
			switch {
			case errors.Is(err, claims.ErrNoMatch):
				setTxnOTP(r, s)
				r.State = store.TxnNoRecord
				r.Mobile, r.Name = "", ""
				return &store.KeepChanges{Err: errNoRecord}
			case err != nil:
				return &registryError{err} // roll back: the OTP stays usable
			}
			setTxnOTP(r, s)
			verified := now
			r.State = store.TxnVerified
			r.BeneficiaryID = b.ID
			r.VerifiedAt = &verified
			r.ExpiresAt = now.Add(a.cfg.TokenTTL)
			r.Mobile, r.Name = "", ""
			token, err = a.signToken(r, a.pairwise.Subject(sector, b.ID), now)
			return err
		})
		return err // a *store.KeepChanges commits the counted try
	})
	return t, token, err
}

// answerConfirm writes confirmOTP's answer for confirmTxn's outcome.
func (a *API) answerConfirm(c *gin.Context, client *store.Client, t *store.APITransaction, token string, err error) {
	var regErr *registryError
	switch {
	case err == nil:
		a.log(c).Info("kycvsapi: OTP confirmed", "client_id", t.ClientID, "txn", t.ID)
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"token": token})
	case errors.Is(err, errTxnGone), errors.Is(err, store.ErrNotFound):
		writeError(c, invalidTxn())
	case errors.Is(err, otp.ErrExpired):
		writeError(c, fail(http.StatusUnauthorized, CodeOTPExpired, "The OTP has expired. Start again with generateOTP."))
	case errors.Is(err, otp.ErrWrong):
		a.log(c).Info("kycvsapi: wrong OTP", "client_id", t.ClientID, "txn", t.ID, "tries", t.OTPTries)
		writeError(c, fail(http.StatusUnauthorized, CodeWrongOTP, a.wrongOTPMessage(t.OTPTries)))
	case errors.Is(err, otp.ErrTooManyTries):
		a.log(c).Warn("kycvsapi: too many wrong OTPs, transaction dead", "client_id", t.ClientID, "txn", t.ID)
		writeError(c, fail(http.StatusUnauthorized, CodeOTPTriesExceeded, "Too many wrong OTPs. Start again with generateOTP."))
	case errors.Is(err, errNoRecord):
		a.log(c).Info("kycvsapi: no registry match", "client_id", t.ClientID, "txn", t.ID)
		writeError(c, noRecord())
	case errors.As(err, &regErr):
		a.log(c).Error("kycvsapi: registry unreadable", "client_id", client.ID, "err", regErr.err)
		writeError(c, internal(regErr.err))
	default:
		a.log(c).Error("kycvsapi: confirmOTP failed", "client_id", client.ID, "err", err)
		writeError(c, internal(err))
	}
}

func noRecord() *apiError {
	return fail(http.StatusNotFound, CodeNoRecord, "No vaccination record matches this mobile number and name.")
}

// wrongOTPMessage is the WRONG_OTP error's message, part of the API's
// contract (docs/kycvs-api.md): English, whatever the person's language.
// The count is the OTP policy's, as on every other channel.
func (a *API) wrongOTPMessage(tries int) string {
	left, limited := a.otps.TriesLeft(tries)
	if !limited {
		return "The OTP is not right."
	}
	if left == 1 {
		return "The OTP is not right. 1 try left."
	}
	return fmt.Sprintf("The OTP is not right. %d tries left.", left)
}

// entity returns the client of a transaction while the transaction may
// still be used: the client exists and is enabled, the API key that
// started the transaction is not revoked.
func (a *API) entity(ctx context.Context, t *store.APITransaction) (*store.Client, *apiError) {
	gone := fail(http.StatusUnauthorized, CodeInvalidAPIKey, "The API key that started this transaction is no longer valid.")
	key, err := a.st.GetAPIKey(ctx, t.APIKeyID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, gone
	case err != nil:
		return nil, internal(err)
	case key.RevokedAt != nil || key.ClientID != t.ClientID:
		return nil, gone
	}
	client, err := a.st.GetClient(ctx, t.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, gone
	case err != nil:
		return nil, internal(err)
	case client.Disabled:
		return nil, gone
	}
	return client, nil
}

// handleStatus answers the status of the one person a bearer token was
// issued for, to the entity it was issued to, read afresh from the
// registry, with a signed result. Every answer is recorded as a disclosure
// first.
func (a *API) handleStatus(c *gin.Context) {
	raw, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		writeError(c, fail(http.StatusUnauthorized, CodeTokenRequired, "Send the token from confirmOTP in the Authorization header, after the word Bearer."))
		return
	}
	now := a.now()
	tc, t, client, e := a.tokenTxn(c, raw, now)
	if e != nil {
		writeError(c, e)
		return
	}
	a.discloseStatus(c, client, t, tc, now)
}

// tokenTxn checks the bearer token raw at now and returns its claims, its
// verified transaction and the transaction's entity, or the error to
// answer: one answer (INVALID_TOKEN) for a token that is bad, expired, of
// a transaction not verified or not the caller's, of an entity disabled
// meanwhile, or not for the transaction's person; a present API key that
// is not valid gets its own answer.
func (a *API) tokenTxn(c *gin.Context, raw string, now time.Time) (*tokenClaims, *store.APITransaction, *store.Client, *apiError) {
	ctx := c.Request.Context()
	invalid := fail(http.StatusUnauthorized, CodeInvalidToken, "The token is not valid or has expired. Start again with generateOTP.")
	tc, err := a.verifyToken(raw, now)
	if err != nil {
		return nil, nil, nil, invalid
	}
	t, err := a.st.GetAPITransaction(ctx, tc.Txn)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, nil, invalid
	case err != nil:
		return nil, nil, nil, internal(err)
	case t.State != store.TxnVerified || !now.Before(t.ExpiresAt) || t.ClientID != tc.ClientID:
		return nil, nil, nil, invalid
	}
	client, e := a.entity(ctx, t)
	switch {
	case e != nil && e.status >= http.StatusInternalServerError:
		return nil, nil, nil, e
	case e != nil:
		return nil, nil, nil, invalid
	}
	sector, err := claims.Sector(client)
	if err != nil {
		return nil, nil, nil, internal(err)
	}
	// Bound to the one person: the token's subject is the transaction's.
	if a.pairwise.Subject(sector, t.BeneficiaryID) != tc.Subject {
		return nil, nil, nil, invalid
	}
	caller, _, e := a.authenticate(c, false)
	if e != nil {
		return nil, nil, nil, e
	}
	if caller != nil && caller.ClientID != t.ClientID {
		return nil, nil, nil, invalid
	}
	return tc, t, client, nil
}

// discloseStatus reads the person's status afresh, signs it and records
// the disclosure before answering; nothing is disclosed that is not
// recorded.
func (a *API) discloseStatus(c *gin.Context, client *store.Client, t *store.APITransaction, tc *tokenClaims, now time.Time) {
	ctx := c.Request.Context()
	b, err := a.reg.Beneficiary(ctx, t.BeneficiaryID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(c, noRecord())
		return
	case err != nil:
		a.log(c).Error("kycvsapi: registry unreadable", "client_id", client.ID, "err", err)
		writeError(c, internal(err))
		return
	}
	status := claims.StatusFromDoses(b.Doses)
	result, err := a.signResult(client, tc.Subject, t.ID, status, now)
	if err != nil {
		a.log(c).Error("kycvsapi: result not signed", "err", err)
		writeError(c, internal(err))
		return
	}
	value := int(status)
	if err := a.st.CreateDisclosure(ctx, &store.Disclosure{
		ID: randomID(), ClientID: client.ID, BeneficiaryID: b.ID, Subject: tc.Subject,
		Claims: store.StringList{claims.ClaimVaccinationStatus}, VaccinationStatus: &value,
		Channel: store.DisclosedByAPI, RequestID: t.ID, CreatedAt: now,
	}); err != nil {
		// Nothing is disclosed that is not recorded.
		a.log(c).Error("kycvsapi: disclosure not recorded", "err", err)
		writeError(c, internal(err))
		return
	}
	if a.cfg.Metrics != nil {
		a.cfg.Metrics.Disclosed(string(store.DisclosedByAPI), &value)
	}
	a.log(c).Info("kycvsapi: status disclosed", "client_id", client.ID, "txn", t.ID)
	c.Header("Cache-Control", "no-store")
	if wantsJWT(c.GetHeader("Accept")) {
		c.Data(http.StatusOK, "application/jwt", []byte(result))
		return
	}
	c.JSON(http.StatusOK, gin.H{
		claims.ClaimVaccinationStatus: value,
		"txnId":                       t.ID,
		"signed_result":               result,
	})
}

// bearer reads an RFC 6750 Authorization header; the scheme is
// case-insensitive.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// wantsJWT reports whether an Accept header asks for application/jwt.
func wantsJWT(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/jwt" {
			return true
		}
	}
	return false
}

// txnOTP is the code state a transaction holds.
func txnOTP(t *store.APITransaction) otp.State {
	return otp.State{Hash: t.OTPHash, SentAt: t.OTPSentAt, ExpiresAt: t.OTPExpiresAt, Tries: t.OTPTries}
}

// setTxnOTP writes a code state into a transaction.
func setTxnOTP(t *store.APITransaction, s otp.State) {
	t.OTPHash, t.OTPSentAt, t.OTPExpiresAt, t.OTPTries = s.Hash, s.SentAt, s.ExpiresAt, s.Tries
}

func displayName(c *store.Client) string {
	if c.Name == "" {
		return c.ID
	}
	return c.Name
}

// newUUID returns a random (version 4) UUID, the txnId: 122 random bits,
// so a txnId cannot be guessed.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// isUUID checks the textual form of a UUID (any version, lower-case hex as
// newUUID writes it, upper-case accepted and then simply not found).
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
