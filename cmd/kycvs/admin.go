package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/kycvs/kycvs/admin"
	"github.com/kycvs/kycvs/kycvsapi"
	"github.com/kycvs/kycvs/oauth"
	"github.com/kycvs/kycvs/store"
)

const adminUsage = `usage:
  kycvs admin keys create --name N --role R [--json]     an admin API key (shown once)
  kycvs admin keys list [--json]
  kycvs admin keys revoke KEY_ID
  kycvs admin users add --mobile M --name N --role R [--json]   a console user (signs in by OTP)
  kycvs admin users list [--json]
  kycvs admin users set-role MOBILE|ID --role R
  kycvs admin users remove MOBILE|ID
  kycvs admin totp enroll MOBILE|ID [--json]   an authenticator for the console (secret shown once)
  kycvs admin totp remove MOBILE|ID
roles: viewer, client-admin, registry-admin, owner`

// cliActor is who the audit log says made a command-line change: the
// operating-system user and the host.
func cliActor() admin.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return admin.CLIActor(name, host)
}

// cliService is the admin service for a command: every change it makes is
// audited as the CLI's. keys is nil unless the command rotates keys.
func cliService(st *store.Store, secret string, keys *oauth.Keys) *admin.Service {
	s := []byte(secret)
	return admin.NewService(st, s, oauth.NewClients(st, s), keys, kycvsapi.NewAPIKeys(st, s), nil)
}

// openCLIStore resolves the database flags, opens the database and checks
// its schema; the caller closes it.
func openCLIStore(ctx context.Context, d *dbFlags, needSecret bool) (*store.Store, error) {
	if err := d.resolve(needSecret); err != nil {
		return nil, err
	}
	st, err := openStore(ctx, d.DatabaseURL, false)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, st); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// cliCommand is what one administrative verb works with once its command
// line is parsed: the open database, the admin service that audits its
// changes as the CLI's, the positional ID, and where and how to print.
type cliCommand struct {
	st     *store.Store
	svc    *admin.Service
	actor  admin.Actor
	id     string
	asJSON bool
	stdout io.Writer
}

func newCLICommand(st *store.Store, secret, id string, asJSON bool, stdout io.Writer) cliCommand {
	return cliCommand{st: st, svc: cliService(st, secret, nil), actor: cliActor(), id: id, asJSON: asJSON, stdout: stdout}
}

func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return usageError{adminUsage}
	}
	what, verb, rest := args[0], args[1], args[2:]
	fs := newFlagSet("admin "+what+" "+verb, stderr)
	var d dbFlags
	d.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	name := fs.String("name", "", "a name for the key or the user")
	role := fs.String("role", "", "viewer, client-admin, registry-admin or owner")
	mobile := fs.String("mobile", "", "the user's mobile number (10 digits, or + and the country code)")
	takesID := verb == "set-role" || verb == "revoke" || verb == "remove" || what == "totp"
	pos, err := parseFlags(fs, rest, btoi(takesID))
	if err != nil {
		return err
	}
	id := first(pos)
	r, roleOK := admin.ParseRole(*role)
	command := what + " " + verb
	if err := checkAdminArgs(command, id, *name, *mobile, roleOK); err != nil {
		return err
	}
	st, err := openCLIStore(ctx, &d, command == "keys create" || command == "totp enroll")
	if err != nil {
		return err
	}
	defer st.Close()
	c := newCLICommand(st, d.Secret, id, *asJSON, stdout)
	switch command {
	case "keys create":
		return c.adminKeysCreate(ctx, *name, r)
	case "keys list":
		return c.adminKeysList(ctx)
	case "keys revoke":
		return c.adminKeysRevoke(ctx)
	case "users add":
		return c.adminUsersAdd(ctx, *mobile, *name, r)
	case "users list":
		return c.adminUsersList(ctx)
	case "users set-role":
		return c.adminUsersSetRole(ctx, r)
	case "users remove":
		return c.adminUsersRemove(ctx)
	case "totp enroll":
		return c.adminTOTPEnroll(ctx)
	case "totp remove":
		return c.adminTOTPRemove(ctx)
	}
	return usageError{adminUsage}
}

// checkAdminArgs is the usage error of an admin command (what and verb)
// that lacks an argument it needs or is unknown, or nil.
func checkAdminArgs(command, id, name, mobile string, roleOK bool) error {
	switch command {
	case "keys create":
		if name == "" || !roleOK {
			return usageError{"usage: kycvs admin keys create --name N --role viewer|client-admin|registry-admin|owner [--json]"}
		}
	case "users add":
		if name == "" || mobile == "" || !roleOK {
			return usageError{"usage: kycvs admin users add --mobile M --name N --role viewer|client-admin|registry-admin|owner [--json]"}
		}
	case "users set-role":
		if id == "" || !roleOK {
			return usageError{"usage: kycvs admin users set-role MOBILE|ID --role viewer|client-admin|registry-admin|owner"}
		}
	case "keys revoke", "users remove", "totp enroll", "totp remove":
		if id == "" {
			return usageError{fmt.Sprintf("usage: kycvs admin %s ID", command)}
		}
	case "keys list", "users list":
	default:
		return usageError{adminUsage}
	}
	return nil
}

