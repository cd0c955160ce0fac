package kycvsapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/kycvs/kycvs/web"
)

// Error codes, the errorCode of every error answer. They are part of the
// API: integrations branch on them, so they never change meaning.
const (
	// 400: the request is malformed.
	CodeInvalidRequest      = "INVALID_REQUEST"       // the body is not a JSON object
	CodeInvalidMobileNumber = "INVALID_MOBILE_NUMBER" // mobile_number missing or not a mobile number
	CodeInvalidFullName     = "INVALID_FULL_NAME"     // full_name missing, over 100 characters, or with control characters
	CodeInvalidLang         = "INVALID_LANG"          // lang over 64 characters
	CodeOTPRequired         = "OTP_REQUIRED"          // otp missing
	CodeInvalidOTPFormat    = "INVALID_OTP_FORMAT"    // otp is not 64 hex digits (the SHA-256 of the OTP)
	CodeInvalidTxnID        = "INVALID_TXN_ID"        // txnId missing or not a UUID

	// 401: the caller is not entitled.
	CodeAPIKeyRequired     = "API_KEY_REQUIRED"      // generateOTP without x-api-key
	CodeInvalidAPIKey      = "INVALID_API_KEY"       // unknown, wrong or revoked key, or the entity is disabled
	CodeInvalidTransaction = "INVALID_TRANSACTION"   // txnId unknown, expired, already used, dead, or another entity's
	CodeOTPExpired         = "OTP_EXPIRED"           // the OTP is past its validity
	CodeWrongOTP           = "WRONG_OTP"             // a wrong OTP; the try was counted
	CodeOTPTriesExceeded   = "OTP_ATTEMPTS_EXCEEDED" // a wrong OTP that was the last try: the transaction is dead
	CodeTokenRequired      = "TOKEN_REQUIRED"        // status without a bearer token
	CodeInvalidToken       = "INVALID_TOKEN"         // a token that is not valid, expired, or not for this entity

	// 403: the entity may not ask for the vaccination status.
	CodeNotAllowed = "NOT_ALLOWED"

	// 404: a right OTP, but nobody by that name is registered under the
	// mobile (or the record was removed since).
	CodeNoRecord = "NO_RECORD"

	// 413: the body is too large.
	CodeBodyTooLarge = "BODY_TOO_LARGE"

	// 429, with Retry-After.
	CodeTooManyRequests = "TOO_MANY_REQUESTS" // OTP requests from this IP in 5 minutes
	CodeOTPLimitReached = "OTP_LIMIT_REACHED" // OTPs to this mobile in 24 hours
	CodeResendTooSoon   = "RESEND_TOO_SOON"   // a new OTP for the same mobile from the same entity too soon

	// 5xx.
	CodeSMSNotSent         = "SMS_NOT_SENT"        // 503: the SMS gateway did not take the message
	CodeServiceUnavailable = "SERVICE_UNAVAILABLE" // 503: the database or registry cannot be reached
	CodeServerError        = "SERVER_ERROR"        // 500
)

// apiError is one error answer.
type apiError struct {
	status  int
	code    string
	message string
	// retryAfter, for 429s.
	retryAfter time.Duration
}

func fail(status int, code, message string) *apiError {
	return &apiError{status: status, code: code, message: message}
}

// writeError answers with e as {"errorCode", "error"}. Headers go before
// the status line.
func writeError(c *gin.Context, e *apiError) {
	c.Header("Cache-Control", "no-store")
	if e.retryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	if e.status == http.StatusUnauthorized && (e.code == CodeTokenRequired || e.code == CodeInvalidToken) {
		h := `Bearer realm="kycvs"`
		if e.code == CodeInvalidToken {
			h += `, error="invalid_token"`
		}
		c.Header("WWW-Authenticate", h)
	}
	c.JSON(e.status, gin.H{"errorCode": e.code, "error": e.message})
}

// internal turns a store or registry failure into 503 or 500.
// The callers log err themselves, with the transaction's context.
func internal(err error) *apiError {
	f := web.FailureOf(err)
	if f.Outage {
		return fail(f.Status, CodeServiceUnavailable, f.Message)
	}
	return fail(f.Status, CodeServerError, f.Message)
}
