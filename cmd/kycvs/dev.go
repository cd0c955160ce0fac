package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/demo"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

// demoClientID is the built-in demo relying party of `serve --dev`.
const demoClientID = "kycvs-demo"

// setupDev loads the demo registry, registers the demo client with a fresh
// secret (the demo relying party in this process holds it), and prints what
// a newcomer needs to try a verification.
func setupDev(ctx context.Context, cfg serveConfig, st *store.Store, stdout io.Writer) (*demo.RP, error) {
	people := claims.DemoRegistry()
	if _, err := st.ReplaceBeneficiaries(ctx, people); err != nil {
		return nil, fmt.Errorf("load demo registry: %w", err)
	}
	clients := oauth.NewClients(st, []byte(cfg.Secret))
	redirect := cfg.Issuer + demo.CallbackPath
	spec := oauth.ClientSpec{
		ID:           demoClientID,
		Name:         "Demo Airlines",
		RedirectURIs: []string{redirect},
		Scopes:       []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeProfile, claims.ScopePhone},
	}
	_, secret, err := clients.Create(ctx, spec)
	if errors.Is(err, store.ErrAlreadyExists) {
		// Keep the client (its subjects stay stable); renew what may have
		// changed since the last run: the issuer's port and the secret.
		if _, err := st.UpdateClient(ctx, demoClientID, func(c *store.Client) error {
			c.RedirectURIs = store.StringList{redirect}
			c.Disabled = false
			return nil
		}); err != nil {
			return nil, err
		}
		secret, err = clients.RotateSecret(ctx, demoClientID)
	}
	if err != nil {
		return nil, fmt.Errorf("register demo client: %w", err)
	}
	rp := demo.New(demo.Config{
		Issuer:       cfg.Issuer,
		ClientID:     demoClientID,
		ClientSecret: secret,
		RedirectURL:  redirect,
		Scopes:       []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus},
	})

	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nkycvs development mode\n\n")
	fmt.Fprintf(w, "  Try a verification:\t%s%s\n", cfg.Issuer, demo.HomePath)
	fmt.Fprintf(w, "  Discovery:\t%s%s\n", cfg.Issuer, oauth.PathDiscovery)
	fmt.Fprintf(w, "  Demo client:\tclient_id=%s client_secret=%s\n", demoClientID, secret)
	fmt.Fprintf(w, "  OTPs:\tin this log and in %s\n", filepath.Join(cfg.DataDir, "sms.jsonl"))
	fmt.Fprintf(w, "\n  Demo registry (mobile, name, status):\n")
	for _, b := range people {
		fmt.Fprintf(w, "    %s\t%s\t%d %s\n", strings.TrimPrefix(b.Mobile, "+91"), b.Name, claims.StatusFromDoses(b.Doses), claims.StatusFromDoses(b.Doses))
	}
	fmt.Fprintln(w)
	w.Flush()
	return rp, nil
}
