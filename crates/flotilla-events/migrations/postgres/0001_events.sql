-- Amazon EventBridge: buses, rules, targets, connections, API destinations, and the
-- outbox (events with their pending deliveries).
CREATE TABLE buses (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    description TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    -- {"key": "value"} as JSON.
    tags TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    -- Rises with every change to the bus's rules or targets, so a cache of them knows
    -- when to read them again.
    generation BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE rules (
    bus TEXT COLLATE "C" NOT NULL REFERENCES buses(name) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    event_pattern TEXT COLLATE "C",
    schedule TEXT COLLATE "C",
    state TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    role_arn TEXT COLLATE "C",
    tags TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    -- Schedules: where a rate counts from, and the last fire time (or when the
    -- schedule was set or enabled, if it has not fired since).
    schedule_start BIGINT,
    last_fired BIGINT,
    PRIMARY KEY (bus, name)
);

CREATE TABLE targets (
    bus TEXT COLLATE "C" NOT NULL,
    rule TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    arn TEXT COLLATE "C" NOT NULL,
    -- The Target as PutTargets took it, JSON.
    document TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (bus, rule, id),
    FOREIGN KEY (bus, rule) REFERENCES rules(bus, name) ON DELETE CASCADE
);
CREATE INDEX targets_by_arn ON targets (bus, arn);

CREATE TABLE connections (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    -- The UUID in its ARN.
    uid TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    authorization_type TEXT COLLATE "C" NOT NULL,
    -- AuthParameters as given (secrets included), JSON.
    auth TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    state_reason TEXT COLLATE "C",
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    authorized_at BIGINT
);

CREATE TABLE api_destinations (
    name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    uid TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    connection_arn TEXT COLLATE "C" NOT NULL,
    endpoint TEXT COLLATE "C" NOT NULL,
    method TEXT COLLATE "C" NOT NULL,
    rate_limit BIGINT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

-- Events that matched at least one rule, kept until their last delivery ends.
CREATE TABLE events (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    body TEXT COLLATE "C" NOT NULL,
    ingested_at BIGINT NOT NULL
);

-- One row per (event, target) still to deliver.
CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT COLLATE "C" NOT NULL REFERENCES events(id),
    rule_arn TEXT COLLATE "C" NOT NULL,
    -- The target as it was when the event matched, JSON.
    target TEXT COLLATE "C" NOT NULL,
    -- What the target receives (the rendered input).
    body TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    due_at BIGINT NOT NULL,
    last_error TEXT COLLATE "C"
);
CREATE INDEX deliveries_due ON deliveries (due_at, id);
CREATE INDEX deliveries_by_event ON deliveries (event_id);
