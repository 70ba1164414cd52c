-- Container instances: one row per registration; the document holds resources,
-- attributes and version info.
CREATE TABLE container_instances (
    id             TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    cluster        TEXT COLLATE "C"    NOT NULL,
    status         TEXT COLLATE "C"    NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    body           TEXT COLLATE "C"    NOT NULL,   -- JSON ContainerInstance
    version        BIGINT NOT NULL
);
CREATE INDEX container_instances_by_cluster ON container_instances (cluster, status, id);

-- Tasks: the document plus the columns calls filter on.
CREATE TABLE tasks (
    id                    TEXT COLLATE "C"    PRIMARY KEY NOT NULL,
    cluster               TEXT COLLATE "C"    NOT NULL,
    container_instance_id TEXT COLLATE "C",
    family                TEXT COLLATE "C"    NOT NULL,
    started_by            TEXT COLLATE "C",
    task_group            TEXT COLLATE "C"    NOT NULL,
    desired_status        TEXT COLLATE "C"    NOT NULL,
    last_status           TEXT COLLATE "C"    NOT NULL,
    client_token          TEXT COLLATE "C",
    created_at            BIGINT NOT NULL,
    body                  TEXT COLLATE "C"    NOT NULL,   -- JSON Task
    version               BIGINT NOT NULL
);
CREATE INDEX tasks_by_cluster ON tasks (cluster, id);
CREATE INDEX tasks_by_instance ON tasks (container_instance_id, last_status);
CREATE INDEX tasks_by_client_token ON tasks (cluster, client_token);
