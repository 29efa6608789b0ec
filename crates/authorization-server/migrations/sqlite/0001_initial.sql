-- Cognito-compatible authorization server: user pools and what hangs off them.
-- Times are Unix milliseconds. JSON documents are stored as text.

CREATE TABLE user_pools (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);

-- RSA-2048 signing keys; the highest seq of a pool signs, every key is published.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY NOT NULL,
    pool_id    TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    pkcs8      BLOB NOT NULL,
    n          TEXT NOT NULL,
    e          TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (pool_id, seq)
);

-- App client ids are unique across pools: the token endpoint finds the pool from them.
CREATE TABLE app_clients (
    client_id   TEXT PRIMARY KEY NOT NULL,
    pool_id     TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret      TEXT,
    settings    TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL
);
CREATE INDEX app_clients_by_pool ON app_clients (pool_id, client_id);

CREATE TABLE resource_servers (
    pool_id    TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    identifier TEXT NOT NULL,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

-- A domain prefix is unique across all pools; a pool has at most one domain.
CREATE TABLE domains (
    domain     TEXT PRIMARY KEY NOT NULL,
    pool_id    TEXT NOT NULL UNIQUE REFERENCES user_pools (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL
);
