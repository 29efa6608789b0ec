-- Articles. Timestamps are UTC unix microseconds; ids are lowercase hyphenated UUIDs,
-- which sort in the same order as PostgreSQL's uuid type.
CREATE TABLE articles (
    id                     TEXT    PRIMARY KEY NOT NULL,
    title                  TEXT    NOT NULL,
    body                   TEXT    NOT NULL,
    author_id              TEXT    NOT NULL,
    publish_at             INTEGER,
    status                 TEXT    NOT NULL CHECK (status IN ('draft', 'scheduled', 'published')),
    schedule_event_id      TEXT,
    -- Who is booking the publication right now (a random UUID per attempt) and since when:
    -- the claim makes concurrent POST /publication calls book at most once.
    publication_claim      TEXT,
    publication_claimed_at INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

CREATE INDEX articles_by_created ON articles (created_at, id);
CREATE INDEX articles_by_status_created ON articles (status, created_at, id);
