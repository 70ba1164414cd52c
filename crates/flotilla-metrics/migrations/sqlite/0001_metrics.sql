-- CloudWatch metrics: datapoints as published, and the metrics known to ListMetrics.
--
-- A metric is (namespace, metric_name, dims): `dims` is its dimensions sorted by name
-- as canonical JSON, [["Name","Value"], ...] ('[]' for none), so equal dimension sets
-- have equal keys.

-- One row per published datum (a Value, a Values/Counts set or a statistic set).
CREATE TABLE datapoints (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dims TEXT NOT NULL,
    -- Epoch milliseconds, cut to the second (high resolution) or the minute.
    ts INTEGER NOT NULL,
    unit TEXT NOT NULL,
    sample_count REAL NOT NULL,
    value_sum REAL NOT NULL,
    value_min REAL NOT NULL,
    value_max REAL NOT NULL,
    -- The individual values for percentiles, [[value, count], ...] as JSON (at most
    -- 150 pairs); NULL for a statistic set that does not say them.
    raw_values TEXT
);
CREATE INDEX datapoints_by_metric ON datapoints (namespace, metric_name, dims, ts);
CREATE INDEX datapoints_by_time ON datapoints (ts);

CREATE TABLE metrics (
    namespace TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dims TEXT NOT NULL,
    -- When data was last published (epoch milliseconds, to within a minute).
    last_put INTEGER NOT NULL,
    PRIMARY KEY (namespace, metric_name, dims)
);
CREATE INDEX metrics_by_last_put ON metrics (last_put);

-- Each metric's dimensions one per row, for ListMetrics' dimension filters.
CREATE TABLE metric_dimensions (
    namespace TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    dims TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (namespace, metric_name, dims, name),
    FOREIGN KEY (namespace, metric_name, dims) REFERENCES metrics (namespace, metric_name, dims) ON DELETE CASCADE
);
