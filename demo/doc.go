// Package demo is the built-in demo relying party of `kycvs serve --dev`: a
// "Demo Airlines" page that asks kycvs for a traveller's vaccination status
// the way any integrator would, with go-oidc and x/oauth2 through
// discovery, and shows what it verified. It uses nothing of kycvs but its
// public endpoints, so it doubles as a copyable reference integration.
package demo
