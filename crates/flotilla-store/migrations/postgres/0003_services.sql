-- Services: one document per (cluster, name), holding configuration, deployments
-- and events. A name freed by an INACTIVE service can be used again.
CREATE TABLE services (
    cluster    TEXT COLLATE "C"    NOT NULL,
    name       TEXT COLLATE "C"    NOT NULL,
    status     TEXT COLLATE "C"    NOT NULL,
    created_at BIGINT NOT NULL,
    body       TEXT COLLATE "C"    NOT NULL,   -- JSON Service
    version    BIGINT NOT NULL,
    PRIMARY KEY (cluster, name)
);

-- A service's tasks are its task group's.
CREATE INDEX tasks_by_group ON tasks (cluster, task_group, last_status);
