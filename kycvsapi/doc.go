// Package kycvsapi owns the KYC-VS compatible API: the three HTTP calls
// that verifying entities wrote against Co-WIN's KYC-VS before OpenID
// Connect, so such an integration moves to kycvs by changing its base URL
// and its API key, and every kycvs policy still holds:
//
//	POST /api/v3/vaccination/generateOTP  x-api-key; {"mobile_number","full_name"} -> {"txnId"}
//	POST /api/v3/vaccination/confirmOTP   {"otp": hex SHA-256 of the OTP, "txnId"} -> {"token"}
//	GET  /api/v3/vaccination/status       Authorization: Bearer token -> {"vaccination_status", "signed_result", ...}
//
// It also owns the API keys those calls authenticate with (APIKeys): made
// by the server, shown once, stored as a keyed SHA-256, revocable.
//
// What it does not own, it borrows: the OTP policy (codes, hashes, TTL,
// tries, resend wait, send limits and their counters) is otp.Service, the
// very instance the browser flow uses, so both channels count sends toward
// the same per-mobile and per-IP limits; name and mobile matching, status
// and pairwise subjects are claims'; signing is oauth's keys, published in
// the JWKS; rows are store's.
//
// A transaction (store.APITransaction, its ID the txnId) moves one way:
//
//	otp_sent --(right OTP, name matches)--> verified --> status, any number of times until the token expires
//	    |  \--(right OTP, no record)------> no_record
//	    \--(last allowed wrong OTP)-------> dead
//
// The OTP check, the registry match and the new state are one transaction
// on the locked row, so two confirmOTP calls racing with one OTP cannot both
// get a token. A registry that cannot be read rolls everything back: the OTP
// stays usable and the caller may retry.
//
// Policies particular to this channel:
//
//   - No enumeration: generateOTP sends a code and answers {"txnId"} whether
//     or not the mobile is registered; the registry is read only after a
//     right OTP.
//   - Consent is in the SMS. The person tells the OTP to the verifying
//     entity, and kycvs shows them no page, so the SMS names the entity and
//     what it will learn and says that sharing the OTP gives consent
//     (otp.NoticeShare).
//   - The resend wait applies per verifying entity, mobile and person
//     (the name, as matched): every generateOTP is a new transaction, so a
//     wait per transaction would be no wait at all, and the people who
//     share a mobile need not wait for each other.
//   - The client hashes the OTP (hex SHA-256) before sending it. That is
//     obfuscation, not security: SHA-256 of a 6-digit code is inverted by
//     trying 10^6 codes. kycvs treats the digest like the code: the stored
//     hash is HMAC(server key, txnId ":" digest), compared in constant time;
//     TLS, the 3-minute TTL and the 3 tries protect it.
//   - The bearer token is a JWS (typ TokenType, ES256) bound to the
//     verifying entity (client_id) and to the one beneficiary mobile + name
//     picked (the pairwise sub), with the transaction (txn) it came from,
//     for the status endpoint only (aud). status checks the signature and
//     the claims, then the transaction row: still verified, the same
//     entity, the same person, the API key that started it not revoked, the
//     entity not disabled. It is no OAuth access token (those are opaque
//     HMAC tokens fosite checks), so neither is accepted for the other; an
//     ID token or a signed result has another typ and is refused.
//   - The result is a JWS (typ ResultType, the entity's ID token algorithm,
//     RS256 by default) of iss, aud (the entity's client ID), pairwise sub,
//     iat, exp, vaccination_status and txn: Co-WIN promised a signed result
//     but never published one; anyone can verify this one with the JWKS.
//   - Every status answer is a disclosure, recorded with channel store.DisclosedByAPI ("kycvs-api")
//     before it is sent.
//   - Errors are JSON {"errorCode", "error"} with stable codes (see the
//     Code* constants), 429 with Retry-After.
package kycvsapi
