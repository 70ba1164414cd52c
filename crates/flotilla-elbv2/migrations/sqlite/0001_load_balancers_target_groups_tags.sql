-- Load balancers and target groups: one document each, names unique per kind.
CREATE TABLE load_balancers (
    arn        TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON LoadBalancer
    version    INTEGER NOT NULL
);

CREATE TABLE target_groups (
    arn        TEXT    PRIMARY KEY NOT NULL,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON TargetGroup
    version    INTEGER NOT NULL
);

CREATE TABLE tags (
    resource_arn TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
