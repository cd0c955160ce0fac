-- A token row names the person its grant is for, so userinfo reads the
-- person, with doses, in the statement that reads its access token
-- (Store.GetTokenWithPerson). Rows written before have '' and are
-- answered with a second read.

-- +goose Up
ALTER TABLE oauth_tokens ADD COLUMN beneficiary_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE oauth_tokens DROP COLUMN beneficiary_id;
