//! Datapoints and known metrics on the storage foundation (SQLite's `metrics.db`, or
//! the `metrics` schema on PostgreSQL).
//!
//! A datapoint row is one published datum with its sample count, sum, minimum and
//! maximum, so a period's statistics are one `GROUP BY` over an index range; the
//! individual values (at most 150 pairs a datum, as AWS allows) ride along as JSON for
//! percentiles. Known metrics (what ListMetrics lists) are kept apart, with their
//! dimensions one per row for the dimension filters. Writes are multi-row INSERTs in
//! one transaction; known metrics are written in key order, so concurrent writers on
//! PostgreSQL lock them in the same order and never deadlock.
//!
//! Alarms, their actions, tags and history live in the same store ([`alarms`]).

mod alarms;

use crate::error::{MetricsError, Result};
use crate::model::dims_key;
pub(crate) use alarms::{ActionsDone, AlarmFilter, AlarmRow, Evaluated, HistoryFilter, HistoryItem, Transition};
use flotilla_db::{Db, Migrations, RowExt, StoreLocation};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `metrics.db` on SQLite, schema `metrics` on PostgreSQL.
pub const STORE_NAME: &str = "metrics";
/// Rows per multi-row INSERT (at most 10 parameters each, well under both databases' limits).
const INSERT_CHUNK: usize = 500;
/// A known metric's `last_put` is moved on at most once a minute, so a metric published
/// every few seconds does not rewrite its row every time.
const LAST_PUT_GRANULARITY_MS: i64 = 60_000;

/// A metric's dimensions, sorted by name.
type Dimensions = [(String, String)];

/// A datum to store, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoint {
    pub namespace: String,
    pub metric_name: String,
    /// Sorted by name, names unique.
    pub dims: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub unit: String,
    pub samples: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// (value, count) pairs, when the datum says its values.
    pub values: Option<Vec<(f64, f64)>>,
}

/// The datapoints a read covers: one metric, in [start, end), of one unit or any.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    pub namespace: &'a str,
    pub metric_name: &'a str,
    /// The canonical dimensions key.
    pub dims: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub unit: Option<&'a str>,
}

/// One period's statistics (of one unit, when read by unit): what [`MetricStore::buckets`]
/// sums in SQL, and what [`MetricStore::points`] reads datapoint by datapoint (each then
/// a bucket of its own, to be merged with the others of its period).
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start_ms: i64,
    pub unit: Option<String>,
    pub samples: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// (value, count) pairs, when read and every datum of the period said its values.
    pub values: Option<Vec<(f64, f64)>>,
}

/// A metric as ListMetrics names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricKey {
    pub namespace: String,
    pub metric_name: String,
    pub dims: String,
}

/// What ListMetrics asks for.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// Dimensions the metric must have: a name, with the value or any.
    pub dimensions: Vec<(String, Option<String>)>,
    /// Only metrics published to since (epoch milliseconds).
    pub active_since: i64,
}

/// A parameter of a query built as it goes.
enum Arg {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptReal(Option<f64>),
}

/// Binds `args` to `query` in order.
fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: Vec<Arg>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        query = match a {
            Arg::Text(t) => query.bind(t),
            Arg::Int(i) => query.bind(i),
            Arg::OptText(t) => query.bind(t),
            Arg::OptReal(r) => query.bind(r),
        };
    }
    query
}

/// Adds a parameter; its placeholder.
fn arg(args: &mut Vec<Arg>, a: Arg) -> String {
    args.push(a);
    format!("${}", args.len())
}

/// `($1, $2, …), (…)`: `rows` tuples of `cols` parameters.
fn values_clause(rows: usize, cols: usize) -> String {
    let mut s = String::new();
    for r in 0..rows {
        s.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            let _ = write!(s, "{}${}", if c == 0 { "" } else { ", " }, r * cols + c + 1);
        }
        s.push(')');
    }
    s
}

fn bucket_from_row(row: &AnyRow, period_ms: i64, by_unit: bool) -> Result<Bucket> {
    let bucket: i64 = row.col("bucket")?;
    Ok(Bucket {
        start_ms: bucket.saturating_mul(period_ms),
        unit: if by_unit { Some(row.col("unit")?) } else { None },
        samples: row.col("samples")?,
        sum: row.col("total")?,
        min: row.col("low")?,
        max: row.col("high")?,
        values: None,
    })
}

