package admin

import (
	"slices"
	"strings"
)

// Role is what an admin API key or console user may do. Every route of the
// API and the console names the Permission it needs, and RequirePermission
// checks it against the caller's role before the handler runs.
type Role string

// The roles. viewer reads everything an admin can see; client-admin also
// manages clients (create, edit, disable, delete, rotate secrets, KYC-VS API
// keys); registry-admin also manages the vaccination registry; owner does
// all of that and manages signing keys. Admin API keys and console users
// are created only with the command line, by someone with the database.
const (
	RoleViewer        Role = "viewer"
	RoleClientAdmin   Role = "client-admin"
	RoleRegistryAdmin Role = "registry-admin"
	RoleOwner         Role = "owner"
)

// Roles lists every role, least to most powerful.
var Roles = []Role{RoleViewer, RoleClientAdmin, RoleRegistryAdmin, RoleOwner}

// Permission is one thing a route does.
type Permission string

const (
	// PermRead: read clients, keys, the registry, disclosures, the audit
	// log and the dashboard.
	PermRead Permission = "read"
	// PermClients: change clients and their secrets.
	PermClients Permission = "clients:write"
	// PermRegistry: change the vaccination registry.
	PermRegistry Permission = "registry:write"
	// PermKeys: rotate and retire signing keys.
	PermKeys Permission = "keys:write"
)

var grants = map[Role][]Permission{
	RoleViewer:        {PermRead},
	RoleClientAdmin:   {PermRead, PermClients},
	RoleRegistryAdmin: {PermRead, PermRegistry},
	RoleOwner:         {PermRead, PermClients, PermRegistry, PermKeys},
}

// ParseRole returns the role named s, or false.
func ParseRole(s string) (Role, bool) {
	r := Role(strings.TrimSpace(s))
	_, ok := grants[r]
	return r, ok
}

// Can reports whether the role has p. An unknown role has nothing.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }

// Permissions lists what the role may do.
func (r Role) Permissions() []Permission { return slices.Clone(grants[r]) }

// roleNames is the roles for messages: "viewer, client-admin, ...".
func roleNames() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}
