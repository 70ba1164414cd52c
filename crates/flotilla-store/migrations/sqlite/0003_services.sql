-- Services: one document per (cluster, name), holding configuration, deployments
-- and events. A name freed by an INACTIVE service can be used again.
CREATE TABLE services (
    cluster    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON Service
    version    INTEGER NOT NULL,
    PRIMARY KEY (cluster, name)
);

-- A service's tasks are its task group's.
CREATE INDEX tasks_by_group ON tasks (cluster, task_group, last_status);
