package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

const clientsUsage = "usage: kycvs clients create|list|show ID|update ID|disable ID|enable ID|delete ID|rotate-secret ID [--grace D]|api-keys ...|initial-token ... [flags]"

// clientJSON is the CLI's JSON view of a client; client_secret appears
// only when a secret was just made.
type clientJSON struct {
	ClientID                  string   `json:"client_id"`
	ClientSecret              string   `json:"client_secret,omitempty"`
	Name                      string   `json:"name"`
	RedirectURIs              []string `json:"redirect_uris"`
	PostLogoutRedirectURIs    []string `json:"post_logout_redirect_uris,omitempty"`
	Scopes                    []string `json:"scopes"`
	Public                    bool     `json:"public"`
	TokenEndpointAuthMethod   string   `json:"token_endpoint_auth_method,omitempty"`
	IDTokenSignedResponseAlg  string   `json:"id_token_signed_response_alg,omitempty"`
	UserinfoSignedResponseAlg string   `json:"userinfo_signed_response_alg,omitempty"`
	SectorIdentifier          string   `json:"sector_identifier_uri,omitempty"`
	LogoURI                   string   `json:"logo_uri,omitempty"`
	Contacts                  []string `json:"contacts,omitempty"`
	// The high-assurance settings (RFC 9126, RFC 7523, RFC 9449, FAPI 2.0).
	RequirePAR                  bool            `json:"require_pushed_authorization_requests"`
	JWKS                        json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                     string          `json:"jwks_uri,omitempty"`
	TokenEndpointAuthSigningAlg string          `json:"token_endpoint_auth_signing_alg,omitempty"`
	DPoPBoundAccessTokens       bool            `json:"dpop_bound_access_tokens"`
	Profile                     string          `json:"profile,omitempty"`
	// Back-Channel Logout 1.0.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired bool   `json:"backchannel_logout_session_required"`
	Disabled                         bool   `json:"disabled"`
	// RegisteredWith is the initial access token a self-registered
	// client used (RFC 7591).
	RegisteredWith string `json:"registered_with,omitempty"`
	// PreviousSecretsValidUntil says when replaced secrets stop working.
	PreviousSecretsValidUntil []time.Time `json:"previous_secrets_valid_until,omitempty"`
}

func toClientJSON(c *store.Client, secret string) clientJSON {
	j := clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs, Scopes: c.Scopes, Public: c.Public,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, SectorIdentifier: c.SectorIdentifier, Disabled: c.Disabled,
		LogoURI: c.LogoURI, Contacts: c.Contacts, PreviousSecretsValidUntil: validUntil(c),
		RequirePAR: c.RequirePushedAuthorizationRequests, JWKSURI: c.JWKSURI,
		TokenEndpointAuthSigningAlg: c.TokenEndpointAuthSigningAlg, DPoPBoundAccessTokens: c.DPoPBoundAccessTokens, Profile: c.Profile,
		RegisteredWith:       c.RegisteredWith,
		BackchannelLogoutURI: c.BackchannelLogoutURI, BackchannelLogoutSessionRequired: c.BackchannelLogoutSessionRequired,
	}
	if c.JWKS != "" {
		j.JWKS = json.RawMessage(c.JWKS)
	}
	return j
}

func validUntil(c *store.Client) []time.Time {
	var out []time.Time
	now := time.Now()
	for _, r := range c.RotatedSecrets {
		if now.Before(r.ExpiresAt) {
			out = append(out, r.ExpiresAt)
		}
	}
	return out
}

