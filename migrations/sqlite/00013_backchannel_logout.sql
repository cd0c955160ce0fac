-- OpenID Connect Back-Channel Logout 1.0.
--
-- clients: backchannel_logout_uri is where the client receives logout
-- tokens ('' for none); backchannel_logout_session_required says it needs
-- sid in them (and so in ID tokens).
--
-- rp_sessions: one row per client that received a code in one browser
-- session of kycvs (sid), with the sub that client knows, so a logout
-- (the person's, an admin's, a withdrawn grant, a disabled client) knows
-- whom to tell. Kept until the session ends, or the refresh tokens of an
-- offline_access grant expire.
--
-- logout_deliveries: logout tokens still to be delivered. A row stays
-- until its token is accepted or it is too old, so a restart loses none.
-- next_attempt_at is also the lease: a process that takes a row moves it
-- ahead by the lease, so another process takes it only if the first died.
--
-- +goose Up
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE rp_sessions (
    sid            TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    subject        TEXT NOT NULL,
    beneficiary_id TEXT NOT NULL,
    created_at     DATETIME NOT NULL,
    expires_at     DATETIME NOT NULL,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX rp_sessions_client_idx ON rp_sessions (client_id);
CREATE INDEX rp_sessions_beneficiary_idx ON rp_sessions (beneficiary_id);
CREATE INDEX rp_sessions_expires_idx ON rp_sessions (expires_at);

CREATE TABLE logout_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    sid             TEXT NOT NULL,
    created_at      DATETIME NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL,
    last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX logout_deliveries_next_idx ON logout_deliveries (next_attempt_at);

CREATE INDEX sessions_beneficiary_idx ON sessions (beneficiary_id);
CREATE INDEX oauth_tokens_grant_idx ON oauth_tokens (client_id, subject);

-- +goose Down
DROP INDEX oauth_tokens_grant_idx;
DROP INDEX sessions_beneficiary_idx;
DROP TABLE logout_deliveries;
DROP TABLE rp_sessions;
ALTER TABLE clients DROP COLUMN backchannel_logout_session_required;
ALTER TABLE clients DROP COLUMN backchannel_logout_uri;
