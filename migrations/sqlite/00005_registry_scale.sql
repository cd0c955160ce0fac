-- The registry at national scale.
--
-- beneficiaries.content_hash: a digest of what an import writes for a
-- beneficiary (mobile, name, year of birth, doses; see store.ContentHash),
-- so a re-import compares one column instead of rewriting unchanged rows.
-- Rows written before this migration have an empty hash and count as
-- changed on their next import.
--
-- beneficiaries_mobile_name_idx serves sign-in's lookup by mobile and
-- normalised name, and lookups by mobile alone (its leading column), which
-- the old mobile index did; one index fewer to maintain on every import.

-- +goose Up
ALTER TABLE beneficiaries ADD COLUMN content_hash BLOB NOT NULL DEFAULT x'';
CREATE INDEX beneficiaries_mobile_name_idx ON beneficiaries (mobile, name_key);
DROP INDEX beneficiaries_mobile_idx;

-- +goose Down
CREATE INDEX beneficiaries_mobile_idx ON beneficiaries (mobile);
DROP INDEX beneficiaries_mobile_name_idx;
ALTER TABLE beneficiaries DROP COLUMN content_hash;
