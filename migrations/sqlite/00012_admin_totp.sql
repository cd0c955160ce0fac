-- A second factor for the admin console: TOTP (RFC 6238), enrolled from
-- the CLI. admin_users.totp_secret is the shared secret, encrypted with
-- AES-256-GCM under a key derived from the server secret (NULL: not
-- enrolled). totp_last_step is the last time step a code was accepted for,
-- so the same code cannot be used twice within its window.
--
-- admin_logins.totp_tries counts wrong TOTP codes of one sign-in, apart
-- from its wrong SMS codes.

-- +goose Up
ALTER TABLE admin_users ADD COLUMN totp_secret BLOB;
ALTER TABLE admin_users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE admin_logins ADD COLUMN totp_tries INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE admin_logins DROP COLUMN totp_tries;
ALTER TABLE admin_users DROP COLUMN totp_last_step;
ALTER TABLE admin_users DROP COLUMN totp_secret;
