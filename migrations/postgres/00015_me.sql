-- The person's own page, /me: a sign-in waiting for its code, then the
-- short session it starts, one row each (the row of a sign-in is deleted
-- when its session begins). id is the SHA-256 of the cookie value, so a
-- read of the database yields no usable cookie. An index lets /me find the
-- KYC-VS API status tokens still valid for the people on one mobile.

-- +goose Up
CREATE TABLE me_sessions (
    id             TEXT PRIMARY KEY,
    state          TEXT NOT NULL,
    mobile         TEXT NOT NULL,
    otp_hash       BYTEA,
    otp_sent_at    TIMESTAMPTZ,
    otp_expires_at TIMESTAMPTZ,
    otp_tries      INTEGER NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX me_sessions_expires_idx ON me_sessions (expires_at);
CREATE INDEX api_transactions_beneficiary_idx ON api_transactions (beneficiary_id, expires_at);

-- +goose Down
DROP INDEX api_transactions_beneficiary_idx;
DROP TABLE me_sessions;
