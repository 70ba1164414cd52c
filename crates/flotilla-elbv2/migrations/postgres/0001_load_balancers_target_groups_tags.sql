-- Load balancers and target groups: one document each, names unique per kind.
CREATE TABLE load_balancers (
    arn        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C"    NOT NULL,   -- JSON LoadBalancer
    version    BIGINT NOT NULL
);

CREATE TABLE target_groups (
    arn        TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C"    NOT NULL,   -- JSON TargetGroup
    version    BIGINT NOT NULL
);

CREATE TABLE tags (
    resource_arn TEXT COLLATE "C" NOT NULL,
    key          TEXT COLLATE "C" NOT NULL,
    value        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (resource_arn, key)
);
