package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/claims"
	"github.com/kycvs/kycvs/demo"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
	"github.com/kycvs/kycvs/web"
)

// demoClientID is the built-in demo relying party of `serve --dev`.
const demoClientID = "kycvs-demo"

// devDemo is Demo Airlines, served by `serve --dev` on a listener of its
// own: a different origin from kycvs, as every relying party's is, so the
// button's cross-origin paths (script integrity, postMessage origins) run
// in development exactly as in production.
type devDemo struct {
	URL     string
	handler http.Handler
	ln      net.Listener
	srv     *http.Server
}

// serve answers on the demo's listener until close.
func (d *devDemo) serve() {
	_ = d.srv.Serve(d.ln) // returns when closed
}

func (d *devDemo) close() {
	_ = d.srv.Close()
	_ = d.ln.Close()
}

// setupDev loads the demo registry, listens for Demo Airlines on
// --demo-addr, registers it as the demo client with a fresh secret (the
// airline in this process holds it), and prints what a newcomer needs to
// try a verification.
func setupDev(ctx context.Context, cfg serveConfig, st *store.Store, stdout io.Writer) (*devDemo, error) {
	people := claims.DemoRegistry()
	if _, err := st.ReplaceBeneficiaries(ctx, people); err != nil {
		return nil, fmt.Errorf("load demo registry: %w", err)
	}
	addr := cfg.DemoAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo airline: %w (choose another --demo-addr)", err)
	}
	ok := false
	defer func() {
		if !ok {
			ln.Close()
		}
	}()
	// The airline's origin: the issuer's host name on the demo's port.
	iss, err := url.Parse(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	base := "http://" + net.JoinHostPort(iss.Hostname(), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	// profile too: the airline shows whose status it is, as kycvs signed it.
	airline := demo.Config{Issuer: cfg.Issuer, ClientID: demoClientID, BaseURL: base,
		Scopes: []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeProfile}}

	clients := oauth.NewClients(st, []byte(cfg.Secret))
	spec := oauth.ClientSpec{
		ID:           demoClientID,
		Name:         "Demo Airlines",
		RedirectURIs: airline.RedirectURIs(),
		Scopes:       []string{claims.ScopeOpenID, claims.ScopeVaccinationStatus, claims.ScopeProfile, claims.ScopePhone},
	}
	_, secret, err := clients.Create(ctx, spec)
	if errors.Is(err, store.ErrAlreadyExists) {
		// Keep the client (its subjects stay stable); renew what may have
		// changed since the last run: the ports and the secret.
		if _, err := st.UpdateClient(ctx, demoClientID, func(c *store.Client) error {
			c.RedirectURIs = store.StringList(spec.RedirectURIs)
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
	airline.ClientSecret = secret
	// An owner for the admin console, signing in with a code like anyone.
	if _, err := cliService(st, cfg.Secret, nil).AddAdminUser(ctx, admin.CLIActor("serve", "dev"), devAdminMobile, "Dev Admin", admin.RoleOwner); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return nil, fmt.Errorf("add the dev admin: %w", err)
	}
	d := &devDemo{URL: base, handler: demo.New(airline), ln: ln}
	d.srv = &http.Server{Handler: d.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}

	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nkycvs development mode\n\n")
	fmt.Fprintf(w, "  Try a verification:\t%s%s\t(Demo Airlines, a relying party on its own origin)\n", base, demo.HomePath)
	fmt.Fprintf(w, "  Discovery:\t%s%s\n", cfg.Issuer, oauth.PathDiscovery)
	fmt.Fprintf(w, "  Button script:\t%s%s\n", cfg.Issuer, web.ButtonPath)
	fmt.Fprintf(w, "  Its integrity:\t%s\n", web.ButtonIntegrity())
	fmt.Fprintf(w, "  Demo client:\tclient_id=%s client_secret=%s\n", demoClientID, secret)
	fmt.Fprintf(w, "  Admin console:\t%s/admin\t(mobile %s, an owner)\n", cfg.Issuer, devAdminMobile)
	fmt.Fprintf(w, "  OTPs:\tin this log and in %s\n", filepath.Join(cfg.DataDir, "sms.jsonl"))
	fmt.Fprintf(w, "\n  Demo registry (mobile, name, status):\n")
	for _, b := range people {
		fmt.Fprintf(w, "    %s\t%s\t%d %s\n", strings.TrimPrefix(b.Mobile, "+91"), b.Name, claims.StatusFromDoses(b.Doses), claims.StatusFromDoses(b.Doses))
	}
	fmt.Fprintln(w)
	w.Flush()
	ok = true
	return d, nil
}

// devAdminMobile is the dev admin's mobile, outside the demo registry's.
const devAdminMobile = "9999900009"
