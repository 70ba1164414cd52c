//! Durable log groups, streams and events on the storage foundation (SQLite's
//! `logs.db`, or the `logs` schema on PostgreSQL).
//!
//! Events are rows ordered by (timestamp, id): `id` grows with every insert, so
//! events of equal timestamp keep the order they arrived in, and a position in a
//! stream or group is a (timestamp, id) pair (what paging tokens carry).

use crate::error::{LogsError, Result};
use flotilla_db::{Db, Migrations, RowExt, StoreLocation};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `logs.db` on SQLite, schema `logs` on PostgreSQL.
pub const STORE_NAME: &str = "logs";
/// Rows per multi-row INSERT (6 parameters each, well under both databases' limits).
const INSERT_CHUNK: usize = 500;
/// AWS counts 26 bytes of overhead per event in a batch and in stored bytes.
pub const EVENT_OVERHEAD: i64 = 26;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub name: String,
    pub created_at: i64,
    pub retention_days: Option<i64>,
    pub class: String,
    pub kms_key_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The sum of its streams' stored bytes.
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub group: String,
    pub name: String,
    pub created_at: i64,
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub last_ingestion: Option<i64>,
    pub stored_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: i64,
    pub stream: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
}

/// A position among events: after (or before) this (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub timestamp: i64,
    pub id: i64,
}

/// Which events of a group a scan reads.
#[derive(Debug, Clone, Default)]
pub struct GroupScan {
    /// Only these streams (empty: every stream).
    pub streams: Vec<String>,
    pub stream_prefix: Option<String>,
    /// Inclusive.
    pub start: Option<i64>,
    /// Exclusive.
    pub end: Option<i64>,
    pub after: Option<Position>,
}

/// How stream listings are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOrder {
    Name,
    LastEventTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    NoGroup,
    NoStream,
    Exists,
}

/// A Logs Insights query as stored: its results once it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRecord {
    pub id: String,
    pub query: String,
    pub groups: Vec<String>,
    pub status: String,
    pub created_at: i64,
    pub results: Option<String>,
}

/// Log groups, streams, events and queries in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct LogStore {
    db: Db,
}

fn group_from_row(row: &AnyRow) -> Result<GroupRecord> {
    let tags: String = row.col("tags")?;
    let tags = serde_json::from_str(&tags).map_err(|e| LogsError::corrupt("a log group's tags", e))?;
    Ok(GroupRecord {
        name: row.col("name")?,
        created_at: row.col("created_at")?,
        retention_days: row.col("retention_days")?,
        class: row.col("class")?,
        kms_key_id: row.col("kms_key_id")?,
        tags,
        stored_bytes: row.col("stored_bytes")?,
    })
}

fn stream_from_row(row: &AnyRow) -> Result<StreamRecord> {
    Ok(StreamRecord {
        group: row.col("group_name")?,
        name: row.col("name")?,
        created_at: row.col("created_at")?,
        first_event: row.col("first_event")?,
        last_event: row.col("last_event")?,
        last_ingestion: row.col("last_ingestion")?,
        stored_bytes: row.col("stored_bytes")?,
    })
}

fn event_from_row(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        id: row.col("id")?,
        stream: row.col("stream_name")?,
        timestamp: row.col("timestamp")?,
        ingestion_time: row.col("ingestion_time")?,
        message: row.col("message")?,
    })
}

const GROUP_COLUMNS: &str = "g.name, g.created_at, g.retention_days, g.class, g.kms_key_id, g.tags, \
     CAST(COALESCE((SELECT SUM(s.stored_bytes) FROM log_streams s WHERE s.group_name = g.name), 0) AS BIGINT) \
     AS stored_bytes";

