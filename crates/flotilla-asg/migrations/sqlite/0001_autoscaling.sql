-- Launch configurations and Auto Scaling groups: one document each, unique by name.
CREATE TABLE launch_configurations (
    name       TEXT    PRIMARY KEY NOT NULL,
    arn        TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,   -- JSON LaunchConfiguration
    version    INTEGER NOT NULL
);

CREATE TABLE auto_scaling_groups (
    name                 TEXT    PRIMARY KEY NOT NULL,
    arn                  TEXT    NOT NULL UNIQUE,
    launch_configuration TEXT    NOT NULL,   -- the name a group uses, so a used one is never deleted
    created_at           INTEGER NOT NULL,
    body                 TEXT    NOT NULL,   -- JSON Group
    version              INTEGER NOT NULL
);

-- The instances of every group, until their termination completes.
CREATE TABLE asg_instances (
    instance_id TEXT    PRIMARY KEY NOT NULL,
    group_name  TEXT    NOT NULL,
    launched_at INTEGER NOT NULL,
    body        TEXT    NOT NULL,   -- JSON Instance
    version     INTEGER NOT NULL
);
CREATE INDEX asg_instances_by_group ON asg_instances (group_name, instance_id);

-- Scaling activities, kept after their group is deleted; newest first when listed.
CREATE TABLE scaling_activities (
    activity_id TEXT    PRIMARY KEY NOT NULL,
    group_name  TEXT    NOT NULL,
    start_time  INTEGER NOT NULL,
    body        TEXT    NOT NULL   -- JSON Activity
);
CREATE INDEX scaling_activities_by_group ON scaling_activities (group_name, start_time, activity_id);
CREATE INDEX scaling_activities_by_time ON scaling_activities (start_time, activity_id);
