package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Purpose names one use of the server secret. Its value is the HMAC label.
type Purpose string

// Every purpose the server secret keys. The labels predate this table and
// are kept byte for byte (see the package comment).
const (
	// SigningKeyEncryption encrypts the OIDC signing keys at rest (AES-256-GCM).
	SigningKeyEncryption Purpose = "kycvs/signing-key-encryption"
	// ClientSecretHash keys the stored hash of client secrets.
	ClientSecretHash Purpose = "kycvs/client-secret"
	// TokenHMAC is fosite's global secret: the HMAC of codes and opaque tokens.
	TokenHMAC Purpose = "kycvs/token-hmac"
	// DPoPNonce keys the stateless DPoP server nonces.
	DPoPNonce Purpose = "kycvs/dpop-nonce"
	// PairwiseSubject keys pairwise subject identifiers (sub).
	PairwiseSubject Purpose = "kycvs/pairwise-subject/v1"
	// APIKeyHash keys the stored hash of KYC-VS API keys.
	APIKeyHash Purpose = "kycvs/api-key/v1"
	// OTPHash keys the stored hash of one-time codes.
	OTPHash Purpose = "kycvs/consent/otp-hash/v1"
	// MobileLimit keys the per-mobile send counters, so no counter holds a number.
	MobileLimit Purpose = "kycvs/consent/mobile-limit/v1"
	// LogTag keys the mobile tags written to logs in place of numbers.
	LogTag Purpose = "kycvs/consent/log-tag/v1"
	// AdminKey keys the stored hash of admin API keys.
	AdminKey Purpose = "kycvs/admin-key/v1"
	// AdminCursor authenticates the admin API's paging cursors.
	AdminCursor Purpose = "kycvs/admin-cursor/v1"
	// SessionID derives the sid of browser sessions (ID and logout
	// tokens) from their stored IDs.
	SessionID Purpose = "kycvs/sid/v1"
	// RegistrationToken keys the stored hash of initial access tokens and
	// registration access tokens (dynamic client registration).
	RegistrationToken Purpose = "kycvs/registration-token/v1"
	// CSRF keys the forms' CSRF tokens (web.CSRF), the public pages' and
	// the admin console's.
	CSRF Purpose = "kycvs/web/csrf/v1"
	// AdminTOTP encrypts the console admins' TOTP secrets at rest
	// (AES-256-GCM).
	AdminTOTP Purpose = "kycvs/admin-totp/v1"
	// AdminReveal encrypts a secret made in the admin console while it
	// waits on the session to be shown once (AES-256-GCM).
	AdminReveal Purpose = "kycvs/admin-reveal/v1"
)

// Derive returns the 32-byte key for purpose p: HMAC-SHA256 of its label
// keyed by the server secret.
func Derive(secret []byte, p Purpose) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(p))
	return m.Sum(nil)
}
