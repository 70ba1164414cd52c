-- CloudWatch metric alarms: configuration and state, actions, tags and history.

-- One row per alarm. `config` is its configuration as put (JSON); the metric a
-- single-metric alarm watches is repeated in (namespace, metric_name, dims) for
-- DescribeAlarmsForMetric (NULL for alarms on `Metrics`). Times are epoch milliseconds.
CREATE TABLE alarms (
    name TEXT PRIMARY KEY,
    namespace TEXT,
    metric_name TEXT,
    dims TEXT,
    config TEXT NOT NULL,
    actions_enabled INTEGER NOT NULL,
    state_value TEXT NOT NULL,
    -- The state before the last change of state.
    previous_state TEXT,
    state_reason TEXT NOT NULL,
    state_reason_data TEXT,
    state_updated INTEGER NOT NULL,
    state_transitioned INTEGER NOT NULL,
    config_updated INTEGER NOT NULL,
    -- When the alarm is next evaluated (the end of its next period).
    evaluate_at INTEGER NOT NULL,
    -- The newest value it evaluated.
    last_value REAL,
    -- The state whose actions are due at `actions_due` (NULL: none due);
    -- `actions_repeat` is 1 when only Auto Scaling actions are run again.
    actions_state TEXT,
    actions_due INTEGER,
    actions_repeat INTEGER NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX alarms_by_metric ON alarms (namespace, metric_name, dims);
CREATE INDEX alarms_by_evaluate_at ON alarms (evaluate_at);
CREATE INDEX alarms_by_actions_due ON alarms (actions_due);

-- Each alarm's actions one per row, for DescribeAlarms' ActionPrefix and for
-- knowing whether a state has actions.
CREATE TABLE alarm_actions (
    alarm_name TEXT NOT NULL REFERENCES alarms (name) ON DELETE CASCADE,
    state TEXT NOT NULL,
    arn TEXT NOT NULL,
    PRIMARY KEY (alarm_name, state, arn)
);

CREATE TABLE alarm_tags (
    alarm_name TEXT NOT NULL REFERENCES alarms (name) ON DELETE CASCADE,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (alarm_name, tag_key)
);

-- History items (kept after their alarm is deleted, for two weeks).
CREATE TABLE alarm_history (
    id INTEGER PRIMARY KEY,
    alarm_name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    item_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX alarm_history_by_time ON alarm_history (ts, id);
CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_name, ts, id);
