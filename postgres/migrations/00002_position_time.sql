-- es_position.at: the time of the last batch, set under the position lock:
-- events of a batch are recorded at it, so recorded_at never decreases along
-- the log. es_assert: fails the statement (and so the transaction) unless ok;
-- the one-round-trip batch checks its assumed stream versions with it.

-- +goose Up
ALTER TABLE es_position ADD COLUMN at TIMESTAMPTZ;

-- +goose StatementBegin
CREATE FUNCTION es_assert(ok boolean, msg text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'es: %', msg USING ERRCODE = 'P0001';
    END IF;
    RETURN true;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION es_assert(boolean, text);
ALTER TABLE es_position DROP COLUMN at;
