// Package home serves kycvs's public pages that belong to no sign-in:
//
//	GET /                  what kycvs is, for whom, and the privacy notice
//	GET /docs/integration  the integration guide for relying parties
//	GET /favicon.ico       the icon (a redirect to the cached SVG)
//
// The privacy notice states the lifetimes in force (the --retention
// value, the sign-in, session and token lifetimes), which cmd/kycvs hands
// New from its configuration, so the page never promises what the server
// does not do. Nothing here reads a cookie or writes the database.
package home
