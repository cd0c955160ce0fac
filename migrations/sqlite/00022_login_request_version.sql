-- A login request's version counts its writes, so a sign-in step that
-- has just read the request can write its change with one UPDATE that
-- holds only while nobody wrote in between (Store.UpdateLoginRequestFrom),
-- instead of a transaction that reads the row again, locked.

-- +goose Up
ALTER TABLE login_requests ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE login_requests DROP COLUMN version;
