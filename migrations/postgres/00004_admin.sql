-- Administration: the admin API, the admin console and their audit log.
--
-- clients: contacts (JSON array of e-mail addresses) and rotated_secrets, a
-- JSON array of {"hash", "expires_at"}: the keyed hashes of secrets replaced
-- by a rotation that still authenticate the client until expires_at (the
-- grace period), so a verifying entity can roll out its new secret without
-- an outage.
--
-- signing_keys: activates_at and publish_until separate publishing a key in
-- the JWKS from signing with it. A key is published from created_at until
-- publish_until (NULL: while not retired); it signs from activates_at (NULL:
-- from created_at) until retired_at. A scheduled rotation publishes the new
-- key before it signs, so relying parties with a cached JWKS know it, and
-- keeps the old one published after it stops signing until every token it
-- signed has expired.
--
-- admin_keys: admin API keys. id is the public part, hash the keyed SHA-256
-- of the whole key, which is shown once.
--
-- admin_users: people who sign in to the admin console with an OTP sent to
-- their mobile (E.164, unique).
--
-- admin_logins: one console sign-in while its OTP is outstanding.
-- admin_sessions: a signed-in console browser; id is the SHA-256 of the
-- cookie. last_seen_at drives the idle timeout.
--
-- audit_log: every admin action: who (actor_type, actor_id, actor_name,
-- role), when, from where (ip), what (action, target_type, target_id) and
-- what changed (changes, JSON without secrets).
--
-- otp_tallies: counts of OTPs sent, accepted, refused and locked out per
-- channel, one row per change of an OTP's state, for the console's
-- dashboard; rows are kept 90 days.

-- +goose Up
ALTER TABLE clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN rotated_secrets TEXT NOT NULL DEFAULT '[]';
ALTER TABLE signing_keys ADD COLUMN activates_at TIMESTAMPTZ;
ALTER TABLE signing_keys ADD COLUMN publish_until TIMESTAMPTZ;

CREATE TABLE admin_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL DEFAULT '',
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);

CREATE TABLE admin_users (
    id         TEXT PRIMARY KEY,
    mobile     TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE admin_logins (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL DEFAULT '',
    mobile         TEXT NOT NULL,
    state          TEXT NOT NULL,
    otp_hash       BYTEA,
    otp_sent_at    TIMESTAMPTZ,
    otp_expires_at TIMESTAMPTZ,
    otp_tries      INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_logins_expires_idx ON admin_logins (expires_at);

CREATE TABLE admin_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES admin_users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX admin_sessions_expires_idx ON admin_sessions (expires_at);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_name  TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL DEFAULT '',
    ip          TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL DEFAULT '',
    target_id   TEXT NOT NULL DEFAULT '',
    changes     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at, id);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, at);

CREATE TABLE otp_tallies (
    id         BIGSERIAL PRIMARY KEY,
    channel    TEXT NOT NULL,
    sent       INTEGER NOT NULL DEFAULT 0,
    accepted   INTEGER NOT NULL DEFAULT 0,
    refused    INTEGER NOT NULL DEFAULT 0,
    locked     INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX otp_tallies_created_idx ON otp_tallies (created_at);

CREATE INDEX disclosures_status_idx ON disclosures (vaccination_status, created_at);

-- +goose Down
DROP INDEX disclosures_status_idx;
DROP TABLE otp_tallies;
DROP TABLE audit_log;
DROP TABLE admin_sessions;
DROP TABLE admin_logins;
DROP TABLE admin_users;
DROP TABLE admin_keys;
ALTER TABLE signing_keys DROP COLUMN publish_until;
ALTER TABLE signing_keys DROP COLUMN activates_at;
ALTER TABLE clients DROP COLUMN rotated_secrets;
ALTER TABLE clients DROP COLUMN contacts;
