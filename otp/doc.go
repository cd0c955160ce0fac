// Package otp owns the one-time codes that prove a person holds a mobile:
// how a code is made, hashed, sent, limited and checked (Service), and the
// SMS senders that deliver it (Sender: file, log, webhook, and a bound on
// sends in flight).
//
// cmd/kycvs builds one Service and hands it to every channel that sends
// codes: the sign-in pages (package consent), the KYC-VS compatible API
// (package kycvsapi) and the admin console's sign-in (package admin). Each
// channel keeps a code's State in its own row and calls Issue and Verify
// inside its own locked read-modify-write; the Service keeps only the send
// counters, in the database, under keys every channel shares.
//
// The policies (DESIGN.md "Policies"):
//
//   - A code is 6 digits from Config.Rand, stored only as
//     HMAC(key, binding ":" hex(SHA-256(code))), valid Config.TTL, dead
//     after Config.MaxTries wrong tries; a new one no sooner than
//     Config.ResendInterval after the last (per challenge in the browser
//     flow, which checks ResendWait itself; per verifying entity, mobile and
//     name in the API, where every call is a new transaction: ResendScope).
//   - Sends are limited per mobile (Config.HourlyLimit an hour and
//     Config.DailyLimit a day, keyed by an HMAC of the number, never the
//     number itself), per client IP (Config.IPLimit per 5 minutes) and per
//     verifying entity (Config.ClientLimit a minute), counted in the
//     database under the same keys for every channel, so the limits hold
//     across processes and one channel cannot be used to get around
//     another's.
//   - No enumeration: Issue never reads the registry, so its answer does not
//     depend on whether the mobile is registered; a code for a recipient who
//     must not get one is withheld, not refused.
//   - The SMS is the notice where no page is shown (NoticeShare).
//   - A code typed into kycvs's own pages (sign-in, admin console) ends
//     with the WebOTP line "@host #code" (Config.WebOTPHost), within the
//     two-segment budget of every language.
//   - Logs never hold a code or a full mobile number: LogTag stands in for
//     the number.
package otp
