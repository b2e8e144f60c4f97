-- +goose Up
-- The verification link's token, by its SHA-256 (the token itself is in
-- CustomerRegistered, for the welcome email): the inline read model that finds
-- the customer of a link. Customers registered before this table are added at
-- start (Module.Start) from their events.
CREATE TABLE customer_email_tokens (
    token_hash  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL
);
-- For the start's check that every customer has a row.
CREATE INDEX customer_email_tokens_customer ON customer_email_tokens (customer_id);

-- +goose Down
DROP TABLE customer_email_tokens;