func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{clientsUsage}
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "api-keys":
		return runAPIKeys(ctx, rest, stdout, stderr)
	case "initial-token":
		return runInitialTokens(ctx, rest, stdout, stderr)
	}
	fs := newFlagSet("clients "+verb, stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var sf clientSpecFlags
	grace := fs.Duration("grace", oauth.DefaultSecretGrace, "rotate-secret: how long the old secret keeps working (0: stops now, for a secret that leaked; at most 720h)")
	if verb == "create" || verb == "update" {
		sf.register(fs, verb)
	}
	needsID := verb == "show" || verb == "delete" || verb == "rotate-secret" || verb == "update" || verb == "disable" || verb == "enable"
	// Flags may stand on either side of the client ID.
	pos, err := parseFlags(fs, rest, btoi(needsID))
	if err != nil {
		return err
	}
	id := first(pos)
	if needsID && id == "" {
		return usageError{"usage: kycvs clients " + verb + " CLIENT_ID"}
	}
	st, err := openCLIStore(ctx, &d, verb == "create" || verb == "rotate-secret" || verb == "update")
	if err != nil {
		return err
	}
	defer st.Close()
	if err := sf.readJWKS(); err != nil {
		return err
	}
	c := newCLICommand(st, d.Secret, id, *asJSON, stdout)
	switch verb {
	case "create":
		return c.clientsCreate(ctx, sf.spec())
	case "list":
		return c.clientsList(ctx)
	case "show":
		return c.clientsShow(ctx)
	case "update":
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		return c.clientsUpdate(ctx, &sf, given)
	case "disable", "enable":
		return c.clientsSetDisabled(ctx, verb == "disable")
	case "delete":
		return c.clientsDelete(ctx)
	case "rotate-secret":
		return c.clientsRotateSecret(ctx, *grace)
	}
	return usageError{clientsUsage}
}

// clientSpecFlags are the flags of `clients create` and `clients update`
// that describe a client.
type clientSpecFlags struct {
	oauth.ClientSpec
	redirects, postLogout, scopes, contacts stringList
	public, allowSector                     bool
	jwksFile                                string
}