/// A read of `series` by periods of `period_ms`: `select` are the columns after the
/// bucket (and unit when `by_unit`), `rest` what follows the WHERE clause (`$7` is
/// the limit). The series' bounds are `$1`…`$6`, its unit `$8` when it has one.
fn series_query<'q>(
    sql: &'q mut String,
    series: &Series<'q>,
    (period_ms, by_unit, limit): (i64, bool, i64),
    select: &str,
    rest: &str,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let unit_column = if by_unit { ", unit" } else { "" };
    let unit_filter = if series.unit.is_some() { " AND unit = $8" } else { "" };
    let rest = rest.replace("{unit}", unit_column);
    *sql = format!(
        "SELECT ts / $4 AS bucket{unit_column}, {select} FROM datapoints \
         WHERE namespace = $1 AND metric_name = $2 AND dims = $3 AND ts >= $5 AND ts < $6{unit_filter} {rest}"
    );
    let mut query = sqlx::query(sql.as_str())
        .bind(series.namespace)
        .bind(series.metric_name)
        .bind(series.dims)
        .bind(period_ms)
        .bind(series.start_ms)
        .bind(series.end_ms)
        .bind(limit);
    if let Some(unit) = series.unit {
        query = query.bind(unit);
    }
    query
}

/// Datapoints and known metrics in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct MetricStore {
    db: Db,
}

impl MetricStore {
    /// Opens (creating if needed) the metrics store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The database's clock (milliseconds since the epoch).
    pub async fn now_ms(&self) -> Result<i64> {
        Ok(self.db.now_ms().await?)
    }

    /// Stores datapoints, and marks their metrics published to at `now`, in one transaction.
    pub async fn put(&self, points: &[NewPoint], now: i64) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::with_capacity(points.len());
        // Sorted and unique: the order every writer takes the metrics' rows in.
        let mut known: BTreeMap<(&str, &str, String), &Dimensions> = BTreeMap::new();
        for p in points {
            let key = dims_key(&p.dims);
            let raw = match &p.values {
                Some(v) => {
                    Some(serde_json::to_string(v).map_err(|e| MetricsError::corrupt("a datapoint's values", e))?)
                }
                None => None,
            };
            known.entry((p.namespace.as_str(), p.metric_name.as_str(), key.clone())).or_insert(&p.dims);
            rows.push((p, key, raw));
        }

