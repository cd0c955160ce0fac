-- The dashboard's OTP funnel per client: otp_tallies gain the client whose
-- sign-in or KYC-VS transaction the change belongs to ('' for the admin
-- console's own sign-ins and for rows written before this migration) and
-- declined, a person who had the code and then refused to share.

-- +goose Up
ALTER TABLE otp_tallies ADD COLUMN client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE otp_tallies ADD COLUMN declined INTEGER NOT NULL DEFAULT 0;
CREATE INDEX otp_tallies_client_idx ON otp_tallies (client_id, created_at);

-- +goose Down
DROP INDEX otp_tallies_client_idx;
ALTER TABLE otp_tallies DROP COLUMN declined;
ALTER TABLE otp_tallies DROP COLUMN client_id;