// register adds the flags of verb, create or update, to fs.
func (f *clientSpecFlags) register(fs *flag.FlagSet, verb string) {
	if verb == "create" {
		fs.StringVar(&f.ID, "id", "", "client ID (default: generated)")
	}
	fs.StringVar(&f.Name, "name", "", "the verifying entity's name, shown to people")
	fs.Var(&f.redirects, "redirect-uri", "redirect URI, matched exactly (repeatable)")
	fs.Var(&f.postLogout, "post-logout-redirect-uri", "where sign-out may return the person, matched exactly (repeatable; apart from redirect URIs)")
	fs.BoolVar(&f.public, "public", false, "public client (browser or app, no secret, PKCE required); update: --public=false makes it confidential")
	fs.Var(&f.scopes, "scope", "scope the client may ask for (repeatable; default openid and vaccination_status)")
	fs.StringVar(&f.TokenEndpointAuthMethod, "token-endpoint-auth-method", "", "client_secret_basic, client_secret_post or private_key_jwt (default: either secret method)")
	fs.StringVar(&f.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token signing algorithm: RS256 (default) or ES256")
	fs.StringVar(&f.UserinfoSignedResponseAlg, "userinfo-alg", "", "sign userinfo responses with RS256 or ES256 (default: plain JSON)")
	fs.StringVar(&f.SectorIdentifier, "sector-identifier", "", "sector identifier URI for pairwise subjects (needed when redirect URIs span several hosts)")
	fs.StringVar(&f.LogoURI, "logo-uri", "", "the verifying entity's logo (https)")
	fs.Var(&f.contacts, "contact", "e-mail address of someone responsible for the client (repeatable)")
	fs.StringVar(&f.Profile, "profile", "", "fapi2: a FAPI 2.0 client (PAR, PKCE S256, private_key_jwt, DPoP, 60-second codes); needs --jwks or --jwks-uri")
	fs.BoolVar(&f.RequirePAR, "require-par", false, "refuse authorization requests not pushed to the PAR endpoint first")
	fs.StringVar(&f.jwksFile, "jwks", "", "private_key_jwt: file with the client's public keys as a JWK Set")
	fs.StringVar(&f.JWKSURI, "jwks-uri", "", "private_key_jwt: https URL of the client's public JWK Set")
	fs.StringVar(&f.TokenEndpointAuthSigningAlg, "token-endpoint-auth-signing-alg", "", "private_key_jwt: the only algorithm its assertions may use (ES256, PS256, RS256; default any)")
	fs.BoolVar(&f.DPoPBoundAccessTokens, "dpop", false, "refuse token requests without a DPoP proof (dpop_bound_access_tokens)")
	fs.StringVar(&f.BackchannelLogoutURI, "backchannel-logout-uri", "", "where signed logout tokens are POSTed (Back-Channel Logout 1.0; https, http only on localhost; update: \"\" removes it)")
	fs.BoolVar(&f.BackchannelLogoutSessionRequired, "backchannel-logout-session-required", false, "the client needs sid in logout tokens (always sent)")
	if verb == "update" {
		fs.BoolVar(&f.allowSector, "allow-sector-change", false, "allow a change of the pairwise sector (every person's sub changes for this client)")
	}
}

// readJWKS reads the file --jwks names into the spec.
func (f *clientSpecFlags) readJWKS() error {
	if f.jwksFile == "" {
		return nil
	}
	b, err := os.ReadFile(f.jwksFile)
	if err != nil {
		return fmt.Errorf("--jwks: %w", err)
	}
	f.JWKS = string(b)
	return nil
}

// spec is the client the flags describe, for create.
func (f *clientSpecFlags) spec() oauth.ClientSpec {
	spec := f.ClientSpec
	spec.RedirectURIs, spec.PostLogoutRedirectURIs, spec.Scopes, spec.Contacts, spec.Public = f.redirects, f.postLogout, f.scopes, f.contacts, f.public
	return spec
}

// applyGiven changes in s what the flags given on the command line say,
// for update; the rest of s stays.
func (f *clientSpecFlags) applyGiven(s *oauth.ClientSpec, given map[string]bool) {
	for name, apply := range map[string]func(){
		"name": func() { s.Name = f.Name }, "redirect-uri": func() { s.RedirectURIs = f.redirects },
		"post-logout-redirect-uri": func() { s.PostLogoutRedirectURIs = f.postLogout },
		"scope":                    func() { s.Scopes = f.scopes }, "contact": func() { s.Contacts = f.contacts }, "public": func() { s.Public = f.public },
		"token-endpoint-auth-method":      func() { s.TokenEndpointAuthMethod = f.TokenEndpointAuthMethod },
		"id-token-alg":                    func() { s.IDTokenSignedResponseAlg = f.IDTokenSignedResponseAlg },
		"userinfo-alg":                    func() { s.UserinfoSignedResponseAlg = f.UserinfoSignedResponseAlg },
		"sector-identifier":               func() { s.SectorIdentifier = f.SectorIdentifier },
		"logo-uri":                        func() { s.LogoURI = f.LogoURI },
		"profile":                         func() { s.Profile = f.Profile },
		"require-par":                     func() { s.RequirePAR = f.RequirePAR },
		"jwks":                            func() { s.JWKS, s.JWKSURI = f.JWKS, "" },
		"jwks-uri":                        func() { s.JWKSURI, s.JWKS = f.JWKSURI, "" },
		"token-endpoint-auth-signing-alg": func() { s.TokenEndpointAuthSigningAlg = f.TokenEndpointAuthSigningAlg },
		"dpop":                            func() { s.DPoPBoundAccessTokens = f.DPoPBoundAccessTokens },
		"backchannel-logout-uri":          func() { s.BackchannelLogoutURI = f.BackchannelLogoutURI },
		"backchannel-logout-session-required": func() {
			s.BackchannelLogoutSessionRequired = f.BackchannelLogoutSessionRequired
		},
	} {
		if given[name] {
			apply()
		}
	}
}

// print prints client, and secret when one was just made, as JSON or a
// table.
func (c cliCommand) print(client *store.Client, secret string) error {
	if c.asJSON {
		return writeJSON(c.stdout, toClientJSON(client, secret))
	}
	printClient(c.stdout, client, secret)
	return nil
}

func (c cliCommand) clientsCreate(ctx context.Context, spec oauth.ClientSpec) error {
	client, secret, err := c.svc.CreateClient(ctx, c.actor, spec)
	if errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("a client with ID %q already exists", spec.ID)
	}
	if err != nil {
		return err
	}
	return c.print(client, secret)
}

func (c cliCommand) clientsList(ctx context.Context) error {
	cs, err := c.st.ListClients(ctx)
	if err != nil {
		return err
	}
	if c.asJSON {
		out := make([]clientJSON, len(cs))
		for i := range cs {
			out[i] = toClientJSON(&cs[i], "")
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tSCOPES\tREDIRECT URIS\tSTATE")
	for _, cl := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, clientType(&cl), strings.Join(cl.Scopes, " "), strings.Join(cl.RedirectURIs, " "), clientState(&cl))
	}
	return tw.Flush()
}

func (c cliCommand) clientsShow(ctx context.Context) error {
	client, err := c.st.GetClient(ctx, c.id)
	if err != nil {
		return notFoundAs(err, "client", c.id)
	}
	return c.print(client, "")
}

