-- The fully_vaccinated scope discloses only a yes or no; the disclosure
-- record keeps that boolean (and no status, which was not disclosed).

-- +goose Up
ALTER TABLE disclosures ADD COLUMN fully_vaccinated BOOLEAN;

-- +goose Down
ALTER TABLE disclosures DROP COLUMN fully_vaccinated;
