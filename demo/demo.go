package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	"golang.org/x/oauth2"
)

// Paths the demo serves.
const (
	HomePath     = "/demo"
	StartPath    = "/demo/start"
	CallbackPath = "/demo/callback"
)

// flowCookie holds state, nonce and PKCE verifier between the redirect out
// and the callback; HttpOnly and scoped to /demo.
const flowCookie = "kycvs_demo_flow"

//go:embed templates/*.html
var templates embed.FS

var pages = template.Must(template.ParseFS(templates, "templates/*.html"))

// Config is the demo relying party's registration at kycvs.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string
	// HTTPClient reaches the issuer; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// RP is the demo relying party.
type RP struct {
	cfg Config

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, kept once found
}

// New returns the demo relying party.
func New(cfg Config) *RP { return &RP{cfg: cfg} }

// Register mounts the demo pages.
func (d *RP) Register(r gin.IRouter) {
	r.GET(HomePath, d.home)
	r.GET(StartPath, d.start)
	r.GET(CallbackPath, d.callback)
}

func (d *RP) ctx(ctx context.Context) context.Context {
	if d.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, d.cfg.HTTPClient)
	}
	return ctx
}

// discover finds kycvs's endpoints and keys through discovery alone.
func (d *RP) discover(ctx context.Context) (*oidc.Provider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.provider != nil {
		return d.provider, nil
	}
	p, err := oidc.NewProvider(d.ctx(ctx), d.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	d.provider = p
	return p, nil
}

func (d *RP) oauth2Config(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     d.cfg.ClientID,
		ClientSecret: d.cfg.ClientSecret,
		RedirectURL:  d.cfg.RedirectURL,
		Endpoint:     p.Endpoint(),
		Scopes:       d.cfg.Scopes,
	}
}

type page struct {
	Title    string
	Error    string
	Result   *result
	Declined bool
}

type result struct {
	Status     int
	StatusText string
	Subject    string
	IDToken    string // the verified claims, pretty JSON
	Userinfo   string
	VerifiedAt string
}

func render(c *gin.Context, status int, name string, p page) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	if err := pages.ExecuteTemplate(c.Writer, name, p); err != nil {
		_ = c.Error(err)
	}
}

func (d *RP) home(c *gin.Context) {
	render(c, http.StatusOK, "home.html", page{Title: "Demo Airlines: check in"})
}

// start sends the traveller to kycvs with state, nonce and PKCE (S256).
func (d *RP) start(c *gin.Context) {
	p, err := d.discover(c.Request.Context())
	if err != nil {
		render(c, http.StatusBadGateway, "home.html", page{Title: "Demo Airlines: check in", Error: "kycvs could not be reached: " + err.Error()})
		return
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	http.SetCookie(c.Writer, &http.Cookie{
		Name: flowCookie, Value: state + "." + nonce + "." + verifier,
		Path: "/demo", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 900,
		Secure: strings.HasPrefix(d.cfg.RedirectURL, "https://"),
	})
	url := d.oauth2Config(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	c.Redirect(http.StatusFound, url)
}

// callback checks state, exchanges the code, verifies the ID token's
// signature, issuer, audience, expiry and nonce, then calls userinfo.
func (d *RP) callback(c *gin.Context) {
	ctx := d.ctx(c.Request.Context())
	title := "Demo Airlines: verification"
	ck, err := c.Request.Cookie(flowCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(ck.Value, ".")
	}
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(c.Query("state"))) != 1 {
		render(c, http.StatusBadRequest, "result.html", page{Title: title, Error: "This answer does not belong to a check started here (state mismatch). Start again."})
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flowCookie, Path: "/demo", MaxAge: -1})
	nonce, verifier := parts[1], parts[2]
	if e := c.Query("error"); e != "" {
		if e == "access_denied" {
			render(c, http.StatusOK, "result.html", page{Title: title, Declined: true})
			return
		}
		render(c, http.StatusOK, "result.html", page{Title: title, Error: "kycvs answered " + e + ": " + c.Query("error_description")})
		return
	}
	p, err := d.discover(ctx)
	if err != nil {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "kycvs could not be reached: " + err.Error()})
		return
	}
	conf := d.oauth2Config(p)
	tok, err := conf.Exchange(ctx, c.Query("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "The code exchange failed: " + err.Error()})
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: d.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "The ID token did not verify: " + err.Error()})
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "The ID token's nonce does not match."})
		return
	}
	var idClaims map[string]any
	var status struct {
		VaccinationStatus *int `json:"vaccination_status"`
	}
	if err := idt.Claims(&idClaims); err != nil || idt.Claims(&status) != nil || status.VaccinationStatus == nil {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "The ID token carries no vaccination_status."})
		return
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var uiClaims map[string]any
	if err == nil {
		err = ui.Claims(&uiClaims)
	}
	if err != nil {
		render(c, http.StatusBadGateway, "result.html", page{Title: title, Error: "userinfo failed: " + err.Error()})
		return
	}
	render(c, http.StatusOK, "result.html", page{Title: title, Result: &result{
		Status:     *status.VaccinationStatus,
		StatusText: statusText(*status.VaccinationStatus),
		Subject:    idt.Subject,
		IDToken:    pretty(idClaims),
		Userinfo:   pretty(uiClaims),
		VerifiedAt: time.Now().UTC().Format(time.RFC1123),
	}})
}

func statusText(s int) string {
	switch s {
	case 0:
		return "Not vaccinated"
	case 1:
		return "Partially vaccinated"
	case 2:
		return "Fully vaccinated"
	}
	return "Unknown"
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func random() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
