package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

const keysUsage = "usage: kycvs keys list | rotate [--alg RS256|ES256] [--immediate] | retire KID [--withdraw]"

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "rotate" && args[0] != "retire") {
		return usageError{keysUsage}
	}
	verb, rest := args[0], args[1:]
	fs := newFlagSet("keys "+verb, stderr)
	var d dbFlags
	d.register(fs)
	alg := fs.String("alg", "", "algorithm to rotate: RS256 or ES256 (default: both)")
	immediate := fs.Bool("immediate", false, "rotate: the new key signs at once (after a leak) instead of after relying parties' cached key sets know it")
	withdraw := fs.Bool("withdraw", false, "retire: take the key out of the JWKS now; tokens it signed stop verifying (a key that leaked)")
	idTokenTTL := fs.Duration("id-token-ttl", oauth.DefaultIDTokenTTL, "the servers' --id-token-ttl: a key that stops signing stays published until the ID tokens it signed have expired")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseFlags(fs, rest, btoi(verb == "retire"))
	if err != nil {
		return err
	}
	kid := first(pos)
	if verb == "retire" && kid == "" {
		return usageError{"usage: kycvs keys retire KID [--withdraw]"}
	}
	st, err := openCLIStore(ctx, &d, verb != "list")
	if err != nil {
		return err
	}
	defer st.Close()
	if verb == "list" {
		return keysList(ctx, st, *asJSON, stdout)
	}
	keys, err := oauth.NewKeys(st, []byte(d.Secret))
	if err != nil {
		return err
	}
	keys.WithRetireGrace(retireGrace(*idTokenTTL))
	// Loading first proves the secret decrypts the existing keys.
	if err := keys.Load(ctx); err != nil {
		return err
	}
	svc := cliService(st, d.Secret, keys)
	if verb == "retire" {
		return keysRetire(ctx, svc, keys, kid, *withdraw, stdout)
	}
	algs := oauth.SupportedAlgs
	if *alg != "" {
		algs = []string{*alg}
	}
	return keysRotate(ctx, svc, keys, algs, *immediate, stdout)
}

func keysList(ctx context.Context, st *store.Store, asJSON bool, stdout io.Writer) error {
	ks, err := admin.KeyList(ctx, st, time.Now())
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, ks)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tCREATED\tSTATE\tSIGNS FROM\tPUBLISHED UNTIL")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.KID, k.Alg, k.CreatedAt.Format(time.RFC3339), k.State, timeOrDash(k.ActivatesAt), timeOrDash(k.PublishUntil))
	}
	return tw.Flush()
}

// keysRetire stops key kid signing; withdraw takes it out of the JWKS too.
func keysRetire(ctx context.Context, svc *admin.Service, keys *oauth.Keys, kid string, withdraw bool, stdout io.Writer) error {
	err := svc.RetireKey(ctx, cliActor(), kid, withdraw)
	switch {
	case errors.Is(err, oauth.ErrLastKey), errors.Is(err, oauth.ErrKeyRetired):
		return fmt.Errorf("key %s: %w", kid, err)
	case err != nil:
		return notFoundAs(err, "signing key", kid)
	}
	if withdraw {
		fmt.Fprintf(stdout, "key %s is withdrawn: it no longer signs and has left the JWKS (running servers follow within a minute)\n", kid)
	} else {
		fmt.Fprintf(stdout, "key %s is retired: it no longer signs and stays published for %s, until the tokens it signed have expired\n", kid, keys.RetireGrace())
	}
	return nil
}

// keysRotate makes a new key of each of algs; immediate makes it sign at
// once.
func keysRotate(ctx context.Context, svc *admin.Service, keys *oauth.Keys, algs []string, immediate bool, stdout io.Writer) error {
	for _, a := range algs {
		kid, at, err := svc.RotateKey(ctx, cliActor(), a, immediate)
		if err != nil {
			return err
		}
		if !at.After(time.Now()) {
			fmt.Fprintf(stdout, "new %s key %s signs from now on (running servers pick it up within a minute); the previous key stays published for %s\n", a, kid, keys.RetireGrace())
		} else {
			fmt.Fprintf(stdout, "new %s key %s is published now and signs from %s; the previous key signs until then and stays published %s more\n", a, kid, at.Format(time.RFC3339), keys.RetireGrace())
		}
	}
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// retireGrace is how long a key that stops signing stays published: until
// the last ID token or KYC-VS API token it signed has expired. serve and
// keys must agree on it, so both call this.
func retireGrace(idTokenTTL time.Duration) time.Duration {
	return oauth.RetireGraceFor(max(idTokenTTL, kycvsapi.DefaultTokenTTL))
}
