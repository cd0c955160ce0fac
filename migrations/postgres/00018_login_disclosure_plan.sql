-- The disclosure plan (which claims go into the ID token and which to
-- userinfo) is kept on the login request when oauth creates it, so the
-- resume releases exactly what the consent pages showed instead of working
-- it out again. Rows created before this migration have NULL and the
-- resume works the plan out from the stored request as before.

-- +goose Up
ALTER TABLE login_requests ADD COLUMN disclosure_plan TEXT;

-- +goose Down
ALTER TABLE login_requests DROP COLUMN disclosure_plan;