        let mut tx = self.db.write().await?;
        for chunk in rows.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO datapoints (namespace, metric_name, dims, ts, unit, sample_count, value_sum, value_min, \
                 value_max, raw_values) VALUES {}",
                values_clause(chunk.len(), 10)
            );
            let mut query = sqlx::query(&sql);
            for (p, key, raw) in chunk {
                query = query
                    .bind(p.namespace.as_str())
                    .bind(p.metric_name.as_str())
                    .bind(key.as_str())
                    .bind(p.timestamp_ms)
                    .bind(p.unit.as_str())
                    .bind(p.samples)
                    .bind(p.sum)
                    .bind(p.min)
                    .bind(p.max)
                    .bind(raw.as_deref());
            }
            query.execute(&mut *tx).await?;
        }

        let metrics: Vec<_> = known.iter().collect();
        for chunk in metrics.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO metrics (namespace, metric_name, dims, last_put) VALUES {} \
                 ON CONFLICT (namespace, metric_name, dims) DO UPDATE SET last_put = excluded.last_put \
                 WHERE metrics.last_put < excluded.last_put - {LAST_PUT_GRANULARITY_MS}",
                values_clause(chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for ((namespace, metric_name, key), _) in chunk {
                query = query.bind(*namespace).bind(*metric_name).bind(key.as_str()).bind(now);
            }
            query.execute(&mut *tx).await?;
        }

        let dimensions: Vec<_> = known
            .iter()
            .flat_map(|((namespace, metric_name, key), dims)| {
                dims.iter().map(move |(name, value)| (*namespace, *metric_name, key.as_str(), name, value))
            })
            .collect();
        for chunk in dimensions.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO metric_dimensions (namespace, metric_name, dims, name, value) VALUES {} \
                 ON CONFLICT DO NOTHING",
                values_clause(chunk.len(), 5)
            );
            let mut query = sqlx::query(&sql);
            for (namespace, metric_name, key, name, value) in chunk {
                query = query.bind(*namespace).bind(*metric_name).bind(*key).bind(name.as_str()).bind(value.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The statistics of each period of `period_ms` (from the epoch) that has data, in
    /// time order (then by unit when `by_unit`), at most `limit` of them.
    pub async fn buckets(&self, series: &Series<'_>, period_ms: i64, by_unit: bool, limit: i64) -> Result<Vec<Bucket>> {
        let mut sql = String::new();
        let query = series_query(
            &mut sql,
            series,
            (period_ms, by_unit, limit),
            "SUM(sample_count) AS samples, SUM(value_sum) AS total, MIN(value_min) AS low, MAX(value_max) AS high",
            "GROUP BY bucket{unit} ORDER BY bucket{unit} LIMIT $7",
        );
        let rows = query.fetch_all(self.db.reader()).await?;
        rows.iter().map(|r| bucket_from_row(r, period_ms, by_unit)).collect()
    }

    /// The series' datapoints one by one, in time order, each as a bucket of the period
    /// (and unit when `by_unit`) it falls in, at most `limit` of them.
    pub async fn points(&self, series: &Series<'_>, period_ms: i64, by_unit: bool, limit: i64) -> Result<Vec<Bucket>> {
        let mut sql = String::new();
        let query = series_query(
            &mut sql,
            series,
            (period_ms, by_unit, limit),
            "sample_count, value_sum, value_min, value_max, raw_values",
            "ORDER BY ts LIMIT $7",
        );
        let rows = query.fetch_all(self.db.reader()).await?;
        rows.iter()
            .map(|row| {
                let bucket: i64 = row.col("bucket")?;
                let raw: Option<String> = row.col("raw_values")?;
                let values = match raw {
                    Some(raw) => {
                        Some(serde_json::from_str(&raw).map_err(|e| MetricsError::corrupt("a datapoint's values", e))?)
                    }
                    None => None,
                };
                Ok(Bucket {
                    start_ms: bucket.saturating_mul(period_ms),
                    unit: if by_unit { Some(row.col("unit")?) } else { None },
                    samples: row.col("sample_count")?,
                    sum: row.col("value_sum")?,
                    min: row.col("value_min")?,
                    max: row.col("value_max")?,
                    values,
                })
            })
            .collect()
    }

    /// Known metrics matching `filter`, in key order after `after`, at most `limit`.
    pub async fn list(&self, filter: &ListFilter, after: Option<&MetricKey>, limit: i64) -> Result<Vec<MetricKey>> {
        let mut args = vec![Arg::Int(filter.active_since)];
        let mut sql = String::from("SELECT m.namespace, m.metric_name, m.dims FROM metrics m WHERE m.last_put >= $1");
        if let Some(namespace) = &filter.namespace {
            let p = arg(&mut args, Arg::Text(namespace.clone()));
            let _ = write!(sql, " AND m.namespace = {p}");
        }
        if let Some(metric_name) = &filter.metric_name {
            let p = arg(&mut args, Arg::Text(metric_name.clone()));
            let _ = write!(sql, " AND m.metric_name = {p}");
        }
        for (name, value) in &filter.dimensions {
            let p = arg(&mut args, Arg::Text(name.clone()));
            let _ = write!(
                sql,
                " AND EXISTS (SELECT 1 FROM metric_dimensions d WHERE d.namespace = m.namespace \
                 AND d.metric_name = m.metric_name AND d.dims = m.dims AND d.name = {p}"
            );
            if let Some(value) = value {
                let p = arg(&mut args, Arg::Text(value.clone()));
                let _ = write!(sql, " AND d.value = {p}");
            }
            sql.push(')');
        }
        if let Some(after) = after {
            let n = arg(&mut args, Arg::Text(after.namespace.clone()));
            let m = arg(&mut args, Arg::Text(after.metric_name.clone()));
            let d = arg(&mut args, Arg::Text(after.dims.clone()));
            let _ = write!(
                sql,
                " AND (m.namespace > {n} OR (m.namespace = {n} AND (m.metric_name > {m} \
                 OR (m.metric_name = {m} AND m.dims > {d}))))"
            );
        }
        let p = arg(&mut args, Arg::Int(limit));
        let _ = write!(sql, " ORDER BY m.namespace, m.metric_name, m.dims LIMIT {p}");
        let rows = bind_all(sqlx::query(&sql), args).fetch_all(self.db.reader()).await?;
        rows.iter()
            .map(|row| {
                Ok(MetricKey {
                    namespace: row.col("namespace")?,
                    metric_name: row.col("metric_name")?,
                    dims: row.col("dims")?,
                })
            })
            .collect()
    }

    /// Deletes up to `limit` datapoints timestamped before `before`, oldest first.
    pub async fn expire_points(&self, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "DELETE FROM datapoints WHERE id IN (SELECT id FROM datapoints WHERE ts < $1 ORDER BY ts LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Forgets up to `limit` known metrics not published to since `before` (with their
    /// dimension rows).
    pub async fn forget_metrics(&self, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "DELETE FROM metrics WHERE (namespace, metric_name, dims) IN \
             (SELECT namespace, metric_name, dims FROM metrics WHERE last_put < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