func (c cliCommand) adminKeysCreate(ctx context.Context, name string, role admin.Role) error {
	full, k, err := c.svc.CreateAdminKey(ctx, c.actor, name, role)
	if err != nil {
		return err
	}
	if c.asJSON {
		return writeJSON(c.stdout, map[string]any{"api_key": full, "id": k.ID, "name": k.Name, "role": k.Role, "created_at": k.CreatedAt})
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "api_key\t%s\t(shown once: store it now)\n", full)
	fmt.Fprintf(tw, "id\t%s\nname\t%s\nrole\t%s\n", k.ID, k.Name, k.Role)
	return tw.Flush()
}

func (c cliCommand) adminKeysList(ctx context.Context) error {
	ks, err := c.st.ListAdminKeys(ctx)
	if err != nil {
		return err
	}
	if c.asJSON {
		out := make([]map[string]any, len(ks))
		for i, k := range ks {
			out[i] = map[string]any{"id": k.ID, "name": k.Name, "role": k.Role, "created_at": k.CreatedAt, "created_by": k.CreatedBy,
				"last_used_at": k.LastUsedAt, "revoked_at": k.RevokedAt}
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY ID\tNAME\tROLE\tCREATED\tLAST USED\tSTATE")
	for _, k := range ks {
		state, used := "active", "never"
		if k.RevokedAt != nil {
			state = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		if k.LastUsedAt != nil {
			used = k.LastUsedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.CreatedAt.Format(time.RFC3339), used, state)
	}
	return tw.Flush()
}

func (c cliCommand) adminKeysRevoke(ctx context.Context) error {
	err := c.svc.RevokeAdminKey(ctx, c.actor, c.id)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fmt.Errorf("admin API key %s is already revoked", c.id)
	case err != nil:
		return notFoundAs(err, "admin API key", c.id)
	}
	fmt.Fprintf(c.stdout, "revoked admin API key %s: it is refused from now on\n", c.id)
	return nil
}

func (c cliCommand) adminUsersAdd(ctx context.Context, mobile, name string, role admin.Role) error {
	u, err := c.svc.AddAdminUser(ctx, c.actor, mobile, name, role)
	if errors.Is(err, store.ErrAlreadyExists) {
		return fmt.Errorf("an admin user with mobile %s already exists", mobile)
	}
	if err != nil {
		return err
	}
	if c.asJSON {
		return writeJSON(c.stdout, userJSON(u))
	}
	fmt.Fprintf(c.stdout, "added %s (%s) as %s: they sign in at /admin with a code sent to %s\n", u.Name, u.ID, u.Role, u.Mobile)
	return nil
}

func (c cliCommand) adminUsersList(ctx context.Context) error {
	us, err := c.st.ListAdminUsers(ctx)
	if err != nil {
		return err
	}
	if c.asJSON {
		out := make([]map[string]any, len(us))
		for i := range us {
			out[i] = userJSON(&us[i])
		}
		return writeJSON(c.stdout, out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER ID\tNAME\tMOBILE\tROLE\tAUTHENTICATOR")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Mobile, u.Role, map[bool]string{true: "enrolled", false: "-"}[len(u.TOTPSecret) > 0])
	}
	return tw.Flush()
}

func (c cliCommand) adminUsersSetRole(ctx context.Context, role admin.Role) error {
	u, err := c.svc.SetAdminUserRole(ctx, c.actor, c.id, role)
	if err != nil {
		return notFoundAs(err, "admin user", c.id)
	}
	fmt.Fprintf(c.stdout, "%s is %s now\n", u.Name, u.Role)
	return nil
}

func (c cliCommand) adminUsersRemove(ctx context.Context) error {
	if err := c.svc.RemoveAdminUser(ctx, c.actor, c.id); err != nil {
		return notFoundAs(err, "admin user", c.id)
	}
	fmt.Fprintf(c.stdout, "removed admin user %s and ended their sessions\n", c.id)
	return nil
}

// adminTOTPEnroll prints the authenticator's secret, once.
func (c cliCommand) adminTOTPEnroll(ctx context.Context) error {
	e, err := c.svc.EnrollTOTP(ctx, c.actor, c.id)
	if err != nil {
		return notFoundAs(err, "admin user", c.id)
	}
	if c.asJSON {
		return writeJSON(c.stdout, map[string]any{"id": e.User.ID, "name": e.User.Name, "otpauth_uri": e.URI, "secret": e.Secret})
	}
	fmt.Fprintf(c.stdout, "authenticator enrolled for %s (%s)\n", e.User.Name, e.User.ID)
	fmt.Fprintf(c.stdout, "add it to an authenticator app, by this URI (as a QR code) or the secret; neither is shown again:\n")
	fmt.Fprintf(c.stdout, "  uri:    %s\n  secret: %s\n", e.URI, e.Secret)
	return nil
}

func (c cliCommand) adminTOTPRemove(ctx context.Context) error {
	err := c.svc.RemoveTOTP(ctx, c.actor, c.id)
	if errors.Is(err, admin.ErrNoTOTP) {
		return fmt.Errorf("admin user %s has no authenticator", c.id)
	}
	if err != nil {
		return notFoundAs(err, "admin user", c.id)
	}
	fmt.Fprintf(c.stdout, "authenticator removed for %s\n", c.id)
	return nil
}

func userJSON(u *store.AdminUser) map[string]any {
	return map[string]any{"id": u.ID, "mobile": u.Mobile, "name": u.Name, "role": u.Role, "created_at": u.CreatedAt, "authenticator": len(u.TOTPSecret) > 0}
}
