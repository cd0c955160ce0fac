package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/store"
)

const apiKeysUsage = "usage: kycvs clients api-keys create CLIENT_ID | list [CLIENT_ID] | revoke KEY_ID  [--json]"

// apiKeyJSON is the CLI's JSON view of an API key; api_key appears only
// when the key was just made.
type apiKeyJSON struct {
	APIKey    string     `json:"api_key,omitempty"`
	ID        string     `json:"id"`
	ClientID  string     `json:"client_id"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func toAPIKeyJSON(k *store.APIKey, full string) apiKeyJSON {
	return apiKeyJSON{APIKey: full, ID: k.ID, ClientID: k.ClientID, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// runAPIKeys is `kycvs clients api-keys`: keys for the KYC-VS compatible API.
func runAPIKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{apiKeysUsage}
	}
	verb, rest := args[0], args[1:]
	if verb != "create" && verb != "list" && verb != "revoke" {
		return usageError{apiKeysUsage}
	}
	fs := newFlagSet("clients api-keys "+verb, stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	// Flags may stand on either side of the ID; every verb takes one ID
	// (list: optionally).
	pos, err := parseFlags(fs, rest, 1)
	if err != nil {
		return err
	}
	id := first(pos)
	switch {
	case verb == "create" && id == "":
		return usageError{"usage: kycvs clients api-keys create CLIENT_ID [--json]"}
	case verb == "revoke" && id == "":
		return usageError{"usage: kycvs clients api-keys revoke KEY_ID"}
	}
	st, err := openCLIStore(ctx, &d, verb == "create")
	if err != nil {
		return err
	}
	defer st.Close()
	c := newCLICommand(st, d.Secret, id, *asJSON, stdout)
	switch verb {
	case "create":
		return c.apiKeysCreate(ctx)
	case "list":
		// Listing needs no secret; the hashing key is unused then.
		return c.apiKeysList(ctx, kycvsapi.NewAPIKeys(st, []byte(d.Secret)))
	case "revoke":
		return c.apiKeysRevoke(ctx)
	}
	return usageError{apiKeysUsage}
}

// apiKeysCreate makes a key for the client c.id and prints it, once.
func (c cliCommand) apiKeysCreate(ctx context.Context) error {
	full, rec, err := c.svc.CreateAPIKey(ctx, c.actor, c.id)
	if err != nil {
		return notFoundAs(err, "client", c.id)
	}
	if c.asJSON {
		return writeJSON(c.stdout, toAPIKeyJSON(rec, full))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "api_key\t%s\t(shown once: store it now)\n", full)
	fmt.Fprintf(tw, "id\t%s\n", rec.ID)
	fmt.Fprintf(tw, "client_id\t%s\n", rec.ClientID)
	return tw.Flush()
}

// apiKeysList lists the keys of the client c.id, or every key when c.id
// is empty.
func (c cliCommand) apiKeysList(ctx context.Context, keys *kycvsapi.APIKeys) error {
	if c.id != "" {
		if _, err := c.st.GetClient(ctx, c.id); err != nil {
			return notFoundAs(err, "client", c.id)
		}
	}
	ks, err := keys.List(ctx, c.id)
	if err != nil {
		return err
	}
	if c.asJSON {
		out := make([]apiKeyJSON, len(ks))
		for i := range ks {
			out[i] = toAPIKeyJSON(&ks[i], "")
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tCLIENT ID\tCREATED\tSTATE")
	for _, k := range ks {
		state := "active"
		if k.RevokedAt != nil {
			state = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.ClientID, k.CreatedAt.Format(time.RFC3339), state)
	}
	return tw.Flush()
}

func (c cliCommand) apiKeysRevoke(ctx context.Context) error {
	_, err := c.svc.RevokeAPIKey(ctx, c.actor, "", c.id)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("API key %s is already revoked", c.id)
	case err != nil:
		return notFoundAs(err, "API key", c.id)
	}
	fmt.Fprintf(c.stdout, "revoked API key %s: it authenticates no more calls, and tokens of transactions it started stop working\n", c.id)
	return nil
}