/// `LIKE` patterns match literally: `%`, `_` and the escape itself are escaped.
fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl LogStore {
    /// Opens (creating if needed) the logs store at `location` and applies migrations.
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

    /// Creates a group; [`Outcome::Exists`] when the name is taken.
    pub async fn create_group(&self, group: &GroupRecord) -> Result<Outcome> {
        let tags = serde_json::to_string(&group.tags).map_err(|e| LogsError::corrupt("a log group's tags", e))?;
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "INSERT INTO log_groups (name, created_at, retention_days, class, kms_key_id, tags) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&group.name)
        .bind(group.created_at)
        .bind(group.retention_days)
        .bind(&group.class)
        .bind(&group.kms_key_id)
        .bind(tags)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 { Outcome::Done } else { Outcome::Exists })
    }

    pub async fn group(&self, name: &str) -> Result<Option<GroupRecord>> {
        let row = sqlx::query(&format!("SELECT {GROUP_COLUMNS} FROM log_groups g WHERE g.name = $1"))
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// Groups by name after `after`, with the prefix, at most `limit`.
    pub async fn groups(&self, prefix: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<GroupRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM log_groups g \
             WHERE ($1 IS NULL OR g.name LIKE $2 ESCAPE '\\') AND ($3 IS NULL OR g.name > $4) \
             ORDER BY g.name LIMIT $5"
        ))
        .bind(prefix.map(|_| 1i64))
        .bind(prefix.map(like_prefix))
        .bind(after.map(|_| 1i64))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(group_from_row).collect()
    }

    /// Deletes a group with its streams and events; `false` when absent.
    pub async fn delete_group(&self, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM log_groups WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Sets (or clears) a group's retention; `false` when absent.
    pub async fn set_retention(&self, name: &str, days: Option<i64>) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("UPDATE log_groups SET retention_days = $1 WHERE name = $2")
            .bind(days)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces a group's tags with what `change` makes of them; `false` when absent.
    pub async fn change_tags(
        &self,
        name: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<()>,
    ) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let Some(row) =
            sqlx::query("SELECT tags FROM log_groups WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?
        else {
            return Ok(false);
        };
        let tags: String = row.col("tags")?;
        let mut tags: BTreeMap<String, String> =
            serde_json::from_str(&tags).map_err(|e| LogsError::corrupt("a log group's tags", e))?;
        change(&mut tags)?;
        let tags = serde_json::to_string(&tags).map_err(|e| LogsError::corrupt("a log group's tags", e))?;
        sqlx::query("UPDATE log_groups SET tags = $1 WHERE name = $2").bind(tags).bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Creates a stream in a group.
    pub async fn create_stream(&self, group: &str, name: &str, now: i64) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        let exists =
            sqlx::query("SELECT name FROM log_groups WHERE name = $1").bind(group).fetch_optional(&mut *tx).await?;
        if exists.is_none() {
            return Ok(Outcome::NoGroup);
        }
        let done = sqlx::query(
            "INSERT INTO log_streams (group_name, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (group_name, name) DO NOTHING",
        )
        .bind(group)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 { Outcome::Done } else { Outcome::Exists })
    }

    pub async fn stream(&self, group: &str, name: &str) -> Result<Option<StreamRecord>> {
        let row = sqlx::query("SELECT * FROM log_streams WHERE group_name = $1 AND name = $2")
            .bind(group)
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(stream_from_row).transpose()
    }

    /// A group's streams with the prefix, in `order` (descending if asked), after
    /// `offset` of them, at most `limit`.
    pub async fn streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        order: StreamOrder,
        descending: bool,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<StreamRecord>> {
        let direction = if descending { "DESC" } else { "ASC" };
        let order_by = match order {
            StreamOrder::Name => format!("name {direction}"),
            StreamOrder::LastEventTime => format!("COALESCE(last_event, 0) {direction}, name {direction}"),
        };
        let rows = sqlx::query(&format!(
            "SELECT * FROM log_streams WHERE group_name = $1 AND ($2 IS NULL OR name LIKE $3 ESCAPE '\\') \
             ORDER BY {order_by} LIMIT $4 OFFSET $5"
        ))
        .bind(group)
        .bind(prefix.map(|_| 1i64))
        .bind(prefix.map(like_prefix))
        .bind(limit)
        .bind(offset)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(stream_from_row).collect()
    }

    /// Deletes a stream with its events; `false` when absent.
    pub async fn delete_stream(&self, group: &str, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM log_streams WHERE group_name = $1 AND name = $2")
            .bind(group)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends (timestamp, message) events to a stream in one transaction, and keeps
    /// the stream's first and last event times, ingestion time and stored bytes.
    pub async fn put_events(&self, group: &str, stream: &str, events: &[(i64, String)], now: i64) -> Result<Outcome> {
        let mut tx = self.db.write().await?;
        let exists = sqlx::query("SELECT name FROM log_streams WHERE group_name = $1 AND name = $2")
            .bind(group)
            .bind(stream)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            let group_exists =
                sqlx::query("SELECT name FROM log_groups WHERE name = $1").bind(group).fetch_optional(&mut *tx).await?;
            return Ok(if group_exists.is_some() { Outcome::NoStream } else { Outcome::NoGroup });
        }
        for chunk in events.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO log_events (group_name, stream_name, timestamp, ingestion_time, message) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5));
            }
            let mut query = sqlx::query(&sql);
            for (timestamp, message) in chunk {
                query = query.bind(group).bind(stream).bind(*timestamp).bind(now).bind(message.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        let first = events.iter().map(|e| e.0).min();
        let last = events.iter().map(|e| e.0).max();
        let bytes: i64 = events.iter().map(|e| e.1.len() as i64 + EVENT_OVERHEAD).sum();
        sqlx::query(
            "UPDATE log_streams SET \
             first_event = CASE WHEN first_event IS NULL OR first_event > $1 THEN $1 ELSE first_event END, \
             last_event = CASE WHEN last_event IS NULL OR last_event < $2 THEN $2 ELSE last_event END, \
             last_ingestion = $3, stored_bytes = stored_bytes + $4 \
             WHERE group_name = $5 AND name = $6",
        )
        .bind(first)
        .bind(last)
        .bind(now)
        .bind(bytes)
        .bind(group)
        .bind(stream)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// A stream's events in [start, end), after `after` (forwards) or before it
    /// (backwards, returned newest first), at most `limit`. Only the bounds given
    /// become conditions, and the position is a row-value comparison, so both
    /// databases walk the (group, stream, timestamp, id) index from the position.
    pub async fn stream_events(
        &self,
        group: &str,
        stream: &str,
        range: (Option<i64>, Option<i64>),
        from: Option<Position>,
        forwards: bool,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        let (compare, direction) = if forwards { (">", "ASC") } else { ("<", "DESC") };
        let mut sql = String::from(
            "SELECT id, stream_name, timestamp, ingestion_time, message FROM log_events \
             WHERE group_name = $1 AND stream_name = $2",
        );
        let mut binds: Vec<i64> = Vec::new();
        let mut next = |sql: &mut String, condition: &str, values: &[i64]| {
            let mut condition = condition.to_string();
            for (i, v) in values.iter().enumerate() {
                condition = condition.replace(&format!("?{i}"), &format!("${}", binds.len() + 3));
                binds.push(*v);
            }
            sql.push_str(" AND ");
            sql.push_str(&condition);
        };
        if let Some(start) = range.0 {
            next(&mut sql, "timestamp >= ?0", &[start]);
        }
        if let Some(end) = range.1 {
            next(&mut sql, "timestamp < ?0", &[end]);
        }
        if let Some(p) = from {
            next(&mut sql, &format!("(timestamp, id) {compare} (?0, ?1)"), &[p.timestamp, p.id]);
        }
        sql.push_str(&format!(" ORDER BY timestamp {direction}, id {direction} LIMIT ${}", binds.len() + 3));
        let mut query = sqlx::query(&sql).bind(group).bind(stream);
        for b in &binds {
            query = query.bind(*b);
        }
        let rows = query.bind(limit).fetch_all(self.db.reader()).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A group's events in time order as `scan` selects them, at most `limit`.
    pub async fn group_events(&self, group: &str, scan: &GroupScan, limit: i64) -> Result<Vec<EventRecord>> {
        let mut sql = String::from(
            "SELECT id, stream_name, timestamp, ingestion_time, message FROM log_events WHERE group_name = $1",
        );
        let mut n = 1;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        let mut numbers: Vec<i64> = Vec::new();
        if let Some(start) = scan.start {
            sql.push_str(&format!(" AND timestamp >= {}", param()));
            numbers.push(start);
        }
        if let Some(end) = scan.end {
            sql.push_str(&format!(" AND timestamp < {}", param()));
            numbers.push(end);
        }
        if let Some(p) = scan.after {
            sql.push_str(&format!(" AND (timestamp, id) > ({}, {})", param(), param()));
            numbers.extend([p.timestamp, p.id]);
        }
        sql.push_str(&format!(" ORDER BY timestamp, id LIMIT {}", param()));
        numbers.push(limit);
        let mut texts: Vec<String> = Vec::new();
        if let Some(prefix) = &scan.stream_prefix {
            sql = sql.replacen(" ORDER BY", &format!(" AND stream_name LIKE {} ESCAPE '\\' ORDER BY", param()), 1);
            texts.push(like_prefix(prefix));
        }
        if !scan.streams.is_empty() {
            let list: Vec<String> = scan.streams.iter().map(|_| param()).collect();
            sql = sql.replacen(" ORDER BY", &format!(" AND stream_name IN ({}) ORDER BY", list.join(", ")), 1);
            texts.extend(scan.streams.iter().cloned());
        }
        let mut query = sqlx::query(&sql).bind(group);
        for v in &numbers {
            query = query.bind(*v);
        }
        for t in &texts {
            query = query.bind(t.as_str());
        }
        let rows = query.fetch_all(self.db.reader()).await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Deletes a group's events older than `before` (at most `limit` of them, so one
    /// pass never holds the writer long), and recounts the stored bytes of the
    /// streams it touched. Returns how many went.
    pub async fn expire(&self, group: &str, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "DELETE FROM log_events WHERE id IN \
             (SELECT id FROM log_events WHERE group_name = $1 AND timestamp < $2 ORDER BY timestamp, id LIMIT $3)",
        )
        .bind(group)
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            sqlx::query(&format!(
                "UPDATE log_streams SET \
                 stored_bytes = CAST(COALESCE((SELECT SUM(LENGTH(e.message) + {EVENT_OVERHEAD}) FROM log_events e \
                   WHERE e.group_name = log_streams.group_name AND e.stream_name = log_streams.name), 0) AS BIGINT), \
                 first_event = (SELECT MIN(e.timestamp) FROM log_events e \
                   WHERE e.group_name = log_streams.group_name AND e.stream_name = log_streams.name) \
                 WHERE group_name = $1 AND (first_event IS NULL OR first_event < $2)"
            ))
            .bind(group)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub async fn insert_query(&self, query: &QueryRecord) -> Result<()> {
        let groups = serde_json::to_string(&query.groups).map_err(|e| LogsError::corrupt("a query's groups", e))?;
        let mut tx = self.db.write().await?;
        sqlx::query(
            "INSERT INTO log_queries (id, query, groups, status, created_at, results) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&query.id)
        .bind(&query.query)
        .bind(groups)
        .bind(&query.status)
        .bind(query.created_at)
        .bind(&query.results)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a query from `from` status to `to` with its results; `false` when it was
    /// not in `from` (stopped meanwhile, say).
    pub async fn finish_query(&self, id: &str, from: &str, to: &str, results: Option<&str>) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("UPDATE log_queries SET status = $1, results = $2 WHERE id = $3 AND status = $4")
            .bind(to)
            .bind(results)
            .bind(id)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn query(&self, id: &str) -> Result<Option<QueryRecord>> {
        let row =
            sqlx::query("SELECT * FROM log_queries WHERE id = $1").bind(id).fetch_optional(self.db.reader()).await?;
        let Some(row) = row else { return Ok(None) };
        let groups: String = row.col("groups")?;
        Ok(Some(QueryRecord {
            id: row.col("id")?,
            query: row.col("query")?,
            groups: serde_json::from_str(&groups).map_err(|e| LogsError::corrupt("a query's groups", e))?,
            status: row.col("status")?,
            created_at: row.col("created_at")?,
            results: row.col("results")?,
        }))
    }

    /// Forgets queries created before `before` (Logs keeps results for 7 days).
    pub async fn forget_queries(&self, before: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM log_queries WHERE created_at < $1").bind(before).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
