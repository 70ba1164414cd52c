-- Launch configurations and Auto Scaling groups: one document each, unique by name.
CREATE TABLE launch_configurations (
    name       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    arn        TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    body       TEXT COLLATE "C" NOT NULL,   -- JSON LaunchConfiguration
    version    BIGINT  NOT NULL
);

CREATE TABLE auto_scaling_groups (
    name                 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    arn                  TEXT COLLATE "C" NOT NULL UNIQUE,
    launch_configuration TEXT COLLATE "C" NOT NULL,   -- the name a group uses, so a used one is never deleted
    created_at           BIGINT  NOT NULL,
    body                 TEXT COLLATE "C" NOT NULL,   -- JSON Group
    version              BIGINT  NOT NULL
);

-- The instances of every group, until their termination completes.
CREATE TABLE asg_instances (
    instance_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    group_name  TEXT COLLATE "C" NOT NULL,
    launched_at BIGINT  NOT NULL,
    body        TEXT COLLATE "C" NOT NULL,   -- JSON Instance
    version     BIGINT  NOT NULL
);
CREATE INDEX asg_instances_by_group ON asg_instances (group_name, instance_id);

-- Scaling activities, kept after their group is deleted; newest first when listed.
CREATE TABLE scaling_activities (
    activity_id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    group_name  TEXT COLLATE "C" NOT NULL,
    start_time  BIGINT  NOT NULL,
    body        TEXT COLLATE "C" NOT NULL   -- JSON Activity
);
CREATE INDEX scaling_activities_by_group ON scaling_activities (group_name, start_time, activity_id);
CREATE INDEX scaling_activities_by_time ON scaling_activities (start_time, activity_id);
