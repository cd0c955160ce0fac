// Package consent owns the sign-in and consent flow a person goes through
// between the relying party's authorization request and its answer: the
// mobile and name form, the code page, the registry match, the consent
// screen for a person already signed in, and the short browser session a
// valid OTP starts. The codes themselves (made, hashed, sent, limited,
// checked) belong to package otp: cmd/kycvs hands New the one otp.Service
// every channel shares. Nothing but cmd/kycvs imports consent.
//
// consent never imports oauth or fosite. The two meet only through a
// store.LoginRequest (the "challenge"): oauth stores it and redirects the
// browser to /login/{challenge}; consent drives it to approved or denied and
// redirects to Config.FinishURL, where oauth answers the client and marks
// the request used. The states, as in store/models.go:
//
//	pending --(OTP sent)--> otp_sent --(OTP ok)--> verified --(name matches)--> approved --(code issued)--> used
//	   |                      |  \--(3 wrong tries)--> dead        |
//	   |                      |                                  \--(name corrected, still no match: stays verified)
//	   \----------------------+-------------+--(person cancels / no record)--> denied --(error sent)--> used
//	pending --(signed-in person clicks Share)--> approved
//
// A request past ExpiresAt is dead whatever its state. Every transition is
// made inside a store.UpdateLoginRequest updater, which holds the row for
// the whole read-check-write, so a double submit or a second tab cannot
// advance one challenge twice; a valid OTP whose name matches goes from
// otp_sent through verified to approved, with the new session, in one
// transaction.
//
// The policies of the codes live in package otp. The flow adds:
//
//   - No enumeration: the OTP is sent whether or not the mobile is
//     registered; the registry is read only after a valid OTP, so the
//     "send code" answer is the same in content and timing.
//   - Entering the OTP is the consent: the OTP page states what is shared
//     with whom. A signed-in person asked by another client, or for more,
//     sees the Share / Don't share screen instead.
//   - Logs never hold an OTP, a cookie or a full mobile number.
package consent
