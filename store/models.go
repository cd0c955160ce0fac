package store

import (
	"database/sql/driver"
	"encoding/json"
	"time"
)

// StringList is a list of strings kept as a JSON array in a text column, the
// same on every dialect.
type StringList []string

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	return string(b), err
}

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error { return scanJSON(src, (*[]string)(l)) }

// Contains reports whether s is in the list.
func (l StringList) Contains(s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// Grants maps a client ID to the scopes a person granted it in a session.
type Grants map[string]StringList

// Value implements driver.Valuer.
func (g Grants) Value() (driver.Value, error) {
	if g == nil {
		return "{}", nil
	}
	b, err := json.Marshal(map[string]StringList(g))
	return string(b), err
}

// Scan implements sql.Scanner.
func (g *Grants) Scan(src any) error { return scanJSON(src, (*map[string]StringList)(g)) }

// Client is a verifying entity registered as an OAuth2 client.
type Client struct {
	ID   string `gorm:"primaryKey"`
	Name string
	// SecretHash is the keyed SHA-256 of the client secret; empty for
	// public clients. The secret itself is never stored.
	SecretHash   []byte
	RedirectURIs StringList `gorm:"column:redirect_uris"`
	// PostLogoutRedirectURIs are where sign-out may return the person
	// (RP-Initiated Logout 1.0), registered apart from RedirectURIs.
	PostLogoutRedirectURIs    StringList `gorm:"column:post_logout_redirect_uris"`
	Scopes                    StringList
	Public                    bool
	TokenEndpointAuthMethod   string
	IDTokenSignedResponseAlg  string `gorm:"column:id_token_signed_response_alg"`
	UserinfoSignedResponseAlg string
	SectorIdentifier          string
	LogoURI                   string `gorm:"column:logo_uri"`
	// Contacts are e-mail addresses of people responsible for the client
	// (OIDC Registration 2), for admins; never shown to people signing in.
	Contacts StringList
	// RotatedSecrets are the hashes of secrets replaced by a rotation that
	// still authenticate the client until their expiry (the grace period).
	RotatedSecrets RotatedSecrets
	// RequirePushedAuthorizationRequests refuses authorization requests
	// that were not pushed first (RFC 9126 6).
	RequirePushedAuthorizationRequests bool `gorm:"column:require_pushed_authorization_requests"`
	// JWKS is the client's public key set as JSON, for private_key_jwt
	// (RFC 7523); empty when the client registered JWKSURI or no keys.
	JWKS string `gorm:"column:jwks"`
	// JWKSURI is where the client publishes its public key set (https).
	JWKSURI string `gorm:"column:jwks_uri"`
	// TokenEndpointAuthSigningAlg pins the algorithm of the client's
	// assertions; empty accepts any supported one.
	TokenEndpointAuthSigningAlg string
	// DPoPBoundAccessTokens refuses token requests without a DPoP proof
	// (RFC 9449 5.2).
	DPoPBoundAccessTokens bool `gorm:"column:dpop_bound_access_tokens"`
	// Profile names the rules the client is held to: "" or "fapi2".
	Profile string
	// BackchannelLogoutURI receives the client's logout tokens
	// (Back-Channel Logout 1.0 2.2); "" for none.
	BackchannelLogoutURI string `gorm:"column:backchannel_logout_uri"`
	// BackchannelLogoutSessionRequired: the client needs sid in logout
	// tokens and ID tokens; kycvs always sends it.
	BackchannelLogoutSessionRequired bool
	// RegistrationTokenHash is the keyed SHA-256 of the registration
	// access token with which a self-registered client reads, updates and
	// deletes its own registration (RFC 7592); nil for a client an admin
	// made. The token itself is never stored.
	RegistrationTokenHash []byte
	// RegisteredWith is the ID of the initial access token the client
	// registered itself with (RFC 7591); "" for a client an admin made.
	RegisteredWith string
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// RotatedSecret is the keyed hash of a replaced client secret and the end
// of its grace period.
type RotatedSecret struct {
	Hash      []byte    `json:"hash"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RotatedSecrets is a list of RotatedSecret kept as a JSON array in a text
// column.
type RotatedSecrets []RotatedSecret

// Value implements driver.Valuer. Times are written in UTC, microseconds,
// as every other stored instant (see times.go).
func (r RotatedSecrets) Value() (driver.Value, error) {
	out := make([]RotatedSecret, len(r))
	for i, s := range r {
		out[i] = RotatedSecret{Hash: s.Hash, ExpiresAt: storedTime(s.ExpiresAt)}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// Scan implements sql.Scanner.
func (r *RotatedSecrets) Scan(src any) error { return scanJSON(src, (*[]RotatedSecret)(r)) }

// Valid returns the hashes whose grace period has not ended at now.
func (r RotatedSecrets) Valid(now time.Time) [][]byte {
	var out [][]byte
	for _, s := range r {
		if now.Before(s.ExpiresAt) {
			out = append(out, s.Hash)
		}
	}
	return out
}

// SigningKey is a private key for ID tokens and signed userinfo, encrypted
// at rest with the server secret (AES-256-GCM). Publishing and signing are
// separate (see oauth.Keys for the policy):
//
//   - published in the JWKS from CreatedAt until PublishUntil, or while not
//     retired when PublishUntil is nil;
//   - signing from ActivatesAt (nil: from CreatedAt) until RetiredAt.
type SigningKey struct {
	KID          string `gorm:"primaryKey;column:kid"`
	Alg          string
	Ciphertext   []byte
	CreatedAt    time.Time
	ActivatesAt  *time.Time
	RetiredAt    *time.Time
	PublishUntil *time.Time
}

// Beneficiary is one person in the vaccination registry.
type Beneficiary struct {
	ID string `gorm:"primaryKey"`
	// Mobile is in E.164 form, e.g. +919876543210. Up to six people share one.
	Mobile string
	Name   string
	// NameKey is Name normalised for matching (see claims.NameKey).
	NameKey     string
	YearOfBirth int
	Doses       []Dose `gorm:"foreignKey:BeneficiaryID"`
	// ContentHash is ContentHash(b) as last written; a re-import compares
	// it to tell unchanged beneficiaries from changed ones.
	ContentHash []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Dose is one vaccination of a beneficiary.
type Dose struct {
	ID            int64 `gorm:"primaryKey;autoIncrement"`
	BeneficiaryID string
	Vaccine       string
	DoseNumber    int
	TotalDoses    int
	// DoseDate is a calendar date, YYYY-MM-DD.
	DoseDate string
}

// Login request states, a one-way state machine:
//
//	pending --(OTP sent)--> otp_sent --(OTP ok)--> verified --(name matches)--> approved --(code issued)--> used
//	   |                      |  \--(3 wrong tries)--> dead        |
//	   |                      |                                  \--(name corrected, still no match: stays verified)
//	   \----------------------+-------------+--(person cancels / no record)--> denied --(error sent)--> used
//	pending --(signed-in person clicks Share)--> approved
//
// A request past ExpiresAt is treated as dead whatever its state.
//
// Every transition goes through Store.UpdateLoginRequest, which reads and
// writes the row in one transaction, or Store.UpdateLoginRequestFrom,
// whose write holds only if nobody wrote since its read, so two requests
// racing on one challenge cannot both advance it.
const (
	LoginPending  LoginState = "pending"
	LoginOTPSent  LoginState = "otp_sent"
	LoginVerified LoginState = "verified"
	LoginApproved LoginState = "approved"
	LoginDenied   LoginState = "denied"
	LoginDead     LoginState = "dead"
	LoginUsed     LoginState = "used"
)

// LoginState is where a LoginRequest stands (see the states above).
type LoginState string

// Reasons of a denied LoginRequest.
const (
	// DenyCancelled: the person chose not to share.
	DenyCancelled = "cancelled"
	// DenyNoRecord: the person has no record in the registry.
	DenyNoRecord = "no_record"
	// DenyExpired: the sign-in expired, then the person went back to the
	// relying party.
	DenyExpired = "expired"
	// DenyLocked: too many wrong codes stopped the sign-in, then the
	// person went back to the relying party.
	DenyLocked = "locked"
)

// LoginRequest is the stored half of an authorization request while the
// person signs in and consents. oauth creates it; consent drives it to
// approved or denied; oauth marks it used when it answers the client.
type LoginRequest struct {
	ID       string `gorm:"primaryKey"`
	ClientID string
	// ClientName is the client's display name when the request was made
	// (its ID when it has none), shown on the sign-in pages; "" on rows
	// from before migration 00017.
	ClientName string
	// Form holds the validated authorization request's parameters,
	// URL-encoded; oauth replays them to finish.
	Form string
	// Scopes are the scopes the client asked for and is allowed.
	Scopes StringList
	// Claims are the claim names the person will disclose if approved:
	// Plan's ID token and userinfo names together, what the pages show.
	Claims StringList
	// Plan is where each claim goes, fixed when oauth made the request;
	// the resume releases exactly it. nil on rows from before migration
	// 00018.
	Plan  *DisclosurePlan `gorm:"column:disclosure_plan"`
	State LoginState
	// LoginHint pre-fills the mobile field.
	LoginHint string
	// ForceLogin asks for a new OTP even when a session exists.
	ForceLogin bool
	// Mobile and Name are what the person typed. While pending they are
	// kept as typed, even when refused, to fill the form in again after
	// its redirect; from otp_sent on, Mobile is the E.164 number the code
	// went to.
	Mobile    string
	Name      string
	OTPHash   []byte `gorm:"column:otp_hash"`
	OTPSentAt *time.Time
	// OTPExpiresAt ends the OTP's validity (3 minutes by default).
	OTPExpiresAt  *time.Time
	OTPTries      int `gorm:"column:otp_tries"`
	OTPSends      int `gorm:"column:otp_sends"`
	BeneficiaryID string
	SessionID     string
	// DenyReason says why a request was denied: DenyCancelled,
	// DenyNoRecord, DenyExpired or DenyLocked.
	DenyReason string
	AuthTime   *time.Time
	// LimitedUntil is when the OTP send limit that last refused a code
	// for this request ends; nil when none did (migration 00019).
	LimitedUntil *time.Time
	CreatedAt    time.Time
	ExpiresAt    time.Time
	// Version counts the row's writes (migration 00022): every write sets
	// it one higher, and UpdateLoginRequestFrom writes only while it is
	// still what the caller read.
	Version int64
}

// DisclosurePlan is what an approved login request releases: the claim
// names the ID token carries and those userinfo answers with. It is kept
// as a JSON object in a text column.
type DisclosurePlan struct {
	IDToken  StringList `json:"id_token"`
	Userinfo StringList `json:"userinfo"`
}

// Value implements driver.Valuer; a nil plan is NULL.
func (p *DisclosurePlan) Value() (driver.Value, error) {
	if p == nil {
		return nil, nil
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// Scan implements sql.Scanner.
func (p *DisclosurePlan) Scan(src any) error { return scanJSON(src, p) }

// Session is a person's short sign-in in one browser. ID is the SHA-256 of
// the cookie value, so a database read does not yield usable cookies.
type Session struct {
	ID            string `gorm:"primaryKey"`
	BeneficiaryID string
	Mobile        string
	Name          string
	AuthTime      time.Time
	// Grants holds what this person consented to, per client, in this session.
	Grants    Grants
	CreatedAt time.Time
	ExpiresAt time.Time
}

// OTPEvent records one OTP send against one rate-limit key (a hashed
// mobile or a client IP). Counting rows in a window enforces the limits
// across every server process.
type OTPEvent struct {
	ID        int64 `gorm:"primaryKey;autoIncrement"`
	Key       string
	CreatedAt time.Time
}

// Token kinds stored in OAuthToken.Kind.
const (
	KindAuthorizeCode = "code"
	KindAccessToken   = "access"
	KindRefreshToken  = "refresh"
	KindPKCE          = "pkce"
	KindOpenID        = "oidc"
	// KindPAR is a pushed authorization request (RFC 9126), keyed by its
	// request_uri; it is made inactive when used.
	KindPAR = "par"
)

// OAuthToken is one row shape for every token kind fosite stores. A used
// authorization code is made inactive, never deleted, so a replay is seen.
type OAuthToken struct {
	Kind      string `gorm:"primaryKey"`
	Signature string `gorm:"primaryKey"`
	RequestID string
	ClientID  string
	Subject   string
	// BeneficiaryID is the person the grant is for ("" in rows written
	// before the column), for GetTokenWithPerson's join.
	BeneficiaryID   string
	RequestedAt     time.Time
	ExpiresAt       time.Time
	Scopes          StringList
	GrantedScopes   StringList
	Audience        StringList
	GrantedAudience StringList
	Form            string
	// Session is the fosite session as JSON.
	Session []byte
	Active  bool
}

// TableName keeps the plural table name explicit.
func (OAuthToken) TableName() string { return "oauth_tokens" }

// DisclosureChannel is how claims reached a client.
type DisclosureChannel string

// The four ways a client learns claims.
const (
	// DisclosedAtAuthorize: the ID token of an authorization (the code).
	DisclosedAtAuthorize DisclosureChannel = "authorize"
	// DisclosedAtUserinfo: the userinfo endpoint.
	DisclosedAtUserinfo DisclosureChannel = "userinfo"
	// DisclosedAtRefresh: the ID token of a refresh.
	DisclosedAtRefresh DisclosureChannel = "refresh"
	// DisclosedByAPI: a status answer of the KYC-VS compatible API.
	DisclosedByAPI DisclosureChannel = "kycvs-api"
)

// Disclosure records that a client learned claims about a beneficiary:
// which, when and the value of the status.
type Disclosure struct {
	ID            string `gorm:"primaryKey"`
	ClientID      string
	BeneficiaryID string
	Subject       string
	Claims        StringList
	// VaccinationStatus is nil when the status was not disclosed.
	VaccinationStatus *int
	// FullyVaccinated is nil unless the fully_vaccinated claim (a yes or
	// no, without the status) was disclosed.
	FullyVaccinated *bool
	Channel         DisclosureChannel
	RequestID       string
	CreatedAt       time.Time
}

// JWT ID kinds stored in JWTID.Kind.
const (
	JTIClientAssertion = "client_assertion"
	JTIDPoPProof       = "dpop"
)

// JWTID is the jti of a JWT that may be used once (a client assertion, a
// DPoP proof), kept until the JWT expires so any process refuses a replay.
type JWTID struct {
	Kind      string `gorm:"primaryKey"`
	JTI       string `gorm:"primaryKey;column:jti"`
	ExpiresAt time.Time
}

// TableName keeps the plural table name explicit.
func (JWTID) TableName() string { return "jwt_ids" }

// RPSession is one client's share of a browser session of kycvs: the
// client received a code in the session named SID, for the person it
// knows as Subject. Back-channel logout tells these clients when the
// session, the grant or the client ends.
type RPSession struct {
	SID           string `gorm:"primaryKey;column:sid"`
	ClientID      string `gorm:"primaryKey"`
	Subject       string
	BeneficiaryID string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// TableName keeps the table name explicit.
func (RPSession) TableName() string { return "rp_sessions" }

// LogoutDelivery is one logout token still to be delivered to a client's
// backchannel_logout_uri. The token is signed afresh at each attempt (it
// lives two minutes); the row holds what goes in it.
type LogoutDelivery struct {
	ID       int64 `gorm:"primaryKey;autoIncrement"`
	ClientID string
	Subject  string
	SID      string `gorm:"column:sid"`
	// CreatedAt is when the logout happened; the row is dropped once it
	// is older than the worker's maximum age.
	CreatedAt time.Time
	Attempts  int
	// NextAttemptAt is when the row is next due; a worker that takes it
	// moves it ahead by its lease, so no other process takes it meanwhile.
	NextAttemptAt time.Time
	// LastError says why the last attempt failed (no personal data).
	LastError string
}