// clientsUpdate changes what the given flags say, and nothing else.
func (c cliCommand) clientsUpdate(ctx context.Context, f *clientSpecFlags, given map[string]bool) error {
	client, secret, err := c.svc.UpdateClient(ctx, c.actor, c.id, func(s *oauth.ClientSpec) error {
		f.applyGiven(s, given)
		return nil
	}, f.allowSector)
	if errors.Is(err, admin.ErrSectorChange) {
		return fmt.Errorf("%v; add --allow-sector-change to do it anyway", err)
	}
	if err != nil {
		return notFoundAs(err, "client", c.id)
	}
	return c.print(client, secret)
}

func (c cliCommand) clientsSetDisabled(ctx context.Context, disabled bool) error {
	client, err := c.svc.SetClientDisabled(ctx, c.actor, c.id, disabled)
	if err != nil {
		return notFoundAs(err, "client", c.id)
	}
	if !c.asJSON {
		if client.Disabled {
			fmt.Fprintf(c.stdout, "disabled client %s: it gets no tokens, and its tokens and API keys stop working until it is enabled\n", c.id)
		} else {
			fmt.Fprintf(c.stdout, "enabled client %s\n", c.id)
		}
		return nil
	}
	return c.print(client, "")
}

func (c cliCommand) clientsDelete(ctx context.Context) error {
	if err := c.svc.DeleteClient(ctx, c.actor, c.id); err != nil {
		return notFoundAs(err, "client", c.id)
	}
	fmt.Fprintf(c.stdout, "deleted client %s and its tokens\n", c.id)
	return nil
}

func (c cliCommand) clientsRotateSecret(ctx context.Context, grace time.Duration) error {
	secret, client, err := c.svc.RotateClientSecret(ctx, c.actor, c.id, grace)
	if err != nil {
		return notFoundAs(err, "client", c.id)
	}
	return c.print(client, secret)
}

func printClient(w io.Writer, c *store.Client, secret string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "client_id\t%s\n", c.ID)
	if secret != "" {
		fmt.Fprintf(tw, "client_secret\t%s\t(shown once: store it now)\n", secret)
	}
	fmt.Fprintf(tw, "name\t%s\n", c.Name)
	fmt.Fprintf(tw, "type\t%s\n", clientType(c))
	fmt.Fprintf(tw, "redirect_uris\t%s\n", strings.Join(c.RedirectURIs, " "))
	if len(c.PostLogoutRedirectURIs) > 0 {
		fmt.Fprintf(tw, "post_logout_redirect_uris\t%s\n", strings.Join(c.PostLogoutRedirectURIs, " "))
	}
	fmt.Fprintf(tw, "scopes\t%s\n", strings.Join(c.Scopes, " "))
	if c.IDTokenSignedResponseAlg != "" {
		fmt.Fprintf(tw, "id_token_signed_response_alg\t%s\n", c.IDTokenSignedResponseAlg)
	}
	if c.UserinfoSignedResponseAlg != "" {
		fmt.Fprintf(tw, "userinfo_signed_response_alg\t%s\n", c.UserinfoSignedResponseAlg)
	}
	if c.Profile != "" {
		fmt.Fprintf(tw, "profile\t%s\n", c.Profile)
	}
	if c.TokenEndpointAuthMethod != "" {
		fmt.Fprintf(tw, "token_endpoint_auth_method\t%s\n", c.TokenEndpointAuthMethod)
	}
	if c.JWKSURI != "" {
		fmt.Fprintf(tw, "jwks_uri\t%s\n", c.JWKSURI)
	}
	if c.RequirePushedAuthorizationRequests {
		fmt.Fprintf(tw, "require_pushed_authorization_requests\ttrue\n")
	}
	if c.DPoPBoundAccessTokens {
		fmt.Fprintf(tw, "dpop_bound_access_tokens\ttrue\n")
	}
	if c.BackchannelLogoutURI != "" {
		fmt.Fprintf(tw, "backchannel_logout_uri\t%s\n", c.BackchannelLogoutURI)
	}
	for _, t := range validUntil(c) {
		fmt.Fprintf(tw, "previous secret\tworks until %s\n", t.Format(time.RFC3339))
	}
	if c.RegisteredWith != "" {
		fmt.Fprintf(tw, "registered_with\t%s\t(self-registered)\n", c.RegisteredWith)
	}
	fmt.Fprintf(tw, "state\t%s\n", clientState(c))
	tw.Flush()
}

func clientType(c *store.Client) string {
	if c.Public {
		return "public"
	}
	return "confidential"
}

func clientState(c *store.Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "enabled"
}

func notFoundAs(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no %s %q", what, id)
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
