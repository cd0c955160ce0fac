// Package web assembles the one gin engine every kycvs page and endpoint is
// served by, and owns what all of them share: request IDs, access logs,
// recovery to a readable error page, security headers, the request body
// limit, CSRF protection for forms, and the embedded templates and static
// assets people see.
//
// web imports no other kycvs package. oauth and consent mount their routes
// on the engine NewEngine returns and render their pages with Render and
// RenderError, passing the page structs declared here (LoginPage, OTPPage,
// ConsentPage, NoMatchPage, ErrorPage).
//
// Pages work without JavaScript, fit a 360 px wide phone, and load nothing
// from other origins, so the Content-Security-Policy can stay strict.
//
// The one script kycvs ships is for relying parties' pages, not its own:
// the "Share vaccination status" button (ButtonPath, pinned by
// ButtonIntegrity), a static file like the style sheet.
package web
