-- Clusters: one row per name; a deleted cluster stays INACTIVE until the name is reused.
CREATE TABLE clusters (
    name        TEXT    PRIMARY KEY NOT NULL,
    status      TEXT    NOT NULL,
    body        TEXT    NOT NULL,   -- JSON ClusterSpec
    created_at  BIGINT NOT NULL,   -- epoch milliseconds
    version     BIGINT NOT NULL    -- optimistic concurrency
);

-- The last revision handed out per family: revisions are never reused.
CREATE TABLE task_definition_families (
    family        TEXT    PRIMARY KEY NOT NULL,
    last_revision BIGINT NOT NULL
);

CREATE TABLE task_definitions (
    family              TEXT    NOT NULL,
    revision            BIGINT NOT NULL,
    status              TEXT    NOT NULL,
    body                TEXT    NOT NULL,   -- JSON TaskDefinitionSpec
    compatibilities     TEXT    NOT NULL,   -- JSON array of strings
    requires_attributes TEXT    NOT NULL,   -- JSON array of strings
    registered_at       BIGINT NOT NULL,
    registered_by       TEXT    NOT NULL,
    deregistered_at     BIGINT,
    delete_requested_at BIGINT,
    version             BIGINT NOT NULL,
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
