//! Durable queues and messages on the storage foundation (SQLite's `sqs.db`, or the
//! `sqs` schema on PostgreSQL).
//!
//! A message is one row: delivered when `visible_at <= now` (its delay, then each
//! visibility timeout, moves that on), claimed by one conditional `UPDATE` per message
//! (`… WHERE id = $1 AND visible_at <= $now`), so two receivers never both get it: on
//! SQLite every write queues on the one writer, on PostgreSQL the second `UPDATE`
//! waits for the first's commit and then no longer matches. FIFO queues also take the
//! queue's transaction lock to send and receive, so deduplication, sequence numbers
//! and "nothing more from a group with a message in flight" hold across replicas.
//!
//! Nothing is deleted in bulk on a request's path: a purge moves the queue's
//! `purged_through` watermark and a deleted queue leaves a tombstone; expired, purged
//! and orphaned rows are removed in bounded batches by the `sqs-retention` controller,
//! and every read ignores them meanwhile.

use crate::error::{Result, SqsError};
use flotilla_db::{Db, Migrations, RowExt, StoreLocation, Tx};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `sqs.db` on SQLite, schema `sqs` on PostgreSQL.
pub const STORE_NAME: &str = "sqs";
/// How long a FIFO deduplication id is remembered.
pub const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// How long after the last purge another is refused.
pub const PURGE_INTERVAL_MS: i64 = 60 * 1000;
/// How long a receipt may keep a message in flight, from the receive.
pub const MAX_VISIBILITY_MS: i64 = 12 * 3600 * 1000;
/// Candidates read per claiming round beyond the messages wanted (others may win some).
const SPARE_CANDIDATES: i64 = 10;
/// FIFO candidates read at once (groups are served together from them).
const FIFO_CANDIDATES: i64 = 100;

const QUEUE_COLUMNS: &str = "id, name, fifo, attributes, tags, retention_ms, dead_letter_target, created_at, \
     modified_at, purged_at, purged_through";
const MESSAGE_COLUMNS: &str = "id, queue_id, message_id, body, attributes, trace_header, sent_at, visible_at, \
     receive_count, first_received_at, received_at, receipt, group_id, dedup_id, sequence_number, dlq_source";

/// A queue as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    /// Never reused: a queue deleted and created again is a new queue.
    pub id: i64,
    pub name: String,
    pub fifo: bool,
    /// The settable attributes, normalised (defaults filled in at creation).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub retention_ms: i64,
    /// The redrive policy's `deadLetterTargetArn`.
    pub dead_letter_target: Option<String>,
    pub created_at: i64,
    pub modified_at: i64,
    pub purged_at: Option<i64>,
    pub purged_through: i64,
}

impl QueueRecord {
    /// Messages sent at or before this are past the retention period.
    fn expired_at_or_before(&self, now: i64) -> i64 {
        now - self.retention_ms
    }
}

/// A queue to create.
#[derive(Debug, Clone)]
pub struct NewQueue {
    pub name: String,
    pub fifo: bool,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub retention_ms: i64,
    pub dead_letter_target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Created(QueueRecord),
    /// The name was taken; this is the queue that has it.
    Exists(QueueRecord),
}

/// A message to store.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub message_id: String,
    pub body: String,
    /// The message attributes as JSON, if any.
    pub attributes: Option<String>,
    pub trace_header: Option<String>,
    pub delay_ms: i64,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// FIFO: the deduplication id qualified by the queue's deduplication scope.
    pub dedup_key: Option<String>,
}

/// What became of a message sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
    pub sequence_number: Option<String>,
    /// A FIFO duplicate within the deduplication window: accepted, not stored again
    /// (the first message's id and sequence number are answered).
    pub duplicate: bool,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub row_id: i64,
    pub queue_id: i64,
    pub message_id: String,
    pub body: String,
    pub attributes: Option<String>,
    pub trace_header: Option<String>,
    pub sent_at: i64,
    pub visible_at: i64,
    pub receive_count: i64,
    pub first_received_at: Option<i64>,
    pub received_at: Option<i64>,
    /// The token of its current receipt.
    pub receipt: Option<String>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence_number: Option<String>,
    pub dlq_source: Option<String>,
}

