// Package consent owns the sign-in and consent flow a person goes through
// between the relying party's authorization request and its answer: the
// mobile and name form, the code page, the registry match, the consent
// screen for a person already signed in, and the short browser session a
// valid OTP starts. The codes themselves (made, hashed, sent, limited,
// checked) belong to package otp: cmd/kycvs hands New the one otp.Service
// every channel shares. Nothing but cmd/kycvs imports consent.
//
// consent never imports oauth or fosite. The two meet through a
// store.LoginRequest (the "challenge"): oauth stores it and redirects the
// browser to /login/{challenge}; consent drives it to approved or denied.
// A right code is answered at once by the Finisher oauth hands the flow
// (FinishWith): the code's rows and the request's move to used are
// written with the approval and the new session, all or none, and the
// answer redirects to the client. A denial, Share on the one-tap screen
// and an approval whose answer is a page (form_post) redirect to
// Config.FinishURL, where oauth answers the client and marks the request
// used. The states, as in
// store/models.go:
//
//	pending --(OTP sent)--> otp_sent --(OTP ok)--> verified --(name matches)--> approved --(code issued)--> used
//	   |                      |  \--(3 wrong tries)--> dead        |
//	   |                      |                                  \--(name corrected, still no match: stays verified)
//	   \----------------------+-------------+--(person cancels / no record)--> denied --(error sent)--> used
//	pending --(signed-in person clicks Share)--> approved
//	otp_sent --(Change mobile or name: the code is voided)--> pending
//	pending, otp_sent, verified, dead, or any of them expired --(Back to the verifier)--> denied
//
// A request past ExpiresAt is dead whatever its state, except that "Back
// to {verifier}" may still deny it, so the relying party learns the
// outcome: the row outlives its expiry by store.LoginRequestKeep, without
// the person's mobile, name or code. Every transition is
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
//   - Every form is answered by a redirect to a GET page (Post/Redirect/
//     Get), so a reload never re-submits a code; the outcome travels as a
//     code in the URL (?m=wrong), never as text, and the page recomputes
//     the tries left and the wait from the challenge.
//   - Every page that ends a sign-in offers "Back to {verifier}", which
//     tells the relying party (access_denied); a page with no validated
//     redirect URI behind it offers nothing that redirects.
//   - "Change mobile or name" voids the code sent and charges nothing.
//   - Logs never hold an OTP, a cookie or a full mobile number.
package consent
