-- Application Auto Scaling: scalable targets, scaling policies (with the CloudWatch
-- alarms target tracking owns), scheduled actions, scaling activities, and the alarm
-- work still to do. Times are epoch milliseconds.

-- One row per scalable target, keyed as AWS keys it. The cooldown state (the last
-- scale-out, with the capacity it started from, and the last scale-in) is kept here,
-- so every replica decides alike.
CREATE TABLE scalable_targets (
    namespace TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    target_id TEXT COLLATE "C" NOT NULL UNIQUE,
    min_capacity BIGINT NOT NULL,
    max_capacity BIGINT NOT NULL,
    role_arn TEXT COLLATE "C" NOT NULL,
    suspended_in BIGINT NOT NULL,
    suspended_out BIGINT NOT NULL,
    suspended_scheduled BIGINT NOT NULL,
    tags TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    last_scale_out_at BIGINT,
    last_scale_out_from BIGINT,
    last_scale_in_at BIGINT,
    version BIGINT NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension)
);

-- Policies: `config` is the policy's configuration document as answered (JSON).
CREATE TABLE scaling_policies (
    namespace TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    policy_id TEXT COLLATE "C" NOT NULL UNIQUE,
    policy_type TEXT COLLATE "C" NOT NULL,
    config TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, resource_id, dimension, name),
    FOREIGN KEY (namespace, resource_id, dimension)
        REFERENCES scalable_targets (namespace, resource_id, dimension) ON DELETE CASCADE
);

-- The CloudWatch alarms a (target tracking) policy owns, in the order answered.
CREATE TABLE policy_alarms (
    alarm_name TEXT COLLATE "C" PRIMARY KEY,
    policy_id TEXT COLLATE "C" NOT NULL REFERENCES scaling_policies (policy_id) ON DELETE CASCADE,
    position BIGINT NOT NULL
);
CREATE INDEX policy_alarms_by_policy ON policy_alarms (policy_id, position);

-- Alarm work not known to be done: `pending` (being created for a policy not stored
-- yet: deleted unless a policy comes to own it) and `delete` (owned by a policy that
-- is gone). The housekeeping controller finishes what a failed call left.
CREATE TABLE alarm_work (
    alarm_name TEXT COLLATE "C" PRIMARY KEY,
    op TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE scheduled_actions (
    namespace TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    action_id TEXT COLLATE "C" NOT NULL UNIQUE,
    schedule TEXT COLLATE "C" NOT NULL,
    timezone TEXT COLLATE "C",
    start_time BIGINT,
    end_time BIGINT,
    min_capacity BIGINT,
    max_capacity BIGINT,
    created_at BIGINT NOT NULL,
    -- The last fire time (or when the schedule was put), and the next one (NULL: none).
    last_fired BIGINT NOT NULL,
    next_fire BIGINT,
    PRIMARY KEY (namespace, resource_id, dimension, name),
    FOREIGN KEY (namespace, resource_id, dimension)
        REFERENCES scalable_targets (namespace, resource_id, dimension) ON DELETE CASCADE
);
CREATE INDEX scheduled_actions_by_next_fire ON scheduled_actions (next_fire);

-- Scaling activities, newest last by id; kept six weeks, after their target is gone too.
CREATE TABLE scaling_activities (
    id BIGSERIAL PRIMARY KEY,
    activity_id TEXT COLLATE "C" NOT NULL UNIQUE,
    namespace TEXT COLLATE "C" NOT NULL,
    resource_id TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C" NOT NULL,
    cause TEXT COLLATE "C" NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    status_code TEXT COLLATE "C" NOT NULL,
    status_message TEXT COLLATE "C",
    details TEXT COLLATE "C",
    not_scaled TEXT COLLATE "C",
    scaled BIGINT NOT NULL
);
CREATE INDEX scaling_activities_by_resource ON scaling_activities (resource_id, id);
CREATE INDEX scaling_activities_by_time ON scaling_activities (start_time);
