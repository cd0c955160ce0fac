package oauth

import "github.com/gin-gonic/gin"

// Endpoint paths, all published through discovery.
const (
	PathDiscovery  = "/.well-known/openid-configuration"
	PathJWKS       = "/.well-known/jwks.json"
	PathAuth       = "/oauth2/auth"
	PathResume     = "/oauth2/auth/resume/"
	PathToken      = "/oauth2/token"
	PathUserinfo   = "/userinfo"
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathEndSession = "/oauth2/logout"
	PathPAR        = "/oauth2/par"
	// PathRegister is the dynamic client registration endpoint (RFC 7591);
	// a registered client's configuration endpoint is below it (RFC 7592).
	// Package registration serves both.
	PathRegister = "/oauth2/register"
)

// ResumeURL is where the sign-in flow sends the browser once a login
// request is approved or denied.
func ResumeURL(challenge string) string { return PathResume + challenge }

// Register mounts the protocol endpoints. None of them carries the CSRF
// check of kycvs's own forms: relying parties may POST authorization
// requests cross-site (OIDC Core 3.1.2.1), and the others authenticate
// clients or bearer tokens instead of cookies.
func (p *Provider) Register(router gin.IRouter) {
	r := router.Group("", memoizeClients)
	r.GET(PathDiscovery, p.handleDiscovery)
	r.GET(PathJWKS, p.handleJWKS)
	r.GET(PathAuth, p.handleAuthorize)
	r.POST(PathAuth, p.handleAuthorize)
	r.GET(PathResume+":challenge", p.handleResume)
	r.POST(PathPAR, p.handlePAR)
	r.POST(PathToken, p.handleToken)
	r.OPTIONS(PathToken, p.handleTokenPreflight)
	r.GET(PathUserinfo, p.handleUserinfo)
	r.POST(PathUserinfo, p.handleUserinfo)
	r.OPTIONS(PathUserinfo, p.handleUserinfoPreflight)
	r.POST(PathRevoke, p.handleRevoke)
	r.POST(PathIntrospect, p.handleIntrospect)
	r.GET(PathEndSession, p.handleEndSession)
	r.POST(PathEndSession, p.handleEndSession)
}
