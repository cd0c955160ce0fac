-- PostgreSQL's 00023 adds kycvs_expect_changed for the writes sent
-- together in one pipeline. SQLite sends them one by one in a
-- transaction (Store.WriteTogether) and needs nothing: this keeps the
-- two dialects' versions in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
