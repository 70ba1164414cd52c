-- CloudWatch Logs: groups, streams, their events and Logs Insights queries.
CREATE TABLE log_groups (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    created_at BIGINT NOT NULL,
    retention_days BIGINT,
    class TEXT COLLATE "C" NOT NULL DEFAULT 'STANDARD',
    kms_key_id TEXT COLLATE "C",
    -- {"key": "value"} as JSON.
    tags TEXT COLLATE "C" NOT NULL DEFAULT '{}'
);

CREATE TABLE log_streams (
    group_name TEXT COLLATE "C" NOT NULL REFERENCES log_groups(name) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    first_event BIGINT,
    last_event BIGINT,
    last_ingestion BIGINT,
    stored_bytes BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, name)
);

-- One row per event; `id` orders events of equal timestamp as they arrived.
CREATE TABLE log_events (
    id BIGSERIAL PRIMARY KEY,
    group_name TEXT COLLATE "C" NOT NULL,
    stream_name TEXT COLLATE "C" NOT NULL,
    timestamp BIGINT NOT NULL,
    ingestion_time BIGINT NOT NULL,
    message TEXT COLLATE "C" NOT NULL,
    FOREIGN KEY (group_name, stream_name) REFERENCES log_streams(group_name, name) ON DELETE CASCADE
);
CREATE INDEX log_events_by_stream ON log_events (group_name, stream_name, timestamp, id);
CREATE INDEX log_events_by_group ON log_events (group_name, timestamp, id);

CREATE TABLE log_queries (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    query TEXT COLLATE "C" NOT NULL,
    -- JSON array of log group names.
    groups TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    -- JSON: {"results": [[{"field","value"}]], "statistics": {...}} once complete.
    results TEXT COLLATE "C"
);
