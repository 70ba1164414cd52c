-- Amazon SQS: queues, their messages, FIFO deduplication and activity counters.
-- Ids only grow (BIGSERIAL): a deleted queue's id is never given to a new one, and
-- messages are ordered by id.
CREATE TABLE queues (
    id BIGSERIAL PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL UNIQUE,
    fifo BIGINT NOT NULL,
    -- The settable attributes, {"VisibilityTimeout": "30", ...} as JSON.
    attributes TEXT COLLATE "C" NOT NULL,
    -- {"key": "value"} as JSON.
    tags TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    -- From the attributes, for queries: MessageRetentionPeriod in ms, the redrive target.
    retention_ms BIGINT NOT NULL,
    dead_letter_target TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    purged_at BIGINT,
    -- Messages with ids up to this one were purged (the retention controller removes them).
    purged_through BIGINT NOT NULL DEFAULT 0,
    -- The last FIFO sequence number given.
    last_sequence BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX queues_by_dead_letter_target ON queues (dead_letter_target, name);

-- Queues deleted whose messages the retention controller still has to remove.
CREATE TABLE deleted_queues (
    id BIGINT PRIMARY KEY NOT NULL,
    deleted_at BIGINT NOT NULL
);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    queue_id BIGINT NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    body TEXT COLLATE "C" NOT NULL,
    -- The message attributes as sent (JSON, binary values in base64), if any.
    attributes TEXT COLLATE "C",
    trace_header TEXT COLLATE "C",
    sent_at BIGINT NOT NULL,
    -- Delivered only when visible_at <= now (delay, then visibility timeouts).
    visible_at BIGINT NOT NULL,
    receive_count BIGINT NOT NULL DEFAULT 0,
    first_received_at BIGINT,
    received_at BIGINT,
    -- The current receipt's token; a new one on every receive.
    receipt TEXT COLLATE "C",
    group_id TEXT COLLATE "C",
    dedup_id TEXT COLLATE "C",
    sequence_number TEXT COLLATE "C",
    -- The ARN of the queue it was moved from, when a redrive policy moved it here.
    dlq_source TEXT COLLATE "C"
);
CREATE INDEX messages_by_visibility ON messages (queue_id, visible_at, id);
CREATE INDEX messages_by_age ON messages (queue_id, sent_at);

-- FIFO deduplication: one row per (queue, scope-qualified id), live for 5 minutes.
CREATE TABLE dedup (
    queue_id BIGINT NOT NULL,
    dedup_key TEXT COLLATE "C" NOT NULL,
    message_id TEXT COLLATE "C" NOT NULL,
    sequence_number TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    PRIMARY KEY (queue_id, dedup_key)
);
CREATE INDEX dedup_by_age ON dedup (created_at);

-- What happened to queues since the metrics controller last published: one row per
-- request (append-only, so concurrent requests never contend on a counter).
CREATE TABLE activity (
    id BIGSERIAL PRIMARY KEY,
    queue_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    sent BIGINT NOT NULL DEFAULT 0,
    received BIGINT NOT NULL DEFAULT 0,
    deleted BIGINT NOT NULL DEFAULT 0,
    empty_receives BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX activity_by_age ON activity (at);
