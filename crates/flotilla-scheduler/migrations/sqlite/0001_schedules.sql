-- Schedule groups and their schedules (documents), the next fire time of each
-- enabled schedule, and the invocations fired and not yet delivered (the outbox).
CREATE TABLE schedule_groups (
    name       TEXT    PRIMARY KEY NOT NULL,
    body       TEXT    NOT NULL,   -- JSON ScheduleGroup
    version    INTEGER NOT NULL
);
CREATE TABLE schedules (
    group_name   TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    next_fire_at INTEGER,           -- epoch ms; NULL when it will not fire again
    body         TEXT    NOT NULL,  -- JSON Schedule
    version      INTEGER NOT NULL,
    PRIMARY KEY (group_name, name)
);
CREATE INDEX schedules_due ON schedules (next_fire_at);
CREATE TABLE invocations (
    id              TEXT    PRIMARY KEY NOT NULL,
    next_attempt_at INTEGER NOT NULL,   -- epoch ms
    body            TEXT    NOT NULL    -- JSON Invocation
);
CREATE INDEX invocations_due ON invocations (next_attempt_at);