/// Where messages received too often go.
#[derive(Debug, Clone)]
pub struct Redrive {
    pub dead_letter_queue_id: i64,
    pub source_arn: String,
    pub max_receive_count: i64,
}

/// One ReceiveMessage's claim.
#[derive(Debug, Clone)]
pub struct Claim {
    pub max: i64,
    pub visibility_ms: i64,
    pub redrive: Option<Redrive>,
}

#[derive(Debug, Clone, Default)]
pub struct Received {
    pub messages: Vec<MessageRecord>,
    /// How many were moved to the dead-letter queue instead.
    pub moved: usize,
}

/// A receipt: the message's row and the token of the receive that gave it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub row_id: i64,
    pub token: String,
}

/// What a visibility change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Done,
    /// Deleted, or received again since (its receipt is not the current one).
    Stale,
    NotInFlight,
    /// Beyond 12 hours from the receive.
    TooLong,
}

/// A queue's messages by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub visible: i64,
    pub in_flight: i64,
    pub delayed: i64,
    pub oldest_sent_at: Option<i64>,
}

/// A queue's activity since it was last taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    pub sent: i64,
    pub received: i64,
    pub deleted: i64,
    pub empty_receives: i64,
}

/// Queues and messages in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct SqsStore {
    db: Db,
}

fn queue_from_row(row: &AnyRow) -> Result<QueueRecord> {
    let attributes: String = row.col("attributes")?;
    let tags: String = row.col("tags")?;
    Ok(QueueRecord {
        id: row.col("id")?,
        name: row.col("name")?,
        fifo: row.col::<i64>("fifo")? != 0,
        attributes: serde_json::from_str(&attributes).map_err(|e| SqsError::corrupt("a queue's attributes", e))?,
        tags: serde_json::from_str(&tags).map_err(|e| SqsError::corrupt("a queue's tags", e))?,
        retention_ms: row.col("retention_ms")?,
        dead_letter_target: row.col("dead_letter_target")?,
        created_at: row.col("created_at")?,
        modified_at: row.col("modified_at")?,
        purged_at: row.col("purged_at")?,
        purged_through: row.col("purged_through")?,
    })
}

fn message_from_row(row: &AnyRow) -> Result<MessageRecord> {
    Ok(MessageRecord {
        row_id: row.col("id")?,
        queue_id: row.col("queue_id")?,
        message_id: row.col("message_id")?,
        body: row.col("body")?,
        attributes: row.col("attributes")?,
        trace_header: row.col("trace_header")?,
        sent_at: row.col("sent_at")?,
        visible_at: row.col("visible_at")?,
        receive_count: row.col("receive_count")?,
        first_received_at: row.col("first_received_at")?,
        received_at: row.col("received_at")?,
        receipt: row.col("receipt")?,
        group_id: row.col("group_id")?,
        dedup_id: row.col("dedup_id")?,
        sequence_number: row.col("sequence_number")?,
        dlq_source: row.col("dlq_source")?,
    })
}

fn to_json(map: &BTreeMap<String, String>, what: &str) -> Result<String> {
    serde_json::to_string(map).map_err(|e| SqsError::corrupt(what, e))
}

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

/// A FIFO sequence number: 20 digits, growing with every message of the queue.
fn sequence_number(n: i64) -> String {
    format!("1{n:019}")
}

fn fifo_lock(queue_id: i64) -> String {
    format!("fifo/{queue_id}")
}

