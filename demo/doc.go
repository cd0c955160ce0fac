// Package demo is Demo Airlines, the relying party `kycvs serve --dev` runs
// on its own origin beside kycvs: a booking form whose "Share vaccination
// status" button fills a "verified by kycvs" badge. It is the reference
// integration, written the way an integrator would write it:
//
//   - the page loads the button script from kycvs with its Subresource
//     Integrity hash, exactly as docs/integration.md shows;
//   - the button runs the popup flow and hands the code and PKCE verifier to
//     the page ("backend" exchange), never a token;
//   - the backend, a confidential client, exchanges the code with its
//     secret and verifies the ID token with go-oidc (signature through
//     discovery and JWKS, issuer, audience, expiry, and the nonce it put in
//     the page) before it believes the status;
//   - without JavaScript, a link runs the classic server-side redirect flow.
//
// It uses nothing of kycvs but its public endpoints and the button script,
// so it can be copied.
package demo
