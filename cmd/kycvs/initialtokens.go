package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/store"
)

const initialTokensUsage = "usage: kycvs clients initial-token create [--uses N] [--expires D] [--name N] | list | revoke TOKEN_ID  [--json]"

// initialTokenJSON is the CLI's JSON view of an initial access token;
// initial_access_token appears only when the token was just made.
type initialTokenJSON struct {
	InitialAccessToken string     `json:"initial_access_token,omitempty"`
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	MaxUses            int        `json:"max_uses"`
	Uses               int        `json:"uses"`
	ExpiresAt          time.Time  `json:"expires_at"`
	CreatedAt          time.Time  `json:"created_at"`
	CreatedBy          string     `json:"created_by"`
	LastUsedAt         *time.Time `json:"last_used_at,omitempty"`
	RevokedAt          *time.Time `json:"revoked_at,omitempty"`
	State              string     `json:"state"`
}

func toInitialTokenJSON(t *store.InitialAccessToken, full string, now time.Time) initialTokenJSON {
	return initialTokenJSON{InitialAccessToken: full, ID: t.ID, Name: t.Name, MaxUses: t.MaxUses, Uses: t.Uses,
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, LastUsedAt: t.LastUsedAt,
		RevokedAt: t.RevokedAt, State: admin.InitialTokenState(t, now)}
}

// runInitialTokens is `kycvs clients initial-token`: the initial access
// tokens with which verifying entities register themselves (RFC 7591).
func runInitialTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{initialTokensUsage}
	}
	verb, rest := args[0], args[1:]
	if verb != "create" && verb != "list" && verb != "revoke" {
		return usageError{initialTokensUsage}
	}
	fs := newFlagSet("clients initial-token "+verb, stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	uses := fs.Int("uses", 1, fmt.Sprintf("create: how many clients the token may register (1 to %d)", admin.MaxInitialTokenUses))
	expires := fs.Duration("expires", admin.DefaultInitialTokenTTL, "create: how long the token works (at most 720h)")
	name := fs.String("name", "", "create: whom the token is for, for the list and the audit log")
	pos, err := parseFlags(fs, rest, btoi(verb == "revoke"))
	if err != nil {
		return err
	}
	id := first(pos)
	if verb == "revoke" && id == "" {
		return usageError{"usage: kycvs clients initial-token revoke TOKEN_ID"}
	}
	st, err := openCLIStore(ctx, &d, verb == "create")
	if err != nil {
		return err
	}
	defer st.Close()
	c := newCLICommand(st, d.Secret, id, *asJSON, stdout)
	now := time.Now()
	switch verb {
	case "create":
		return c.initialTokensCreate(ctx, *name, *uses, *expires, now)
	case "list":
		return c.initialTokensList(ctx, now)
	case "revoke":
		return c.initialTokensRevoke(ctx)
	}
	return usageError{initialTokensUsage}
}

// initialTokensCreate makes a token and prints it, once.
func (c cliCommand) initialTokensCreate(ctx context.Context, name string, uses int, expires time.Duration, now time.Time) error {
	full, rec, err := c.svc.CreateInitialToken(ctx, c.actor, name, uses, expires)
	if err != nil {
		return err
	}
	if c.asJSON {
		return writeJSON(c.stdout, toInitialTokenJSON(rec, full, now))
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "initial_access_token\t%s\t(shown once: hand it over now)\n", full)
	fmt.Fprintf(tw, "id\t%s\n", rec.ID)
	fmt.Fprintf(tw, "uses\t%d\n", rec.MaxUses)
	fmt.Fprintf(tw, "expires_at\t%s\n", rec.ExpiresAt.Format(time.RFC3339))
	return tw.Flush()
}

func (c cliCommand) initialTokensList(ctx context.Context, now time.Time) error {
	ts, err := c.svc.ListInitialTokens(ctx)
	if err != nil {
		return err
	}
	if c.asJSON {
		out := make([]initialTokenJSON, len(ts))
		for i := range ts {
			out[i] = toInitialTokenJSON(&ts[i], "", now)
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN ID\tNAME\tUSES\tEXPIRES\tSTATE")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", t.ID, t.Name, t.Uses, t.MaxUses, t.ExpiresAt.Format(time.RFC3339), admin.InitialTokenState(&t, now))
	}
	return tw.Flush()
}

func (c cliCommand) initialTokensRevoke(ctx context.Context) error {
	_, err := c.svc.RevokeInitialToken(ctx, c.actor, c.id)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("initial access token %s is already revoked", c.id)
	case err != nil:
		return notFoundAs(err, "initial access token", c.id)
	}
	fmt.Fprintf(c.stdout, "revoked initial access token %s: it registers no more clients; clients it registered stay\n", c.id)
	return nil
}
