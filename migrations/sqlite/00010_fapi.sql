-- High-assurance clients: pushed authorization requests (RFC 9126),
-- private_key_jwt (RFC 7523), DPoP (RFC 9449) and the FAPI 2.0 profile.
--
-- clients: require_pushed_authorization_requests refuses authorization
-- requests that were not pushed first; jwks (a JSON JWK Set, '' for none)
-- or jwks_uri holds the public keys of a private_key_jwt client;
-- token_endpoint_auth_signing_alg pins the algorithm of its assertions ('':
-- any supported); dpop_bound_access_tokens refuses token requests without
-- a DPoP proof; profile names a set of rules the client is held to ('' or
-- 'fapi2').
--
-- jwt_ids: the jti of every client assertion and DPoP proof accepted, until
-- it expires, so a replay is refused by every server process. kind
-- separates the two; jti is scoped by the issuer of the JWT.
--
-- +goose Up
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN token_endpoint_auth_signing_alg TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN profile TEXT NOT NULL DEFAULT '';

CREATE TABLE jwt_ids (
    kind       TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    PRIMARY KEY (kind, jti)
);
CREATE INDEX jwt_ids_expires_at_idx ON jwt_ids (expires_at);

-- +goose Down
DROP TABLE jwt_ids;
ALTER TABLE clients DROP COLUMN profile;
ALTER TABLE clients DROP COLUMN dpop_bound_access_tokens;
ALTER TABLE clients DROP COLUMN token_endpoint_auth_signing_alg;
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
ALTER TABLE clients DROP COLUMN require_pushed_authorization_requests;
