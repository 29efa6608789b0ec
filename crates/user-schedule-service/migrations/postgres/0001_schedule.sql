-- Users become known with their first event; they are never deleted.
-- COLLATE "C": ids compare byte-wise, whatever the database's default collation.
CREATE TABLE users (
    id         TEXT   COLLATE "C" NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Times are nanoseconds since the Unix epoch (UTC), as in the SQLite schema, so both
-- backends order and compare exactly alike.
CREATE TABLE events (
    id         UUID   NOT NULL PRIMARY KEY,
    user_id    TEXT   COLLATE "C" NOT NULL REFERENCES users (id),
    title      TEXT   NOT NULL,
    notes      TEXT,
    starts_at  BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (version >= 1)
);

-- The list query walks a user's events in (starts_at, id) order: the keyset cursor.
CREATE INDEX events_by_user_start ON events (user_id, starts_at, id);
