-- +goose Up
CREATE TABLE customers (
    customer_id   TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    registered_at TEXT NOT NULL
);

-- Credentials are written in the same transaction as CustomerRegistered but are
-- not a projection: hashes are secrets and never enter the (published) log.
CREATE TABLE customer_credentials (
    customer_id   TEXT PRIMARY KEY,
    email_key     TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Sessions: only the SHA-256 of each token is stored.
CREATE TABLE customer_sessions (
    token_hash  TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX customer_sessions_customer ON customer_sessions (customer_id);

-- +goose Down
DROP TABLE customer_sessions;
DROP TABLE customer_credentials;
DROP TABLE customers;
