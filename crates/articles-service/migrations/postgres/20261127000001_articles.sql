-- Articles.
CREATE TABLE articles (
    id                     UUID        PRIMARY KEY,
    title                  TEXT        NOT NULL,
    body                   TEXT        NOT NULL,
    author_id              TEXT        NOT NULL,
    publish_at             TIMESTAMPTZ,
    status                 TEXT        NOT NULL CHECK (status IN ('draft', 'scheduled', 'published')),
    schedule_event_id      TEXT,
    -- Who is booking the publication right now (a random UUID per attempt) and since when:
    -- the claim makes concurrent POST /publication calls book at most once.
    publication_claim      UUID,
    publication_claimed_at TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);

CREATE INDEX articles_by_created ON articles (created_at, id);
CREATE INDEX articles_by_status_created ON articles (status, created_at, id);
