-- Clusters: one row per name; a deleted cluster stays INACTIVE until the name is reused.
CREATE TABLE clusters (
    name        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    status      TEXT COLLATE "C"    NOT NULL,
    body        TEXT COLLATE "C"    NOT NULL,   -- JSON ClusterSpec
    created_at  BIGINT NOT NULL,   -- epoch milliseconds
    version     BIGINT NOT NULL    -- optimistic concurrency
);

-- The last revision handed out per family: revisions are never reused.
CREATE TABLE task_definition_families (
    family        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    last_revision BIGINT NOT NULL
);

CREATE TABLE task_definitions (
    family              TEXT COLLATE "C"    NOT NULL,
    revision            BIGINT NOT NULL,
    status              TEXT COLLATE "C"    NOT NULL,
    body                TEXT COLLATE "C"    NOT NULL,   -- JSON TaskDefinitionSpec
    compatibilities     TEXT COLLATE "C"    NOT NULL,   -- JSON array of strings
    requires_attributes TEXT COLLATE "C"    NOT NULL,   -- JSON array of strings
    registered_at       BIGINT NOT NULL,
    registered_by       TEXT COLLATE "C"    NOT NULL,
    deregistered_at     BIGINT,
    delete_requested_at BIGINT,
    version             BIGINT NOT NULL,
    PRIMARY KEY (family, revision)
);
CREATE INDEX task_definitions_by_status ON task_definitions (status, family, revision);

-- Tags of any resource, keyed by its ARN.
CREATE TABLE resource_tags (
    resource_arn TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    value        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
