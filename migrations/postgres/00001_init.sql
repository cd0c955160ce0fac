-- +goose Up
CREATE TABLE clients (
    id                           TEXT PRIMARY KEY,
    name                         TEXT NOT NULL,
    secret_hash                  BYTEA,
    redirect_uris                TEXT NOT NULL DEFAULT '[]',
    scopes                       TEXT NOT NULL DEFAULT '[]',
    public                       BOOLEAN NOT NULL DEFAULT FALSE,
    token_endpoint_auth_method   TEXT NOT NULL DEFAULT '',
    id_token_signed_response_alg TEXT NOT NULL DEFAULT '',
    userinfo_signed_response_alg TEXT NOT NULL DEFAULT '',
    sector_identifier            TEXT NOT NULL DEFAULT '',
    logo_uri                     TEXT NOT NULL DEFAULT '',
    disabled                     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                   TIMESTAMPTZ NOT NULL,
    updated_at                   TIMESTAMPTZ NOT NULL
);
CREATE INDEX clients_name_idx ON clients (name);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    alg        TEXT NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);

CREATE TABLE beneficiaries (
    id            TEXT PRIMARY KEY,
    mobile        TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    year_of_birth INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX beneficiaries_mobile_idx ON beneficiaries (mobile);

CREATE TABLE doses (
    id             BIGSERIAL PRIMARY KEY,
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries (id) ON DELETE CASCADE,
    vaccine        TEXT NOT NULL,
    dose_number    INTEGER NOT NULL,
    total_doses    INTEGER NOT NULL,
    dose_date      TEXT NOT NULL
);
CREATE INDEX doses_beneficiary_idx ON doses (beneficiary_id);

CREATE TABLE login_requests (
    id             TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    form           TEXT NOT NULL,
    scopes         TEXT NOT NULL DEFAULT '[]',
    claims         TEXT NOT NULL DEFAULT '[]',
    state          TEXT NOT NULL,
    login_hint     TEXT NOT NULL DEFAULT '',
    force_login    BOOLEAN NOT NULL DEFAULT FALSE,
    mobile         TEXT NOT NULL DEFAULT '',
    name           TEXT NOT NULL DEFAULT '',
    otp_hash       BYTEA,
    otp_sent_at    TIMESTAMPTZ,
    otp_expires_at TIMESTAMPTZ,
    otp_tries      INTEGER NOT NULL DEFAULT 0,
    otp_sends      INTEGER NOT NULL DEFAULT 0,
    beneficiary_id TEXT NOT NULL DEFAULT '',
    session_id     TEXT NOT NULL DEFAULT '',
    deny_reason    TEXT NOT NULL DEFAULT '',
    auth_time      TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_requests_expires_idx ON login_requests (expires_at);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    beneficiary_id TEXT NOT NULL,
    mobile         TEXT NOT NULL,
    name           TEXT NOT NULL,
    auth_time      TIMESTAMPTZ NOT NULL,
    grants         TEXT NOT NULL DEFAULT '{}',
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE otp_events (
    id         BIGSERIAL PRIMARY KEY,
    key        TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX otp_events_key_created_idx ON otp_events (key, created_at);
CREATE INDEX otp_events_created_idx ON otp_events (created_at);

CREATE TABLE oauth_tokens (
    kind             TEXT NOT NULL,
    signature        TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    requested_at     TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    scopes           TEXT NOT NULL DEFAULT '[]',
    granted_scopes   TEXT NOT NULL DEFAULT '[]',
    audience         TEXT NOT NULL DEFAULT '[]',
    granted_audience TEXT NOT NULL DEFAULT '[]',
    form             TEXT NOT NULL DEFAULT '',
    session          BYTEA NOT NULL,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (kind, signature)
);
CREATE INDEX oauth_tokens_request_idx ON oauth_tokens (request_id);
CREATE INDEX oauth_tokens_expires_idx ON oauth_tokens (expires_at);

CREATE TABLE disclosures (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL,
    beneficiary_id     TEXT NOT NULL,
    subject            TEXT NOT NULL,
    claims             TEXT NOT NULL DEFAULT '[]',
    vaccination_status INTEGER,
    channel            TEXT NOT NULL,
    request_id         TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX disclosures_client_idx ON disclosures (client_id, created_at);
CREATE INDEX disclosures_beneficiary_idx ON disclosures (beneficiary_id, created_at);
CREATE INDEX disclosures_created_idx ON disclosures (created_at);

-- +goose Down
DROP TABLE disclosures;
DROP TABLE oauth_tokens;
DROP TABLE otp_events;
DROP TABLE sessions;
DROP TABLE login_requests;
DROP TABLE doses;
DROP TABLE beneficiaries;
DROP TABLE signing_keys;
DROP TABLE clients;
