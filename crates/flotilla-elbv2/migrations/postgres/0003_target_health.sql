-- What the data plane's health checks last found for each target.
CREATE TABLE target_health (
    target_group_arn TEXT COLLATE "C" NOT NULL,
    target_id        TEXT COLLATE "C" NOT NULL,
    port             BIGINT NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,
    reason           TEXT COLLATE "C",
    description      TEXT COLLATE "C",
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (target_group_arn, target_id, port)
);
