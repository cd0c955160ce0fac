// Package loadtest drives complete verifications against a running kycvs
// server and measures them: it is the engine of `kycvs bench`.
//
// Each virtual user plays a person with a fresh browser and a relying party
// at once, one verification after another: discovery is read once, then
//
//	authorize   GET the authorization endpoint (code flow, PKCE S256, state, nonce)
//	login_page  GET /login/{challenge}: the mobile + name form and its CSRF token
//	send_otp    POST mobile and name, until the SMS with the code has arrived
//	verify_otp  POST the code and follow the redirects to the relying party
//	token       exchange the code (golang.org/x/oauth2) and verify the ID token (go-oidc)
//	userinfo    GET userinfo with the access token
//
// The codes arrive the way a real SMS gateway receives them: the server's
// webhook sender POSTs each SMS to a Gateway listening on loopback, which
// checks the signature (otp.VerifyWebhookSignature) and hands the code
// to the virtual user whose mobile it was sent to. Every virtual user has a
// mobile and a registry record of its own (see BenchUsers and Prepare), so
// a code can never reach the wrong one.
//
// The tool only ever talks to loopback addresses: the issuer, every endpoint
// discovery names and the gateway are checked, and every connection it dials
// is refused unless its address is loopback. Runs are bounded in time and in
// flows; every request and every wait for an SMS has a timeout.
package loadtest
