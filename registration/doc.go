// Package registration serves dynamic client registration: the
// registration endpoint of RFC 7591 (POST oauth.PathRegister, published in
// discovery as registration_endpoint) and the client configuration
// endpoint of RFC 7592 (GET, PUT and DELETE at oauth.PathRegister/{id}).
//
// Policies:
//
//   - Registration needs an initial access token an admin issued (kycvs
//     clients initial-token create, the admin API, the console), sent as
//     "Authorization: Bearer"; it registers a limited number of clients
//     until it expires, and a refused registration does not use it up.
//   - The metadata is translated into an oauth.ClientSpec and goes through
//     admin.Service to oauth.Clients, the one path every client takes, so
//     a registered client is held to the same rules as one an admin made
//     and can do no more: the scopes the server knows, no client_id of its
//     own choosing, no profile. Unknown metadata is ignored (RFC 7591 2);
//     a bad redirect URI is invalid_redirect_uri, any other bad value
//     invalid_client_metadata, 400 with a JSON body naming every problem.
//   - The response carries a registration access token, shown once and
//     stored as a keyed hash; with it the client reads, replaces and
//     deletes its own registration. Since only the hash is kept, every
//     successful read and replacement answers with a new token (RFC 7592
//     3 requires one in each answer) and the one presented stops working
//     in the same transaction; of two requests racing with one token, one
//     fails. A refused replacement keeps the token. A wrong token, an
//     unknown client and a disabled one get the same 401 invalid_token,
//     so the endpoint never tells whether a client exists.
//   - Every registration, update, deletion and token replacement on a
//     read is in the audit log, with the initial access token or the
//     client as its actor.
//   - Bodies are held to MaxBodyBytes, and every request counts against a
//     per-IP limit in the database (store.RecordOTPSend), so several
//     server processes share it.
package registration
