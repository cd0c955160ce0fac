-- The KYC-VS compatible API (POST /api/v3/vaccination/generateOTP and
-- confirmOTP, GET /api/v3/vaccination/status).
--
-- api_keys: the keys verifying entities send in x-api-key. id is the key's
-- public part (shown in listings, safe to log); hash is the keyed SHA-256 of
-- the whole key, which is shown once and never stored. A client's keys go
-- with the client.
--
-- api_transactions: one generateOTP and what follows it (the txnId). A table
-- of its own rather than login_requests: a transaction has no authorization
-- request to replay and no browser, so it can never be opened as a sign-in
-- page or resumed by the OAuth side, and neither channel's states leak into
-- the other's. Rows die at expires_at and are removed by the clean-up.

-- +goose Up
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX api_keys_client_idx ON api_keys (client_id, created_at);

CREATE TABLE api_transactions (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    state          TEXT NOT NULL,
    mobile         TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',
    otp_hash       BYTEA,
    otp_sent_at    TIMESTAMPTZ,
    otp_expires_at TIMESTAMPTZ,
    otp_tries      INTEGER NOT NULL DEFAULT 0,
    beneficiary_id TEXT NOT NULL DEFAULT '',
    verified_at    TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX api_transactions_expires_idx ON api_transactions (expires_at);

-- +goose Down
DROP TABLE api_transactions;
DROP TABLE api_keys;