impl SqsStore {
    /// Opens (creating if needed) the SQS store at `location` and applies migrations.
    pub async fn open(location: &StoreLocation) -> Result<Self> {
        let db = Db::open(location, STORE_NAME, &Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The readers' pool, for tests that look at rows directly.
    #[doc(hidden)]
    pub fn db_for_tests(&self) -> &flotilla_db::AnyPool {
        self.db.reader()
    }

    /// The database's clock (milliseconds since the epoch), which replicas share.
    pub async fn now_ms(&self) -> Result<i64> {
        Ok(self.db.now_ms().await?)
    }

    // ---- queues ----

    /// Creates a queue unless its name is taken.
    pub async fn create_queue(&self, queue: &NewQueue, now: i64) -> Result<Created> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "INSERT INTO queues (name, fifo, attributes, tags, retention_ms, dead_letter_target, created_at, \
             modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&queue.name)
        .bind(i64::from(queue.fifo))
        .bind(to_json(&queue.attributes, "a queue's attributes")?)
        .bind(to_json(&queue.tags, "a queue's tags")?)
        .bind(queue.retention_ms)
        .bind(&queue.dead_letter_target)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE name = $1"))
            .bind(&queue.name)
            .fetch_one(&mut *tx)
            .await?;
        let stored = queue_from_row(&row)?;
        tx.commit().await?;
        Ok(if done.rows_affected() == 1 { Created::Created(stored) } else { Created::Exists(stored) })
    }

    pub async fn queue(&self, name: &str) -> Result<Option<QueueRecord>> {
        let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(queue_from_row).transpose()
    }

    /// Queues by name after `after`, with the prefix, at most `limit`.
    pub async fn queues(&self, prefix: Option<&str>, after: Option<&str>, limit: i64) -> Result<Vec<QueueRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE ($1 IS NULL OR name LIKE $2 ESCAPE '\\') \
             AND ($3 IS NULL OR name > $4) ORDER BY name LIMIT $5"
        ))
        .bind(prefix.map(|_| 1i64))
        .bind(prefix.map(like_prefix))
        .bind(after.map(|_| 1i64))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(queue_from_row).collect()
    }

    /// Queues whose redrive policy targets `arn`, by name after `after`, at most `limit`.
    pub async fn dead_letter_sources(&self, arn: &str, after: Option<&str>, limit: i64) -> Result<Vec<QueueRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {QUEUE_COLUMNS} FROM queues WHERE dead_letter_target = $1 AND ($2 IS NULL OR name > $3) \
             ORDER BY name LIMIT $4"
        ))
        .bind(arn)
        .bind(after.map(|_| 1i64))
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(queue_from_row).collect()
    }

    /// Changes a queue's attributes or tags with `change` (which may refuse), under the
    /// queue's lock so concurrent changes never lose one another. `None` when absent.
    pub async fn change_queue(
        &self,
        id: i64,
        now: i64,
        change: impl FnOnce(&mut QueueRecord) -> Result<()>,
    ) -> Result<Option<QueueRecord>> {
        let mut tx = self.db.write().await?;
        self.db.lock(&mut tx, &format!("queue/{id}")).await?;
        let Some(row) = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let mut queue = queue_from_row(&row)?;
        change(&mut queue)?;
        queue.modified_at = now;
        sqlx::query(
            "UPDATE queues SET attributes = $1, tags = $2, retention_ms = $3, dead_letter_target = $4, \
             modified_at = $5 WHERE id = $6",
        )
        .bind(to_json(&queue.attributes, "a queue's attributes")?)
        .bind(to_json(&queue.tags, "a queue's tags")?)
        .bind(queue.retention_ms)
        .bind(&queue.dead_letter_target)
        .bind(queue.modified_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(queue))
    }

    /// Deletes a queue; its messages are left to the retention controller (they are
    /// unreachable at once: no queue has its id). `false` when absent.
    pub async fn delete_queue(&self, id: i64, now: i64) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM queues WHERE id = $1").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 1 {
            sqlx::query("INSERT INTO deleted_queues (id, deleted_at) VALUES ($1, $2)")
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM dedup WHERE queue_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Purges every message the queue holds now, unless it was purged less than 60 s
    /// ago (`false`). The messages are hidden at once and removed later.
    pub async fn purge(&self, queue: &QueueRecord, now: i64) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "UPDATE queues SET purged_at = $1, purged_through = CASE \
               WHEN (SELECT COALESCE(MAX(id), 0) FROM messages WHERE queue_id = $2) > purged_through \
               THEN (SELECT COALESCE(MAX(id), 0) FROM messages WHERE queue_id = $3) ELSE purged_through END \
             WHERE id = $4 AND (purged_at IS NULL OR purged_at <= $5)",
        )
        .bind(now)
        .bind(queue.id)
        .bind(queue.id)
        .bind(queue.id)
        .bind(now - PURGE_INTERVAL_MS)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // ---- sending ----

    /// Stores messages in one transaction, in order (FIFO: deduplicated within 5
    /// minutes and numbered, under the queue's lock).
    pub async fn send(&self, queue: &QueueRecord, messages: &[NewMessage], now: i64) -> Result<Vec<Sent>> {
        let mut tx = self.db.write().await?;
        if queue.fifo {
            self.db.lock(&mut tx, &fifo_lock(queue.id)).await?;
        }
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            let mut sequence = None;
            if queue.fifo {
                if let Some(key) = &m.dedup_key
                    && let Some(first) = live_duplicate(&mut tx, queue.id, key, now).await?
                {
                    out.push(first);
                    continue;
                }
                let row = sqlx::query(
                    "UPDATE queues SET last_sequence = last_sequence + 1 WHERE id = $1 RETURNING last_sequence",
                )
                .bind(queue.id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else { return Err(SqsError::no_queue()) };
                sequence = Some(sequence_number(row.col("last_sequence")?));
                if let Some(key) = &m.dedup_key {
                    remember_dedup(&mut tx, queue.id, key, &m.message_id, sequence.as_deref(), now).await?;
                }
            }
            sqlx::query(
                "INSERT INTO messages (queue_id, message_id, body, attributes, trace_header, sent_at, visible_at, \
                 group_id, dedup_id, sequence_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(queue.id)
            .bind(&m.message_id)
            .bind(&m.body)
            .bind(&m.attributes)
            .bind(&m.trace_header)
            .bind(now)
            .bind(now + m.delay_ms)
            .bind(&m.group_id)
            .bind(&m.dedup_id)
            .bind(&sequence)
            .execute(&mut *tx)
            .await?;
            out.push(Sent { message_id: m.message_id.clone(), sequence_number: sequence, duplicate: false });
        }
        let stored = out.iter().filter(|s| !s.duplicate).count() as i64;
        record(&mut tx, queue.id, now, Activity { sent: stored, ..Activity::default() }).await?;
        tx.commit().await?;
        Ok(out)
    }

    // ---- receiving ----

    /// Whether a receive could get something now (a read, so idle long polls never
    /// take the writer).
    pub async fn has_ready(&self, queue: &QueueRecord, now: i64) -> Result<bool> {
        Ok(if queue.fifo {
            !fifo_candidates(self.db.reader(), queue, now, 1).await?.is_empty()
        } else {
            !standard_candidates(self.db.reader(), queue, now, 1).await?.is_empty()
        })
    }

    /// How many of the queue's messages are in flight, counting at most `cap`.
    pub async fn in_flight(&self, queue: &QueueRecord, now: i64, cap: i64) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT id FROM messages WHERE queue_id = $1 AND visible_at > $2 \
             AND receive_count > 0 AND id > $3 AND sent_at > $4 LIMIT $5) t",
        )
        .bind(queue.id)
        .bind(now)
        .bind(queue.purged_through)
        .bind(queue.expired_at_or_before(now))
        .bind(cap)
        .fetch_one(self.db.reader())
        .await?;
        Ok(n)
    }

    /// Claims up to `claim.max` visible messages for `claim.visibility_ms`, each with a
    /// new receipt token; a message received more than the redrive policy allows is
    /// moved to the dead-letter queue instead.
    pub async fn receive(&self, queue: &QueueRecord, claim: &Claim, now: i64) -> Result<Received> {
        let mut tx = self.db.write().await?;
        let mut out = Received::default();
        if queue.fifo {
            self.db.lock(&mut tx, &fifo_lock(queue.id)).await?;
            let candidates = fifo_candidates(&mut *tx, queue, now, FIFO_CANDIDATES).await?;
            // Serve a group's messages together, groups in the order of their oldest.
            let mut groups: Vec<(String, Vec<i64>)> = Vec::new();
            for (id, group) in candidates {
                match groups.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, ids)) => ids.push(id),
                    None => groups.push((group, vec![id])),
                }
            }
            'groups: for (_, ids) in groups {
                for id in ids {
                    if out.messages.len() as i64 >= claim.max {
                        break 'groups;
                    }
                    if !claim_one(&mut tx, queue, claim, id, now, &mut out).await? {
                        // Someone else has it: the rest of its group must wait.
                        continue 'groups;
                    }
                }
            }
        } else {
            for _round in 0..3 {
                let wanted = claim.max - out.messages.len() as i64;
                if wanted <= 0 {
                    break;
                }
                let mut candidates = standard_candidates(&mut *tx, queue, now, wanted + SPARE_CANDIDATES).await?;
                if candidates.is_empty() {
                    break;
                }
                // Rows are locked in id order, as deletes and visibility changes lock
                // them, so that on PostgreSQL they never wait on one another in a cycle.
                candidates.sort_unstable();
                for id in candidates {
                    if out.messages.len() as i64 >= claim.max {
                        break;
                    }
                    claim_one(&mut tx, queue, claim, id, now, &mut out).await?;
                }
            }
        }
        if !out.messages.is_empty() {
            let received = out.messages.len() as i64;
            record(&mut tx, queue.id, now, Activity { received, ..Activity::default() }).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Counts a receive that found nothing (for `NumberOfEmptyReceives`).
    pub async fn record_empty_receive(&self, queue_id: i64, now: i64) -> Result<()> {
        let mut tx = self.db.write().await?;
        record(&mut tx, queue_id, now, Activity { empty_receives: 1, ..Activity::default() }).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- settling ----

    /// Deletes messages by receipt, in one transaction; per receipt, whether it
    /// deleted the message. A receipt that is not the message's current one deletes
    /// nothing; on a FIFO queue neither does one whose visibility timeout ran out.
    pub async fn delete(&self, queue: &QueueRecord, receipts: &[Receipt], now: i64) -> Result<Vec<bool>> {
        let mut tx = self.db.write().await?;
        let mut out = vec![false; receipts.len()];
        // Row order, so concurrent batches lock rows in the same order.
        let mut order: Vec<usize> = (0..receipts.len()).collect();
        order.sort_by_key(|&i| receipts[i].row_id);
        for i in order {
            let r = &receipts[i];
            let done = sqlx::query(
                "DELETE FROM messages WHERE id = $1 AND queue_id = $2 AND receipt = $3 AND ($4 = 0 OR visible_at > $5)",
            )
            .bind(r.row_id)
            .bind(queue.id)
            .bind(&r.token)
            .bind(i64::from(queue.fifo))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            out[i] = done.rows_affected() == 1;
        }
        let deleted = out.iter().filter(|d| **d).count() as i64;
        if deleted > 0 {
            record(&mut tx, queue.id, now, Activity { deleted, ..Activity::default() }).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Sets the visibility timeouts of messages in flight, by receipt, in one transaction.
    pub async fn change_visibility(
        &self,
        queue: &QueueRecord,
        changes: &[(Receipt, i64)],
        now: i64,
    ) -> Result<Vec<Changed>> {
        let mut tx = self.db.write().await?;
        let mut out = vec![Changed::Stale; changes.len()];
        let mut order: Vec<usize> = (0..changes.len()).collect();
        order.sort_by_key(|&i| changes[i].0.row_id);
        for i in order {
            let (r, visibility_ms) = &changes[i];
            let row = sqlx::query("SELECT receipt, received_at FROM messages WHERE id = $1 AND queue_id = $2")
                .bind(r.row_id)
                .bind(queue.id)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { continue };
            if row.col::<Option<String>>("receipt")?.as_deref() != Some(r.token.as_str()) {
                continue;
            }
            let received_at: i64 = row.col::<Option<i64>>("received_at")?.unwrap_or(now);
            if now + visibility_ms > received_at + MAX_VISIBILITY_MS {
                out[i] = Changed::TooLong;
                continue;
            }
            let done =
                sqlx::query("UPDATE messages SET visible_at = $1 WHERE id = $2 AND receipt = $3 AND visible_at > $4")
                    .bind(now + visibility_ms)
                    .bind(r.row_id)
                    .bind(&r.token)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            out[i] = if done.rows_affected() == 1 { Changed::Done } else { Changed::NotInFlight };
        }
        tx.commit().await?;
        Ok(out)
    }

    // ---- counting ----

    /// The queue's messages by state (expired and purged ones are gone already).
    pub async fn counts(&self, queue: &QueueRecord, now: i64) -> Result<Counts> {
        let row = sqlx::query(
            "SELECT \
               CAST(COALESCE(SUM(CASE WHEN visible_at <= $1 THEN 1 ELSE 0 END), 0) AS BIGINT) AS visible, \
               CAST(COALESCE(SUM(CASE WHEN visible_at > $2 AND receive_count > 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 AS in_flight, \
               CAST(COALESCE(SUM(CASE WHEN visible_at > $3 AND receive_count = 0 THEN 1 ELSE 0 END), 0) AS BIGINT) \
                 AS delayed, \
               MIN(sent_at) AS oldest \
             FROM messages WHERE queue_id = $4 AND id > $5 AND sent_at > $6",
        )
        .bind(now)
        .bind(now)
        .bind(now)
        .bind(queue.id)
        .bind(queue.purged_through)
        .bind(queue.expired_at_or_before(now))
        .fetch_one(self.db.reader())
        .await?;
        Ok(Counts {
            visible: row.col("visible")?,
            in_flight: row.col("in_flight")?,
            delayed: row.col("delayed")?,
            oldest_sent_at: row.col("oldest")?,
        })
    }

    /// The activity recorded up to now, per queue id, with the last row it covers
    /// (give that to [`SqsStore::forget_activity`] once it is published).
    pub async fn activity(&self) -> Result<(i64, BTreeMap<i64, Activity>)> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM activity").fetch_one(self.db.reader()).await?;
        let Some(last) = last else { return Ok((0, BTreeMap::new())) };
        let rows = sqlx::query(
            "SELECT queue_id, CAST(SUM(sent) AS BIGINT) AS sent, CAST(SUM(received) AS BIGINT) AS received, \
             CAST(SUM(deleted) AS BIGINT) AS deleted, CAST(SUM(empty_receives) AS BIGINT) AS empty_receives \
             FROM activity WHERE id <= $1 GROUP BY queue_id",
        )
        .bind(last)
        .fetch_all(self.db.reader())
        .await?;
        let mut out = BTreeMap::new();
        for row in &rows {
            out.insert(
                row.col("queue_id")?,
                Activity {
                    sent: row.col("sent")?,
                    received: row.col("received")?,
                    deleted: row.col("deleted")?,
                    empty_receives: row.col("empty_receives")?,
                },
            );
        }
        Ok((last, out))
    }

    /// Forgets the activity up to row `last` (published), and any older than `before`.
    pub async fn forget_activity(&self, last: i64, before: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM activity WHERE id <= $1 OR at < $2")
            .bind(last)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    // ---- retention ----

    /// Deletes up to `limit` of the queue's messages past retention or purged;
    /// returns how many went.
    pub async fn expire(&self, queue: &QueueRecord, now: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let mut gone = sqlx::query(
            "DELETE FROM messages WHERE id IN \
             (SELECT id FROM messages WHERE queue_id = $1 AND sent_at <= $2 LIMIT $3)",
        )
        .bind(queue.id)
        .bind(queue.expired_at_or_before(now))
        .bind(limit)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if let Some(purged_at) = queue.purged_at
            && queue.purged_through > 0
            && (gone as i64) < limit
        {
            gone += sqlx::query(
                "DELETE FROM messages WHERE id IN \
                 (SELECT id FROM messages WHERE queue_id = $1 AND sent_at <= $2 AND id <= $3 LIMIT $4)",
            )
            .bind(queue.id)
            .bind(purged_at)
            .bind(queue.purged_through)
            .bind(limit - gone as i64)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Deletes up to `limit` messages of deleted queues, and forgets a deleted queue
    /// once none of its messages is left; returns how many messages went.
    pub async fn sweep_deleted(&self, limit: i64) -> Result<u64> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM deleted_queues ORDER BY id LIMIT 100")
            .fetch_all(self.db.reader())
            .await?;
        let mut gone = 0u64;
        for id in ids {
            let mut tx = self.db.write().await?;
            let n =
                sqlx::query("DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE queue_id = $1 LIMIT $2)")
                    .bind(id)
                    .bind(limit - gone as i64)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            gone += n;
            if (n as i64) < limit {
                sqlx::query("DELETE FROM deleted_queues WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            if gone as i64 >= limit {
                break;
            }
        }
        Ok(gone)
    }

    /// Forgets FIFO deduplication ids older than the window.
    pub async fn forget_dedup(&self, now: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query("DELETE FROM dedup WHERE created_at <= $1")
            .bind(now - DEDUP_WINDOW_MS)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

/// The first message sent with this deduplication key in the window, if any.
async fn live_duplicate(tx: &mut Tx, queue_id: i64, key: &str, now: i64) -> Result<Option<Sent>> {
    let row = sqlx::query(
        "SELECT message_id, sequence_number FROM dedup WHERE queue_id = $1 AND dedup_key = $2 AND created_at > $3",
    )
    .bind(queue_id)
    .bind(key)
    .bind(now - DEDUP_WINDOW_MS)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|row| {
        Ok(Sent { message_id: row.col("message_id")?, sequence_number: row.col("sequence_number")?, duplicate: true })
    })
    .transpose()
}

async fn remember_dedup(
    tx: &mut Tx,
    queue_id: i64,
    key: &str,
    message_id: &str,
    sequence: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO dedup (queue_id, dedup_key, message_id, sequence_number, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (queue_id, dedup_key) DO UPDATE SET message_id = $6, sequence_number = $7, created_at = $8",
    )
    .bind(queue_id)
    .bind(key)
    .bind(message_id)
    .bind(sequence)
    .bind(now)
    .bind(message_id)
    .bind(sequence)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn record(tx: &mut Tx, queue_id: i64, now: i64, a: Activity) -> Result<()> {
    sqlx::query(
        "INSERT INTO activity (queue_id, at, sent, received, deleted, empty_receives) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(queue_id)
    .bind(now)
    .bind(a.sent)
    .bind(a.received)
    .bind(a.deleted)
    .bind(a.empty_receives)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Visible, live messages of a standard queue in the order they became visible.
async fn standard_candidates<'e, E>(db: E, queue: &QueueRecord, now: i64, limit: i64) -> Result<Vec<i64>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    Ok(sqlx::query_scalar(
        "SELECT id FROM messages WHERE queue_id = $1 AND visible_at <= $2 AND id > $3 AND sent_at > $4 \
         ORDER BY visible_at, id LIMIT $5",
    )
    .bind(queue.id)
    .bind(now)
    .bind(queue.purged_through)
    .bind(queue.expired_at_or_before(now))
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Visible, live messages of a FIFO queue in order, (id, group), leaving out every
/// group with a message in flight (or delayed), so a group is only ever served from
/// its head.
async fn fifo_candidates<'e, E>(db: E, queue: &QueueRecord, now: i64, limit: i64) -> Result<Vec<(i64, String)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let cutoff = queue.expired_at_or_before(now);
    let rows = sqlx::query(
        "SELECT id, group_id FROM messages WHERE queue_id = $1 AND visible_at <= $2 AND id > $3 AND sent_at > $4 \
         AND group_id NOT IN (SELECT group_id FROM messages WHERE queue_id = $5 AND visible_at > $6 AND id > $7 \
           AND sent_at > $8 AND group_id IS NOT NULL) \
         ORDER BY id LIMIT $9",
    )
    .bind(queue.id)
    .bind(now)
    .bind(queue.purged_through)
    .bind(cutoff)
    .bind(queue.id)
    .bind(now)
    .bind(queue.purged_through)
    .bind(cutoff)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter().map(|r| Ok((r.col("id")?, r.col::<Option<String>>("group_id")?.unwrap_or_default()))).collect()
}

/// Claims message `id` if it is still visible; moves it to the dead-letter queue when
/// this receive is one more than the redrive policy allows. `false` when another
/// receiver had it first.
async fn claim_one(
    tx: &mut Tx,
    queue: &QueueRecord,
    claim: &Claim,
    id: i64,
    now: i64,
    out: &mut Received,
) -> Result<bool> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let row = sqlx::query(&format!(
        "UPDATE messages SET visible_at = $1, receive_count = receive_count + 1, receipt = $2, received_at = $3, \
         first_received_at = COALESCE(first_received_at, $4) \
         WHERE id = $5 AND queue_id = $6 AND visible_at <= $7 RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(now + claim.visibility_ms)
    .bind(&token)
    .bind(now)
    .bind(now)
    .bind(id)
    .bind(queue.id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let message = message_from_row(&row)?;
    match &claim.redrive {
        Some(r) if message.receive_count > r.max_receive_count => {
            move_to_dead_letter_queue(tx, &message, r, now).await?;
            out.moved += 1;
        }
        _ => out.messages.push(message),
    }
    Ok(true)
}

/// Moves a claimed message to the dead-letter queue as a new row there (so it sorts
/// after what the queue holds and is not hidden by a purge of it), keeping its id,
/// body, attributes and sent time; it is visible there at once, never received yet.
async fn move_to_dead_letter_queue(tx: &mut Tx, m: &MessageRecord, r: &Redrive, now: i64) -> Result<()> {
    sqlx::query("DELETE FROM messages WHERE id = $1").bind(m.row_id).execute(&mut **tx).await?;
    sqlx::query(
        "INSERT INTO messages (queue_id, message_id, body, attributes, trace_header, sent_at, visible_at, group_id, \
         dedup_id, sequence_number, dlq_source) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(r.dead_letter_queue_id)
    .bind(&m.message_id)
    .bind(&m.body)
    .bind(&m.attributes)
    .bind(&m.trace_header)
    .bind(m.sent_at)
    .bind(now)
    .bind(&m.group_id)
    .bind(&m.dedup_id)
    .bind(&m.sequence_number)
    .bind(&r.source_arn)
    .execute(&mut **tx)
    .await?;
    tracing::info!(message_id = %m.message_id, from = %r.source_arn, receives = m.receive_count - 1,
        "message moved to its dead-letter queue");
    Ok(())
}
