-- CloudWatch metric alarms: configuration and state, actions, tags and history.

-- One row per alarm. `config` is its configuration as put (JSON); the metric a
-- single-metric alarm watches is repeated in (namespace, metric_name, dims) for
-- DescribeAlarmsForMetric (NULL for alarms on `Metrics`). Times are epoch milliseconds.
CREATE TABLE alarms (
    name TEXT COLLATE "C" PRIMARY KEY,
    namespace TEXT COLLATE "C",
    metric_name TEXT COLLATE "C",
    dims TEXT COLLATE "C",
    config TEXT COLLATE "C" NOT NULL,
    actions_enabled BIGINT NOT NULL,
    state_value TEXT COLLATE "C" NOT NULL,
    -- The state before the last change of state.
    previous_state TEXT COLLATE "C",
    state_reason TEXT COLLATE "C" NOT NULL,
    state_reason_data TEXT COLLATE "C",
    state_updated BIGINT NOT NULL,
    state_transitioned BIGINT NOT NULL,
    config_updated BIGINT NOT NULL,
    -- When the alarm is next evaluated (the end of its next period).
    evaluate_at BIGINT NOT NULL,
    -- The newest value it evaluated.
    last_value DOUBLE PRECISION,
    -- The state whose actions are due at `actions_due` (NULL: none due);
    -- `actions_repeat` is 1 when only Auto Scaling actions are run again.
    actions_state TEXT COLLATE "C",
    actions_due BIGINT,
    actions_repeat BIGINT NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX alarms_by_metric ON alarms (namespace, metric_name, dims);
CREATE INDEX alarms_by_evaluate_at ON alarms (evaluate_at);
CREATE INDEX alarms_by_actions_due ON alarms (actions_due);

-- Each alarm's actions one per row, for DescribeAlarms' ActionPrefix and for
-- knowing whether a state has actions.
CREATE TABLE alarm_actions (
    alarm_name TEXT COLLATE "C" NOT NULL REFERENCES alarms (name) ON DELETE CASCADE,
    state TEXT COLLATE "C" NOT NULL,
    arn TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (alarm_name, state, arn)
);

CREATE TABLE alarm_tags (
    alarm_name TEXT COLLATE "C" NOT NULL REFERENCES alarms (name) ON DELETE CASCADE,
    tag_key TEXT COLLATE "C" NOT NULL,
    tag_value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (alarm_name, tag_key)
);

-- History items (kept after their alarm is deleted, for two weeks).
CREATE TABLE alarm_history (
    id BIGSERIAL PRIMARY KEY,
    alarm_name TEXT COLLATE "C" NOT NULL,
    ts BIGINT NOT NULL,
    item_type TEXT COLLATE "C" NOT NULL,
    summary TEXT COLLATE "C" NOT NULL,
    data TEXT COLLATE "C" NOT NULL
);
CREATE INDEX alarm_history_by_time ON alarm_history (ts, id);
CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_name, ts, id);
