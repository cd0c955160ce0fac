-- kycvs_expect_changed fails the statement that calls it when a
-- conditional write changed no row. Writes sent together in one pipeline
-- run in one implicit transaction (Store.WriteTogether): a write that
-- must find its row as it was read (a login request at the version read,
-- an approved request about to be used) raises this error, and the
-- whole pipeline rolls back, without a BEGIN and a COMMIT of its own.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION kycvs_expect_changed(changed bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF changed = 0 THEN
		RAISE EXCEPTION 'kycvs: the row changed since it was read' USING ERRCODE = 'KY409';
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION kycvs_expect_changed(bigint);
