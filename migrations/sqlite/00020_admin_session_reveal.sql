-- A secret made in the admin console (a client secret, a KYC-VS API key,
-- an initial access token) is shown once on the page the form redirects
-- to (post/redirect/get). Until then it waits on the admin's session,
-- sealed (AES-256-GCM under a key derived from the server secret), under
-- the random reveal_id that page's URL names; showing it clears both.

-- +goose Up
ALTER TABLE admin_sessions ADD COLUMN reveal_id TEXT NOT NULL DEFAULT '';
ALTER TABLE admin_sessions ADD COLUMN reveal BLOB;

-- +goose Down
ALTER TABLE admin_sessions DROP COLUMN reveal;
ALTER TABLE admin_sessions DROP COLUMN reveal_id;
