package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Paths Demo Airlines serves on its own origin.
const (
	HomePath = "/demo"
	// ButtonCallbackPath is the button's redirect URI: a page that only
	// loads the button script, which hands the answer to the booking page.
	ButtonCallbackPath = "/demo/kycvs-callback"
	// VerifyPath receives the code and PKCE verifier from the booking page.
	VerifyPath = "/demo/verify"
	// StartPath and CallbackPath are the flow without JavaScript.
	StartPath    = "/demo/start"
	CallbackPath = "/demo/callback"
	BookPath     = "/demo/book"
	staticPath   = "/demo/static/"
)

// The button script, as docs/integration.md publishes it: a versioned path
// at kycvs and the Subresource Integrity hash of that exact file. A test
// keeps ButtonIntegrity equal to the file kycvs serves.
const (
	ButtonScriptPath = "/static/button/v1/kycvs-button.js"
	ButtonIntegrity  = "sha384-3Qi1rE/G8N1FMXMKc2dopZPizxio70Mm3xnrU44FG8hHTue8nCN03XCZ11NfVfNm"
)

// sessionCookie identifies a traveller's booking; the booking itself lives
// on the server (a real airline has its own session store).
const sessionCookie = "demo_airlines_booking"

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// Config is Demo Airlines' registration at kycvs and its own address.
type Config struct {
	// Issuer is kycvs's issuer URL; everything else is found by discovery.
	Issuer       string
	ClientID     string
	ClientSecret string
	// BaseURL is the airline's own origin, e.g. http://localhost:8081.
	BaseURL string
	// Scopes default to openid and vaccination_status.
	Scopes []string
	// HTTPClient reaches the issuer; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// RedirectURIs are the addresses to register for the airline at kycvs:
// the button's callback page and the no-JavaScript callback.
func (c Config) RedirectURIs() []string {
	return []string{c.BaseURL + ButtonCallbackPath, c.BaseURL + CallbackPath}
}

// Airline is the Demo Airlines web application, an http.Handler.
type Airline struct {
	cfg Config
	mux *http.ServeMux
	csp string

	mu       sync.Mutex
	provider *oidc.Provider      // discovered on first use, kept once found
	bookings map[string]*booking // by session cookie
}

var _ http.Handler = (*Airline)(nil)

// booking is one traveller's booking in progress.
type booking struct {
	// nonce goes into the page and every authorization request; an ID
	// token is believed only if it carries it back, so a code or token
	// obtained in another browser cannot be slipped into this booking.
	nonce string
	// state and verifier belong to the no-JavaScript flow in progress.
	state, verifier string
	// passenger is the name typed on the booking form, kept across the
	// full-page round trip to kycvs (the flow without JavaScript).
	passenger string
	result    *outcome
	expires   time.Time
}

// outcome is what the badge shows.
type outcome struct {
	State  string // verified, declined or error
	Status int
	Text   string // "fully vaccinated"
	// Name is whose status it is, as kycvs signed it (scope profile);
	// "" when the scope was not asked for.
	Name   string
	Claims string // the verified ID token's claims, for developers
	At     time.Time
	Error  string
}

// New returns Demo Airlines.
func New(cfg Config) *Airline {
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "vaccination_status"}
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	a := &Airline{cfg: cfg, mux: http.NewServeMux(), bookings: map[string]*booking{}}
	// The page may load scripts from itself and kycvs, and talk to both
	// (the button reads kycvs's discovery document); nothing inline.
	iss := originOf(cfg.Issuer)
	a.csp = "default-src 'self'; script-src 'self' " + iss + "; connect-src 'self' " + iss +
		"; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
	static, _ := fs.Sub(staticFiles, "static")
	a.mux.Handle("GET "+staticPath, http.StripPrefix(staticPath, http.FileServerFS(static)))
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, HomePath, http.StatusFound) })
	a.mux.HandleFunc("GET "+HomePath, a.home)
	a.mux.HandleFunc("GET "+ButtonCallbackPath, a.buttonCallback)
	a.mux.HandleFunc("POST "+VerifyPath, a.verify)
	a.mux.HandleFunc("GET "+StartPath, a.start)
	a.mux.HandleFunc("POST "+StartPath, a.start)
	a.mux.HandleFunc("GET "+CallbackPath, a.callback)
	a.mux.HandleFunc("POST "+BookPath, a.book)
	return a
}

// ServeHTTP serves the airline's pages with its security headers.
func (a *Airline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", a.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	// The callback pages carry the authorization code in their URL.
	h.Set("Referrer-Policy", "no-referrer")
	a.mux.ServeHTTP(w, r)
}

// page is what the templates see.
type page struct {
	Title           string
	Issuer          string
	ClientID        string
	ButtonSrc       string
	ButtonIntegrity string
	ButtonRedirect  string
	Nonce           string
	Result          *outcome
	Passenger       string
	Scope           string
	VerifyPath      string
	StartPath       string
	BookPath        string
	StaticPath      string
	Error           string
}

