-- The search index of notes: a copy derived from the DynamoDB stream by the activity function (never
-- the source of truth: the API reads the notes it finds back from DynamoDB). Rows are written in
-- version order; a removed note keeps a tombstone row so a late, redelivered record cannot bring it
-- back.
CREATE TABLE IF NOT EXISTS note_search (
    user_id    text        NOT NULL,
    note_id    text        NOT NULL,
    title      text        NOT NULL DEFAULT '',
    body       text        NOT NULL DEFAULT '',
    tags       text[]      NOT NULL DEFAULT '{}',
    version    bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    deleted    boolean     NOT NULL DEFAULT false,
    doc        tsvector GENERATED ALWAYS AS (
                   setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', body), 'B')
               ) STORED,
    PRIMARY KEY (user_id, note_id)
);
CREATE INDEX IF NOT EXISTS note_search_doc ON note_search USING gin (doc);
CREATE INDEX IF NOT EXISTS note_search_tags ON note_search USING gin (tags);
CREATE INDEX IF NOT EXISTS note_search_updated ON note_search (user_id, updated_at DESC, note_id DESC);
CREATE INDEX IF NOT EXISTS note_search_created ON note_search (user_id, created_at DESC, note_id DESC);
