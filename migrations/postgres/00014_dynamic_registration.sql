-- Dynamic client registration (RFC 7591, RFC 7592).
--
-- initial_access_tokens: what an admin hands a verifying entity so it can
-- register itself. id is the token's public part (safe to list and log),
-- hash the keyed SHA-256 of the whole token, which is shown once and never
-- stored. A token registers at most max_uses clients (uses counts them)
-- until expires_at; revoked_at stops it at once and is never cleared.
--
-- clients: registration_token_hash is the keyed SHA-256 of the client's
-- registration access token (RFC 7592), which reads, updates and deletes
-- the client's own registration; empty for clients an admin made.
-- registered_with names the initial access token a client registered with.

-- +goose Up
CREATE TABLE initial_access_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL DEFAULT '',
    hash         BYTEA NOT NULL,
    max_uses     INTEGER NOT NULL,
    uses         INTEGER NOT NULL DEFAULT 0,
    expires_at   TIMESTAMPTZ NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
ALTER TABLE clients ADD COLUMN registration_token_hash BYTEA;
ALTER TABLE clients ADD COLUMN registered_with TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN registered_with;
ALTER TABLE clients DROP COLUMN registration_token_hash;
DROP TABLE initial_access_tokens;
