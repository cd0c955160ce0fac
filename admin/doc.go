// Package admin owns the administration of kycvs: the admin API (JSON
// under /admin/v1, described by the OpenAPI 3 document it serves at
// /admin/v1/openapi.json), the admin console (server-rendered pages under
// /admin), admin API keys, admin users, roles, and the audit log of every
// admin action.
//
// Three doors, one Service. The API, the console and the command line
// (cmd/kycvs: clients, keys, registry, admin) all change things through
// Service, which writes each change and its audit entry (store.AuditEntry)
// in one transaction: who (an API key, a console user, or the CLI's
// user@host), when, from where, what, and what changed, never a secret, a
// hash, an OTP or a full mobile number. Reads of personal data (a
// registry lookup, a disclosure query or export) are audited too.
//
// Authentication. The API takes admin API keys ("Authorization: Bearer
// kycvsadm_<id>_<secret>"), made with `kycvs admin keys create --name N
// --role R`, shown once, stored as a keyed SHA-256 (256 random bits need
// no slow KDF), revocable. The console signs in admin users (`kycvs admin
// users add --mobile M --name N --role R`) with an OTP sent through the
// same otp.Service as the verification flow, so the same code policy,
// send limits and counters apply; a mobile that belongs to no admin gets
// the same pages and limits and no SMS (its code is withheld: no
// enumeration). A console session has its
// own cookie (kycvs_admin: HttpOnly, SameSite=Strict, Path=/admin, stored
// hashed), an idle timeout (15 minutes) and a lifetime (12 hours); forms
// carry web.CSRF's token.
//
// Roles (roles.go): viewer reads everything; client-admin also manages
// clients, their secrets and their KYC-VS API keys; registry-admin also
// manages the registry; owner also rotates and retires signing keys.
// Every route names the one Permission it needs (API.Routes,
// Console.ConsoleRoutes), checked before its handler runs. Admin keys and
// users themselves are managed only from the command line, by whoever
// holds the database and the server secret.
//
// The API answers every error as JSON {"error": code, "message": text,
// "details": [...]} with a stable code (Code*), never a page; it runs on
// an engine of its own (so unknown routes answer JSON and a registry CSV
// may exceed the forms' body limit) that cmd/kycvs mounts at APIPrefix.
//
// Policies that live elsewhere and that the admin surfaces use: secret
// rotation with a grace period (oauth.Clients.RotateSecretWithGrace, the
// old hash kept as a rotated hash fosite accepts until it expires) and the
// signing key lifecycle (oauth.Keys: scheduled rotation, publish-until
// after retirement, withdrawal).
package admin
