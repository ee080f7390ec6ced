-- Activity log (one row per DynamoDB stream record) and the relational projection the stats use.
CREATE TABLE IF NOT EXISTS activity (
    seq           bigserial PRIMARY KEY,
    event_id      text        NOT NULL UNIQUE,  -- the stream record's eventID: replays are no-ops
    user_id       text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('note_created', 'note_updated', 'note_deleted',
                                                       'attachment_added', 'attachment_deleted')),
    note_id       text        NOT NULL,
    attachment_id text,
    title         text,
    at            timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS activity_user_at ON activity (user_id, at DESC, seq DESC);

CREATE TABLE IF NOT EXISTS notes (
    user_id    text        NOT NULL,
    note_id    text        NOT NULL,
    title      text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, note_id)
);

CREATE TABLE IF NOT EXISTS attachments (
    user_id       text        NOT NULL,
    note_id       text        NOT NULL,
    attachment_id text        NOT NULL,
    size          bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (user_id, note_id, attachment_id)
);
