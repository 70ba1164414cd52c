-- Clusters: one row per name; a deleted cluster stays INACTIVE until the name is reused.
CREATE TABLE clusters (
    name        TEXT    PRIMARY KEY NOT NULL,
    status      TEXT    NOT NULL,
    body        TEXT    NOT NULL,   -- JSON ClusterSpec
    created_at  INTEGER NOT NULL,   -- epoch milliseconds
    version     INTEGER NOT NULL    -- optimistic concurrency
);

-- The last revision handed out per family: revisions are never reused.
CREATE TABLE task_definition_families (
    family        TEXT    PRIMARY KEY NOT NULL,
    last_revision INTEGER NOT NULL
);

CREATE TABLE task_definitions (
    family              TEXT    NOT NULL,
    revision            INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    body                TEXT    NOT NULL,   -- JSON TaskDefinitionSpec
    compatibilities     TEXT    NOT NULL,   -- JSON array of strings
    requires_attributes TEXT    NOT NULL,   -- JSON array of strings
    registered_at       INTEGER NOT NULL,
    registered_by       TEXT    NOT NULL,
    deregistered_at     INTEGER,
    delete_requested_at INTEGER,
    version             INTEGER NOT NULL,
    PRIMARY KEY (family, revision)
);
CREATE INDEX task_definitions_by_status ON task_definitions (status, family, revision);

-- Tags of any resource, keyed by its ARN.
CREATE TABLE resource_tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
