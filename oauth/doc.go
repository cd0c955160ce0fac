// Package oauth owns the protocol: fosite composed over package store, and
// the endpoints discovery lists (authorize, token, userinfo, JWKS, revoke,
// introspect, PAR, end session), with client registration (ClientSpec, one
// validation path for every way a client is registered) and the signing
// keys.
//
// An interactive authorization is validated by fosite, its disclosure plan
// worked out once (planDisclosure: which claims, in the ID token or in
// userinfo) and stored with the login request that package consent shows
// and approves; the code is issued (issue) with a right code's approval,
// in its request and its writes (PrepareApproved, which consent calls),
// or at the resume URL (handleResume) for a denial, Share on the one-tap
// screen or a form_post answer, and releases exactly that stored plan. It replays the stored request through fosite as a
// check: a client disabled meanwhile gets nothing, and a replay that
// disagrees with the plan is a server_error, never a wider release.
//
// Back-channel logout (OpenID Connect Back-Channel Logout 1.0) is here too:
//
//   - every authorization finished in a browser session puts that
//     session's sid (an HMAC of its ID, Provider.sidFor) in the ID token and
//     records the client, the sub it knows and the sid (store.RPSession);
//   - whatever ends a sign-in turns those rows into queued deliveries in the
//     same transaction: Logouts.EndSession at the end_session_endpoint,
//     Logouts.EndClient when an admin disables a client,
//     Logouts.EndPerson when an admin ends a person's sessions, and
//     Provider.EndGrant when the person withdraws a grant;
//   - LogoutSender, run in every server process, signs a logout token per
//     attempt and POSTs it, with retries, to addresses it only reaches
//     through the SSRF-guarded client that also fetches jwks_uri.
//
// Policies: no token, secret or sub in logs; a client-chosen URL is never
// followed through a redirect nor dialled at a non-public address unless
// the operator allows it; protocol errors are written by fosite, and go to
// a redirect_uri only once it is validated. Refresh tokens rotate on every
// use, except a fapi2 client's, which are kept (refreshGrant, FAPI 2.0
// Security Profile 5.3.2.1); a fapi2 client's redirect URIs are https.
package oauth
