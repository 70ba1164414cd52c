-- Application Auto Scaling: scalable targets, scaling policies (with the CloudWatch
-- alarms target tracking owns), scheduled actions, scaling activities, and the alarm
-- work still to do. Times are epoch milliseconds.

-- One row per scalable target, keyed as AWS keys it. The cooldown state (the last
-- scale-out, with the capacity it started from, and the last scale-in) is kept here,
-- so every replica decides alike.
CREATE TABLE scalable_targets (
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    target_id TEXT NOT NULL UNIQUE,
    min_capacity INTEGER NOT NULL,
    max_capacity INTEGER NOT NULL,
    role_arn TEXT NOT NULL,
    suspended_in INTEGER NOT NULL,
    suspended_out INTEGER NOT NULL,
    suspended_scheduled INTEGER NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_scale_out_at INTEGER,
    last_scale_out_from INTEGER,
    last_scale_in_at INTEGER,
    version INTEGER NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension)
);

-- Policies: `config` is the policy's configuration document as answered (JSON).
CREATE TABLE scaling_policies (
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    policy_id TEXT NOT NULL UNIQUE,
    policy_type TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension, name),
    FOREIGN KEY (namespace, resource_id, dimension)
        REFERENCES scalable_targets (namespace, resource_id, dimension) ON DELETE CASCADE
);

-- The CloudWatch alarms a (target tracking) policy owns, in the order answered.
CREATE TABLE policy_alarms (
    alarm_name TEXT PRIMARY KEY,
    policy_id TEXT NOT NULL REFERENCES scaling_policies (policy_id) ON DELETE CASCADE,
    position INTEGER NOT NULL
);
CREATE INDEX policy_alarms_by_policy ON policy_alarms (policy_id, position);

-- Alarm work not known to be done: `pending` (being created for a policy not stored
-- yet: deleted unless a policy comes to own it) and `delete` (owned by a policy that
-- is gone). The housekeeping controller finishes what a failed call left.
CREATE TABLE alarm_work (
    alarm_name TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE scheduled_actions (
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    name TEXT NOT NULL,
    action_id TEXT NOT NULL UNIQUE,
    schedule TEXT NOT NULL,
    timezone TEXT,
    start_time INTEGER,
    end_time INTEGER,
    min_capacity INTEGER,
    max_capacity INTEGER,
    created_at INTEGER NOT NULL,
    -- The last fire time (or when the schedule was put), and the next one (NULL: none).
    last_fired INTEGER NOT NULL,
    next_fire INTEGER,
    PRIMARY KEY (namespace, resource_id, dimension, name),
    FOREIGN KEY (namespace, resource_id, dimension)
        REFERENCES scalable_targets (namespace, resource_id, dimension) ON DELETE CASCADE
);
CREATE INDEX scheduled_actions_by_next_fire ON scheduled_actions (next_fire);

-- Scaling activities, newest last by id; kept six weeks, after their target is gone too.
CREATE TABLE scaling_activities (
    id INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    description TEXT NOT NULL,
    cause TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    status_code TEXT NOT NULL,
    status_message TEXT,
    details TEXT,
    not_scaled TEXT,
    scaled INTEGER NOT NULL
);
CREATE INDEX scaling_activities_by_resource ON scaling_activities (resource_id, id);
CREATE INDEX scaling_activities_by_time ON scaling_activities (start_time);
