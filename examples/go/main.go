// Command example is a confidential, server-side relying party of kycvs in
// Go, with github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: discovery,
// the redirect (state, nonce, PKCE), the code exchange, ID token
// verification, reading vaccination_status, and the errors a person or
// the network can cause.
//
// Register it, then run it:
//
//	kycvs clients create --name "Example Rail" --redirect-uri http://localhost:9000/callback --json
//	KYCVS_ISSUER=http://localhost:8080 CLIENT_ID=... CLIENT_SECRET=... \
//	  BASE_URL=http://localhost:9000 go run ./examples/go
//
// and open http://localhost:9000/.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// config is what the app needs to know; main reads it from the environment.
type config struct {
	Issuer       string // kycvs's issuer URL
	ClientID     string
	ClientSecret string
	BaseURL      string // where this app is reachable; BaseURL+"/callback" is registered
}

// app is the relying party.
type app struct {
	cfg      config
	provider *oidc.Provider
	oauth2   *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// newApp discovers kycvs (OpenID Connect Discovery: every endpoint and the
// key set come from the issuer's /.well-known/openid-configuration).
func newApp(ctx context.Context, cfg config) (*app, error) {
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", cfg.Issuer, err)
	}
	return &app{
		cfg:      cfg,
		provider: provider,
		oauth2: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.BaseURL + "/callback",
			Endpoint:     provider.Endpoint(),
			Scopes:       []string{oidc.ScopeOpenID, "vaccination_status"},
		},
		// Checks signature (JWKS, refreshed when a new key ID appears),
		// issuer, audience and expiry.
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
	}, nil
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	return mux
}

// flowCookie carries state, nonce and PKCE verifier from /login to
// /callback. HttpOnly, and SameSite=Lax so it comes back on kycvs's
// top-level redirect.
const flowCookie = "kycvs_flow"

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	show(w, http.StatusOK, "Check your vaccination status", `<p><a href="/login">Share my vaccination status with kycvs</a></p>`)
}

// login sends the person to kycvs.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{
		Name: flowCookie, Value: state + "." + nonce + "." + verifier,
		Path: "/", MaxAge: 15 * 60, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(a.cfg.BaseURL, "https://"),
	})
	http.Redirect(w, r, a.oauth2.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback is the redirect URI.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	q := r.URL.Query()

	// 1. The answer must belong to a flow this browser started (CSRF).
	ck, err := r.Cookie(flowCookie)
	parts := []string{}
	if err == nil {
		parts = strings.Split(ck.Value, ".")
	}
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(q.Get("state"))) != 1 {
		show(w, http.StatusBadRequest, "Start again", `<p>This answer does not belong to a check started here. <a href="/login">Start again</a>.</p>`)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: flowCookie, Path: "/", MaxAge: -1})
	nonce, verifier := parts[1], parts[2]

	// 2. The person may have declined, or have no record: kycvs gives one
	// answer for both, access_denied. Offer another way; do not retry.
	switch e := q.Get("error"); e {
	case "":
	case "access_denied":
		show(w, http.StatusOK, "Not shared", `<p>You did not share your vaccination status. You can show your certificate at the counter instead.</p>`)
		return
	default:
		log.Printf("kycvs answered %s: %s", e, q.Get("error_description"))
		show(w, http.StatusBadGateway, "Try again", `<p>kycvs could not check your status just now. <a href="/login">Try again</a>.</p>`)
		return
	}

	// 3. Exchange the code, authenticating with the client secret and
	// proving the PKCE verifier.
	tok, err := a.oauth2.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			log.Printf("token endpoint refused the code: %s %s", re.ErrorCode, re.ErrorDescription)
		} else {
			log.Printf("token endpoint unreachable: %v", err)
		}
		show(w, http.StatusBadGateway, "Try again", `<p>kycvs could not be reached. <a href="/login">Try again</a>.</p>`)
		return
	}

	// 4. Verify the ID token, then the nonce: only then is the claim true.
	raw, _ := tok.Extra("id_token").(string)
	idToken, err := a.verifier.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		log.Printf("ID token rejected: %v", err)
		show(w, http.StatusBadGateway, "Try again", `<p>The answer from kycvs could not be verified. <a href="/login">Try again</a>.</p>`)
		return
	}

	// 5. Read the claim: 0 not vaccinated, 1 partially, 2 fully.
	var c struct {
		VaccinationStatus *int `json:"vaccination_status"`
	}
	if err := idToken.Claims(&c); err != nil || c.VaccinationStatus == nil {
		show(w, http.StatusBadGateway, "Try again", `<p>kycvs did not send a vaccination status.</p>`)
		return
	}
	text := map[int]string{0: "not vaccinated", 1: "partially vaccinated", 2: "fully vaccinated"}[*c.VaccinationStatus]
	if text == "" {
		show(w, http.StatusBadGateway, "Try again", `<p>kycvs sent a status this app does not know.</p>`)
		return
	}
	show(w, http.StatusOK, "Verified", template.HTML(fmt.Sprintf(`<p id="status" data-status="%d">Vaccination status: %s, verified by kycvs.</p>`, *c.VaccinationStatus, text)))
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title></head><body><h1>{{.Title}}</h1>{{.Body}}</body></html>`))

func show(w http.ResponseWriter, status int, title string, body template.HTML) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, struct {
		Title string
		Body  template.HTML
	}{title, body})
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func main() {
	cfg := config{
		Issuer:       os.Getenv("KYCVS_ISSUER"),
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		BaseURL:      strings.TrimRight(os.Getenv("BASE_URL"), "/"),
	}
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" || cfg.BaseURL == "" {
		log.Fatal("set KYCVS_ISSUER, CLIENT_ID, CLIENT_SECRET and BASE_URL")
	}
	a, err := newApp(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:9000"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("example relying party on %s", cfg.BaseURL)
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