func (a *Airline) page(title string, b *booking) page {
	p := page{
		Title:           title,
		Issuer:          a.cfg.Issuer,
		ClientID:        a.cfg.ClientID,
		ButtonSrc:       a.cfg.Issuer + ButtonScriptPath,
		ButtonIntegrity: ButtonIntegrity,
		ButtonRedirect:  a.cfg.BaseURL + ButtonCallbackPath,
		VerifyPath:      VerifyPath,
		StartPath:       StartPath,
		BookPath:        BookPath,
		StaticPath:      staticPath,
		Scope:           strings.Join(a.cfg.Scopes, " "),
	}
	if b != nil {
		a.mu.Lock()
		p.Nonce, p.Result, p.Passenger = b.nonce, b.result, b.passenger
		a.mu.Unlock()
	}
	return p
}

func render(w http.ResponseWriter, status int, name string, p page) {
	var buf strings.Builder
	if err := pages.ExecuteTemplate(&buf, name, p); err != nil {
		http.Error(w, "template: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// home is the booking form with the button.
func (a *Airline) home(w http.ResponseWriter, r *http.Request) {
	b := a.session(w, r, true)
	render(w, http.StatusOK, "booking.html", a.page("Demo Airlines: book a flight", b))
}

// buttonCallback is the page kycvs returns the popup to. The button script
// it loads posts the answer to the booking page and closes the window.
func (a *Airline) buttonCallback(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "callback.html", a.page("Demo Airlines", nil))
}

// verify redeems a code the button handed to the booking page: the backend
// exchanges it with the client secret and the page's PKCE verifier, and
// believes the status only after verifying the ID token.
func (a *Airline) verify(w http.ResponseWriter, r *http.Request) {
	b := a.session(w, r, false)
	if b == nil {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Your booking has expired. Reload the page and try again."})
		return
	}
	// JSON only: a cross-site form cannot send it without a CORS preflight.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"error": "Send JSON."})
		return
	}
	var in struct {
		Code         string `json:"code"`
		CodeVerifier string `json:"code_verifier"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&in); err != nil || in.Code == "" || in.CodeVerifier == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "The request needs code and code_verifier."})
		return
	}
	o := a.redeem(r.Context(), in.Code, in.CodeVerifier, a.cfg.BaseURL+ButtonCallbackPath, a.nonceOf(b))
	a.setResult(b, o)
	if o.State != "verified" {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": o.Error})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": o.Status, "text": o.Text, "name": o.Name, "verified_at": o.At.Format(time.RFC3339)})
}

// start sends a traveller without JavaScript to kycvs: state, nonce and
// PKCE (S256), the classic redirect. Posted from the booking form, it
// first keeps the passenger name for the way back.
func (a *Airline) start(w http.ResponseWriter, r *http.Request) {
	b := a.session(w, r, true)
	if b == nil {
		// Every booking slot is taken (maxBookings): no session to keep
		// state and PKCE in.
		http.Error(w, "Demo Airlines is busy. Try again in a few minutes.", http.StatusServiceUnavailable)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if name := passengerName(r.PostFormValue("passenger")); name != "" {
			a.mu.Lock()
			b.passenger = name
			a.mu.Unlock()
		}
	}
	p, err := a.discover(r.Context())
	if err != nil {
		a.setResult(b, &outcome{State: "error", Error: "kycvs could not be reached: " + err.Error()})
		http.Redirect(w, r, HomePath, http.StatusSeeOther)
		return
	}
	state, verifier := random(), oauth2.GenerateVerifier()
	a.mu.Lock()
	b.state, b.verifier = state, verifier
	nonce := b.nonce
	a.mu.Unlock()
	conf := a.oauth2Config(p, a.cfg.BaseURL+CallbackPath)
	http.Redirect(w, r, conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback is where kycvs returns a traveller without JavaScript.
func (a *Airline) callback(w http.ResponseWriter, r *http.Request) {
	b := a.session(w, r, false)
	if b == nil {
		http.Redirect(w, r, HomePath, http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	state, verifier := b.state, b.verifier
	b.state, b.verifier = "", "" // one answer per start
	a.mu.Unlock()
	q := r.URL.Query()
	var o *outcome
	switch {
	case state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1:
		o = &outcome{State: "error", Error: "This answer does not belong to a check started here. Try again."}
	case q.Get("error") == "access_denied":
		o = &outcome{State: "declined"}
	case q.Get("error") != "":
		o = &outcome{State: "error", Error: "kycvs answered " + q.Get("error") + ": " + q.Get("error_description")}
	default:
		o = a.redeem(r.Context(), q.Get("code"), verifier, a.cfg.BaseURL+CallbackPath, a.nonceOf(b))
	}
	a.setResult(b, o)
	http.Redirect(w, r, HomePath+"#vaccination", http.StatusSeeOther)
}

// book confirms the booking with the status the backend verified, never
// one the page claims. The session cookie is SameSite=Lax, so another
// site cannot post this form for a traveller.
func (a *Airline) book(w http.ResponseWriter, r *http.Request) {
	b := a.session(w, r, false)
	if b == nil {
		http.Redirect(w, r, HomePath, http.StatusSeeOther)
		return
	}
	p := a.page("Demo Airlines: booking confirmed", b)
	if name := passengerName(r.PostFormValue("passenger")); name != "" {
		p.Passenger = name
	}
	render(w, http.StatusOK, "confirm.html", p)
}

// passengerName is a typed passenger name, trimmed and cut to 100
// characters.
func passengerName(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100])
	}
	return s
}

// redeem exchanges a code and verifies the ID token: signature (JWKS found
// through discovery), issuer, audience and expiry by go-oidc, then the
// nonce, then the claim.
func (a *Airline) redeem(ctx context.Context, code, verifier, redirectURI, nonce string) *outcome {
	fail := func(msg string) *outcome { return &outcome{State: "error", Error: msg} }
	p, err := a.discover(ctx)
	if err != nil {
		return fail("kycvs could not be reached: " + err.Error())
	}
	ctx = a.ctx(ctx)
	tok, err := a.oauth2Config(p, redirectURI).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return fail("kycvs did not accept the code: " + re.ErrorCode)
		}
		return fail("The code exchange failed.")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: a.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return fail("The ID token did not verify: " + err.Error())
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return fail("The ID token was issued for another booking (nonce mismatch).")
	}
	var c struct {
		VaccinationStatus *int   `json:"vaccination_status"`
		Name              string `json:"name"`
	}
	var all map[string]any
	if err := idt.Claims(&c); err != nil || c.VaccinationStatus == nil || idt.Claims(&all) != nil {
		return fail("The ID token carries no vaccination_status.")
	}
	if c.Name == "" && slices.Contains(a.cfg.Scopes, oidc.ScopeProfile) {
		// OIDC Core 5.4: with an access token, profile claims come from
		// userinfo, not the ID token. Whose status it is, as kycvs signed
		// it, not as typed here; the subject must match (OIDC Core 5.3.4).
		if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject {
			var u struct {
				Name string `json:"name"`
			}
			if ui.Claims(&u) == nil {
				c.Name = u.Name
			}
		}
	}
	text, ok := statusText[*c.VaccinationStatus]
	if !ok {
		return fail(fmt.Sprintf("Unknown vaccination_status %d.", *c.VaccinationStatus))
	}
	pretty, _ := json.MarshalIndent(all, "", "  ")
	return &outcome{State: "verified", Status: *c.VaccinationStatus, Text: text, Name: c.Name, Claims: string(pretty), At: time.Now().UTC()}
}

// statusText says what each value of vaccination_status means.
var statusText = map[int]string{
	0: "not vaccinated",
	1: "partially vaccinated",
	2: "fully vaccinated",
}

func (a *Airline) ctx(ctx context.Context) context.Context {
	if a.cfg.HTTPClient != nil {
		return oidc.ClientContext(ctx, a.cfg.HTTPClient)
	}
	return ctx
}

// discover finds kycvs's endpoints and keys through discovery alone; a
// failure is retried on the next request.
func (a *Airline) discover(ctx context.Context) (*oidc.Provider, error) {
	a.mu.Lock()
	p := a.provider
	a.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oidc.NewProvider(a.ctx(ctx), a.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.provider = p
	a.mu.Unlock()
	return p, nil
}

func (a *Airline) oauth2Config(p *oidc.Provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     a.cfg.ClientID,
		ClientSecret: a.cfg.ClientSecret,
		RedirectURL:  redirectURI,
		Endpoint:     p.Endpoint(),
		Scopes:       a.cfg.Scopes,
	}
}

// Bookings are kept for an hour, and at most maxBookings at once.
const (
	bookingTTL  = time.Hour
	maxBookings = 10000
)

// session returns this browser's booking; with create, a new one when it
// has none.
func (a *Airline) session(w http.ResponseWriter, r *http.Request, create bool) *booking {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if b, ok := a.bookings[ck.Value]; ok && now.Before(b.expires) {
			return b
		}
	}
	if !create {
		return nil
	}
	if len(a.bookings) >= maxBookings {
		for id, b := range a.bookings {
			if now.After(b.expires) {
				delete(a.bookings, id)
			}
		}
		if len(a.bookings) >= maxBookings {
			return nil
		}
	}
	id := random()
	b := &booking{nonce: random(), expires: now.Add(bookingTTL)}
	a.bookings[id] = b
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: HomePath, MaxAge: int(bookingTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(a.cfg.BaseURL, "https://"),
	})
	return b
}

func (a *Airline) nonceOf(b *booking) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return b.nonce
}

func (a *Airline) setResult(b *booking, o *outcome) {
	if b == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b.result = o
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// originOf is scheme://host[:port] of a URL.
func originOf(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.IndexByte(raw[i+3:], '/'); j >= 0 {
			return raw[:i+3+j]
		}
	}
	return raw
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
