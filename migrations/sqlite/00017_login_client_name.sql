-- The client's display name is kept on the login request when oauth
-- creates it, so the sign-in pages show it without reading the client on
-- every page. Rows created before this migration have '' and the pages
-- read the client as before.

-- +goose Up
ALTER TABLE login_requests ADD COLUMN client_name TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE login_requests DROP COLUMN client_name;
