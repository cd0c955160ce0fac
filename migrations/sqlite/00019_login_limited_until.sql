-- A sign-in refused by an OTP send limit keeps until when the limit
-- holds, so the page it redirects to (post/redirect/get) says so with
-- the right Retry-After, and a reload sends nothing. NULL: never refused.

-- +goose Up
ALTER TABLE login_requests ADD COLUMN limited_until DATETIME;

-- +goose Down
ALTER TABLE login_requests DROP COLUMN limited_until;
