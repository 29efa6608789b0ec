-- Users become known with their first event; they are never deleted.
CREATE TABLE users (
    id         TEXT    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

-- Times are nanoseconds since the Unix epoch (UTC); ids are lowercase hyphenated UUIDs.
CREATE TABLE events (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id),
    title      TEXT    NOT NULL,
    notes      TEXT,
    starts_at  INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (version >= 1)
) STRICT;

-- The list query walks a user's events in (starts_at, id) order: the keyset cursor.
CREATE INDEX events_by_user_start ON events (user_id, starts_at, id);
