-- Container instances: one row per registration; the document holds resources,
-- attributes and version info.
CREATE TABLE container_instances (
    id             TEXT    PRIMARY KEY NOT NULL,
    cluster        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    body           TEXT    NOT NULL,   -- JSON ContainerInstance
    version        BIGINT NOT NULL
);
CREATE INDEX container_instances_by_cluster ON container_instances (cluster, status, id);

-- Tasks: the document plus the columns calls filter on.
CREATE TABLE tasks (
    id                    TEXT    PRIMARY KEY NOT NULL,
    cluster               TEXT    NOT NULL,
    container_instance_id TEXT,
    family                TEXT    NOT NULL,
    started_by            TEXT,
    task_group            TEXT    NOT NULL,
    desired_status        TEXT    NOT NULL,
    last_status           TEXT    NOT NULL,
    client_token          TEXT,
    created_at            BIGINT NOT NULL,
    body                  TEXT    NOT NULL,   -- JSON Task
    version               BIGINT NOT NULL
);
CREATE INDEX tasks_by_cluster ON tasks (cluster, id);
CREATE INDEX tasks_by_instance ON tasks (container_instance_id, last_status);
CREATE INDEX tasks_by_client_token ON tasks (cluster, client_token);
