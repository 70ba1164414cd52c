-- CloudWatch metrics: datapoints as published, and the metrics known to ListMetrics.
--
-- A metric is (namespace, metric_name, dims): `dims` is its dimensions sorted by name
-- as canonical JSON, [["Name","Value"], ...] ('[]' for none), so equal dimension sets
-- have equal keys.

-- One row per published datum (a Value, a Values/Counts set or a statistic set).
CREATE TABLE datapoints (
    id BIGSERIAL PRIMARY KEY,
    namespace TEXT COLLATE "C" NOT NULL,
    metric_name TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    -- Epoch milliseconds, cut to the second (high resolution) or the minute.
    ts BIGINT NOT NULL,
    unit TEXT COLLATE "C" NOT NULL,
    sample_count DOUBLE PRECISION NOT NULL,
    value_sum DOUBLE PRECISION NOT NULL,
    value_min DOUBLE PRECISION NOT NULL,
    value_max DOUBLE PRECISION NOT NULL,
    -- The individual values for percentiles, [[value, count], ...] as JSON (at most
    -- 150 pairs); NULL for a statistic set that does not say them.
    raw_values TEXT COLLATE "C"
);
CREATE INDEX datapoints_by_metric ON datapoints (namespace, metric_name, dims, ts);
CREATE INDEX datapoints_by_time ON datapoints (ts);

CREATE TABLE metrics (
    namespace TEXT COLLATE "C" NOT NULL,
    metric_name TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    -- When data was last published (epoch milliseconds, to within a minute).
    last_put BIGINT NOT NULL,
    PRIMARY KEY (namespace, metric_name, dims)
);
CREATE INDEX metrics_by_last_put ON metrics (last_put);

-- Each metric's dimensions one per row, for ListMetrics' dimension filters.
CREATE TABLE metric_dimensions (
    namespace TEXT COLLATE "C" NOT NULL,
    metric_name TEXT COLLATE "C" NOT NULL,
    dims TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (namespace, metric_name, dims, name),
    FOREIGN KEY (namespace, metric_name, dims) REFERENCES metrics (namespace, metric_name, dims) ON DELETE CASCADE
);
