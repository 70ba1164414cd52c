-- What the data plane's health checks last found for each target.
CREATE TABLE target_health (
    target_group_arn TEXT    NOT NULL,
    target_id        TEXT    NOT NULL,
    port             INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    reason           TEXT,
    description      TEXT,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (target_group_arn, target_id, port)
);
