-- CloudWatch Logs: groups, streams, their events and Logs Insights queries.
CREATE TABLE log_groups (
    name TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    retention_days INTEGER,
    class TEXT NOT NULL DEFAULT 'STANDARD',
    kms_key_id TEXT,
    -- {"key": "value"} as JSON.
    tags TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE log_streams (
    group_name TEXT NOT NULL REFERENCES log_groups(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    first_event INTEGER,
    last_event INTEGER,
    last_ingestion INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_name, name)
);

-- One row per event; `id` orders events of equal timestamp as they arrived.
CREATE TABLE log_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT NOT NULL,
    stream_name TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    ingestion_time INTEGER NOT NULL,
    message TEXT NOT NULL,
    FOREIGN KEY (group_name, stream_name) REFERENCES log_streams(group_name, name) ON DELETE CASCADE
);
CREATE INDEX log_events_by_stream ON log_events (group_name, stream_name, timestamp, id);
CREATE INDEX log_events_by_group ON log_events (group_name, timestamp, id);

CREATE TABLE log_queries (
    id TEXT PRIMARY KEY NOT NULL,
    query TEXT NOT NULL,
    -- JSON array of log group names.
    groups TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- JSON: {"results": [[{"field","value"}]], "statistics": {...}} once complete.
    results TEXT
);
