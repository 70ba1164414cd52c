-- Amazon SQS: queues, their messages, FIFO deduplication and activity counters.
-- Ids only grow (AUTOINCREMENT): a deleted queue's id is never given to a new one, and
-- messages are ordered by id.
CREATE TABLE queues (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    fifo INTEGER NOT NULL,
    -- The settable attributes, {"VisibilityTimeout": "30", ...} as JSON.
    attributes TEXT NOT NULL,
    -- {"key": "value"} as JSON.
    tags TEXT NOT NULL DEFAULT '{}',
    -- From the attributes, for queries: MessageRetentionPeriod in ms, the redrive target.
    retention_ms INTEGER NOT NULL,
    dead_letter_target TEXT,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    purged_at INTEGER,
    -- Messages with ids up to this one were purged (the retention controller removes them).
    purged_through INTEGER NOT NULL DEFAULT 0,
    -- The last FIFO sequence number given.
    last_sequence INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queues_by_dead_letter_target ON queues (dead_letter_target, name);

-- Queues deleted whose messages the retention controller still has to remove.
CREATE TABLE deleted_queues (
    id INTEGER PRIMARY KEY NOT NULL,
    deleted_at INTEGER NOT NULL
);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The message attributes as sent (JSON, binary values in base64), if any.
    attributes TEXT,
    trace_header TEXT,
    sent_at INTEGER NOT NULL,
    -- Delivered only when visible_at <= now (delay, then visibility timeouts).
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    received_at INTEGER,
    -- The current receipt's token; a new one on every receive.
    receipt TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sequence_number TEXT,
    -- The ARN of the queue it was moved from, when a redrive policy moved it here.
    dlq_source TEXT
);
CREATE INDEX messages_by_visibility ON messages (queue_id, visible_at, id);
CREATE INDEX messages_by_age ON messages (queue_id, sent_at);

-- FIFO deduplication: one row per (queue, scope-qualified id), live for 5 minutes.
CREATE TABLE dedup (
    queue_id INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence_number TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, dedup_key)
);
CREATE INDEX dedup_by_age ON dedup (created_at);

-- What happened to queues since the metrics controller last published: one row per
-- request (append-only, so concurrent requests never contend on a counter).
CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    received INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    empty_receives INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX activity_by_age ON activity (at);
