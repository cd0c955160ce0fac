package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

const clientsUsage = "usage: kycvs clients create|list|show ID|delete ID|rotate-secret ID|api-keys ... [flags]"

// clientJSON is the CLI's JSON view of a client; client_secret appears
// only when a secret was just made.
type clientJSON struct {
	ClientID                  string   `json:"client_id"`
	ClientSecret              string   `json:"client_secret,omitempty"`
	Name                      string   `json:"name"`
	RedirectURIs              []string `json:"redirect_uris"`
	Scopes                    []string `json:"scopes"`
	Public                    bool     `json:"public"`
	TokenEndpointAuthMethod   string   `json:"token_endpoint_auth_method,omitempty"`
	IDTokenSignedResponseAlg  string   `json:"id_token_signed_response_alg,omitempty"`
	UserinfoSignedResponseAlg string   `json:"userinfo_signed_response_alg,omitempty"`
	SectorIdentifier          string   `json:"sector_identifier_uri,omitempty"`
	Disabled                  bool     `json:"disabled"`
}

func toClientJSON(c *store.Client, secret string) clientJSON {
	return clientJSON{
		ClientID: c.ID, ClientSecret: secret, Name: c.Name,
		RedirectURIs: c.RedirectURIs, Scopes: c.Scopes, Public: c.Public,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: c.IDTokenSignedResponseAlg,
		UserinfoSignedResponseAlg: c.UserinfoSignedResponseAlg, SectorIdentifier: c.SectorIdentifier, Disabled: c.Disabled,
	}
}

func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{clientsUsage}
	}
	verb, rest := args[0], args[1:]
	if verb == "api-keys" {
		return runAPIKeys(ctx, rest, stdout, stderr)
	}
	fs := newFlagSet("clients "+verb, stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	var spec oauth.ClientSpec
	var redirects, scopes stringList
	if verb == "create" {
		fs.StringVar(&spec.ID, "id", "", "client ID (default: generated)")
		fs.StringVar(&spec.Name, "name", "", "the verifying entity's name, shown to people")
		fs.Var(&redirects, "redirect-uri", "redirect URI, matched exactly (repeatable)")
		fs.BoolVar(&spec.Public, "public", false, "public client (browser or app, no secret, PKCE required)")
		fs.Var(&scopes, "scope", "scope the client may ask for (repeatable; default openid and vaccination_status)")
		fs.StringVar(&spec.TokenEndpointAuthMethod, "token-endpoint-auth-method", "", "client_secret_basic or client_secret_post (default: either)")
		fs.StringVar(&spec.IDTokenSignedResponseAlg, "id-token-alg", "", "ID token signing algorithm: RS256 (default) or ES256")
		fs.StringVar(&spec.UserinfoSignedResponseAlg, "userinfo-alg", "", "sign userinfo responses with RS256 or ES256 (default: plain JSON)")
		fs.StringVar(&spec.SectorIdentifier, "sector-identifier", "", "sector identifier URI for pairwise subjects (needed when redirect URIs span several hosts)")
	}
	// Flags may come after the client ID: kycvs clients show ID --json.
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	needsID := verb == "show" || verb == "delete" || verb == "rotate-secret"
	if needsID && id == "" {
		return usageError{"usage: kycvs clients " + verb + " CLIENT_ID"}
	}
	if err := d.resolve(verb == "create" || verb == "rotate-secret"); err != nil {
		return err
	}
	st, err := openStore(ctx, d.DatabaseURL, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkSchema(ctx, st); err != nil {
		return err
	}
	clients := oauth.NewClients(st, []byte(d.Secret))
	print := func(c *store.Client, secret string) error {
		if *asJSON {
			return writeJSON(stdout, toClientJSON(c, secret))
		}
		printClient(stdout, c, secret)
		return nil
	}
	switch verb {
	case "create":
		spec.RedirectURIs, spec.Scopes = redirects, scopes
		c, secret, err := clients.Create(ctx, spec)
		if errors.Is(err, store.ErrAlreadyExists) {
			return fmt.Errorf("a client with ID %q already exists", spec.ID)
		}
		if err != nil {
			return err
		}
		return print(c, secret)
	case "list":
		cs, err := st.ListClients(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]clientJSON, len(cs))
			for i := range cs {
				out[i] = toClientJSON(&cs[i], "")
			}
			return writeJSON(stdout, out)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT ID\tNAME\tTYPE\tSCOPES\tREDIRECT URIS\tSTATE")
		for _, c := range cs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, clientType(&c), strings.Join(c.Scopes, " "), strings.Join(c.RedirectURIs, " "), clientState(&c))
		}
		return tw.Flush()
	case "show":
		c, err := st.GetClient(ctx, id)
		if err != nil {
			return notFoundAs(err, "client", id)
		}
		return print(c, "")
	case "delete":
		if err := st.DeleteClient(ctx, id); err != nil {
			return notFoundAs(err, "client", id)
		}
		fmt.Fprintf(stdout, "deleted client %s and its tokens\n", id)
		return nil
	case "rotate-secret":
		secret, err := clients.RotateSecret(ctx, id)
		if err != nil {
			return notFoundAs(err, "client", id)
		}
		c, err := st.GetClient(ctx, id)
		if err != nil {
			return err
		}
		return print(c, secret)
	}
	return usageError{clientsUsage}
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
	fmt.Fprintf(tw, "scopes\t%s\n", strings.Join(c.Scopes, " "))
	if c.IDTokenSignedResponseAlg != "" {
		fmt.Fprintf(tw, "id_token_signed_response_alg\t%s\n", c.IDTokenSignedResponseAlg)
	}
	if c.UserinfoSignedResponseAlg != "" {
		fmt.Fprintf(tw, "userinfo_signed_response_alg\t%s\n", c.UserinfoSignedResponseAlg)
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
