-- One row per dose: a second "dose 1" for the same beneficiary is bad data
-- (the status is computed from the highest dose number), so an import that
-- carries one fails as a whole. The unique index also serves lookups by
-- beneficiary, which the old index did.

-- +goose Up
CREATE UNIQUE INDEX doses_beneficiary_number_idx ON doses (beneficiary_id, dose_number);
DROP INDEX doses_beneficiary_idx;

-- +goose Down
CREATE INDEX doses_beneficiary_idx ON doses (beneficiary_id);
DROP INDEX doses_beneficiary_number_idx;
