-- RP-Initiated Logout 1.0: the addresses a client may return a person to
-- after sign-out are registered apart from its redirect URIs, so a logout
-- landing page need not be able to receive codes. Existing clients keep
-- working: their redirect URIs, which logout accepted until now, are
-- copied.

-- +goose Up
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
UPDATE clients SET post_logout_redirect_uris = redirect_uris;

-- +goose Down
ALTER TABLE clients DROP COLUMN post_logout_redirect_uris;
