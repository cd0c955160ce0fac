package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/oauth"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate") {
		return usageError{"usage: kycvs keys list|rotate [--alg RS256|ES256]"}
	}
	fs := newFlagSet("keys "+args[0], stderr)
	var d dbFlags
	d.register(fs)
	alg := fs.String("alg", "", "algorithm to rotate: RS256 or ES256 (default: both)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := d.resolve(args[0] == "rotate"); err != nil {
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
	if args[0] == "rotate" {
		keys, err := oauth.NewKeys(st, []byte(d.Secret))
		if err != nil {
			return err
		}
		// Loading first proves the secret decrypts the existing keys.
		if err := keys.Load(ctx); err != nil {
			return err
		}
		algs := oauth.SupportedAlgs
		if *alg != "" {
			algs = []string{*alg}
		}
		for _, a := range algs {
			kid, err := keys.Rotate(ctx, a)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "new %s key %s signs from now on (running servers pick it up within a minute); older keys stay published\n", a, kid)
		}
		return nil
	}
	rows, err := st.ListSigningKeys(ctx)
	if err != nil {
		return err
	}
	type keyJSON struct {
		KID       string     `json:"kid"`
		Alg       string     `json:"alg"`
		CreatedAt time.Time  `json:"created_at"`
		RetiredAt *time.Time `json:"retired_at,omitempty"`
	}
	if *asJSON {
		out := make([]keyJSON, len(rows))
		for i, r := range rows {
			out[i] = keyJSON{r.KID, r.Alg, r.CreatedAt, r.RetiredAt}
		}
		return writeJSON(stdout, out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATE")
	signing := map[string]bool{}
	for _, r := range rows {
		state := "published"
		if r.RetiredAt != nil {
			state = "retired " + r.RetiredAt.Format(time.RFC3339)
		} else if !signing[r.Alg] {
			signing[r.Alg] = true
			state = "signing"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.KID, r.Alg, r.CreatedAt.Format(time.RFC3339), state)
	}
	return tw.Flush()
}
