package home

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kycvs/kycvs/docs"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/web"
)

// Config holds the lifetimes the privacy notice states; cmd/kycvs fills
// it from the same flags the server runs with.
type Config struct {
	// Retention is how long disclosures are kept; 0 keeps them.
	Retention time.Duration
	// Lifetimes are the provider's: how long one sign-in may take (the
	// mobile and name it holds are cleared once it expires), and how long
	// a relying party may read the claims it was given (the access and
	// refresh tokens').
	Lifetimes oauth.Lifetimes
	// SessionTTL is how long a browser stays signed in after a code.
	SessionTTL time.Duration
}

// Pages serves the root page, the guide and the icon.
type Pages struct{ cfg Config }

// New returns the pages for cfg.
func New(cfg Config) *Pages { return &Pages{cfg: cfg} }

// Paths of the pages.
const (
	PathRoot  = "/"
	PathGuide = "/docs/integration"
	// PathMe is the person's own page, served by another package.
	PathMe = "/me"
)

// Register mounts the pages on r.
func (p *Pages) Register(r gin.IRouter) {
	r.GET(PathRoot, p.handleRoot)
	r.HEAD(PathRoot, p.handleRoot)
	r.GET(PathGuide, handleGuide)
	r.GET("/favicon.ico", handleFavicon)
}

func (p *Pages) handleRoot(c *gin.Context) {
	web.Render(c, http.StatusOK, "home", web.HomePage{
		Retention:       p.cfg.Retention,
		LoginTTL:        p.cfg.Lifetimes.LoginTTL,
		SessionTTL:      p.cfg.SessionTTL,
		AccessTokenTTL:  p.cfg.Lifetimes.AccessTokenTTL,
		RefreshTokenTTL: p.cfg.Lifetimes.RefreshTokenTTL,
		MePath:          PathMe,
		GuidePath:       PathGuide,
	})
}

// handleGuide shows the integration guide as the text it is written in
// (Markdown reads well as plain text), in English: it is for developers.
func handleGuide(c *gin.Context) {
	web.Render(c, http.StatusOK, "guide", web.GuidePage{Text: docs.Integration})
}

// handleFavicon points browsers that ask for /favicon.ico at the SVG icon
// the pages link; both are cached for a day.
func handleFavicon(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Redirect(http.StatusMovedPermanently, web.StaticURL("icon.svg"))
}
