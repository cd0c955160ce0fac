// Package me owns the person's own page, /me: a sign-in by mobile and
// OTP, then one page listing, for every person registered on that mobile,
// what was disclosed to which verifier (when, which claims, through which
// channel), the grants still standing (refresh tokens from offline_access,
// KYC-VS API status tokens) with "Withdraw", a download of their data, and
// their rights in plain words. Nothing but cmd/kycvs imports me.
//
//	GET  /me            the sign-in form, or the page when signed in
//	POST /me/signin     mobile: send a code               -> 303 /me/code
//	                    refused (bad mobile, send limit, SMS not sent)
//	                                                      -> 303 /me?m=...
//	GET  /me/code       the code form
//	POST /me/code       check the code, start the session -> 303 /me
//	POST /me/restart    another number                    -> 303 /me
//	POST /me/withdraw   end one standing grant            -> 303 /me
//	GET  /me/data.json  the download (attachment)
//	POST /me/signout    end the session                   -> 303 /me
//
// The policies:
//
//   - The codes are the otp.Service's (the one every channel shares: the
//     same limits, counters and tries), with the resend wait per mobile.
//   - No enumeration: the code is sent whether or not anyone is registered
//     on the mobile (the registry is read only once signed in); a mobile
//     nobody registered sees an empty page after a right code.
//   - The session is the page's own: 15 minutes from sign-in, never
//     extended, in a cookie of its own (__Host- prefixed, Secure, HttpOnly,
//     SameSite=Strict under https) whose SHA-256 is the row's ID, so a read
//     of the database yields no usable cookie. The sign-in waiting for its
//     code has another cookie, replaced at sign-in (no session fixation).
//   - A person sees only what concerns the people registered on the
//     signed-in mobile: every list and every withdrawal is computed from
//     the session's mobile, never from the request.
//   - Withdraw ends the grant at once (the next refresh or userinfo, or
//     KYC-VS status call, fails) and records an audit entry in the same
//     transaction, target type "person" (so retention deletes it with the
//     disclosures), actor the mobile's keyed log tag, never the number.
//   - Every form is behind web.CSRF and answered by a 303, its refusals
//     too (post/redirect/get), so a reload re-submits nothing: a refused
//     sign-in form is kept in a row of its own (store.MeRefused, under
//     FormCookie) with what was typed and until when a send limit holds,
//     and /me?m=mobile|soon|limit|unsent|busy shows it (400, 429 with
//     Retry-After, 503) while it holds.
//   - Logs never hold a code, a cookie or a mobile number (OTPs.LogTag).
package me
