-- Amazon EventBridge: buses, rules, targets, connections, API destinations, and the
-- outbox (events with their pending deliveries).
CREATE TABLE buses (
    name TEXT PRIMARY KEY NOT NULL,
    description TEXT,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    -- {"key": "value"} as JSON.
    tags TEXT NOT NULL DEFAULT '{}',
    -- Rises with every change to the bus's rules or targets, so a cache of them knows
    -- when to read them again.
    generation INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rules (
    bus TEXT NOT NULL REFERENCES buses(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    event_pattern TEXT,
    schedule TEXT,
    state TEXT NOT NULL,
    description TEXT,
    role_arn TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    -- Schedules: where a rate counts from, and the last fire time (or when the
    -- schedule was set or enabled, if it has not fired since).
    schedule_start INTEGER,
    last_fired INTEGER,
    PRIMARY KEY (bus, name)
);

CREATE TABLE targets (
    bus TEXT NOT NULL,
    rule TEXT NOT NULL,
    id TEXT NOT NULL,
    arn TEXT NOT NULL,
    -- The Target as PutTargets took it, JSON.
    document TEXT NOT NULL,
    PRIMARY KEY (bus, rule, id),
    FOREIGN KEY (bus, rule) REFERENCES rules(bus, name) ON DELETE CASCADE
);
CREATE INDEX targets_by_arn ON targets (bus, arn);

CREATE TABLE connections (
    name TEXT PRIMARY KEY NOT NULL,
    -- The UUID in its ARN.
    uid TEXT NOT NULL,
    description TEXT,
    authorization_type TEXT NOT NULL,
    -- AuthParameters as given (secrets included), JSON.
    auth TEXT NOT NULL,
    state TEXT NOT NULL,
    state_reason TEXT,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    authorized_at INTEGER
);

CREATE TABLE api_destinations (
    name TEXT PRIMARY KEY NOT NULL,
    uid TEXT NOT NULL,
    description TEXT,
    connection_arn TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    method TEXT NOT NULL,
    rate_limit INTEGER,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);

-- Events that matched at least one rule, kept until their last delivery ends.
CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    body TEXT NOT NULL,
    ingested_at INTEGER NOT NULL
);

-- One row per (event, target) still to deliver.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES events(id),
    rule_arn TEXT NOT NULL,
    -- The target as it was when the event matched, JSON.
    target TEXT NOT NULL,
    -- What the target receives (the rendered input).
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX deliveries_due ON deliveries (due_at, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
