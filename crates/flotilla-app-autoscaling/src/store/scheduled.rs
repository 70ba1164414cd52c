//! Scheduled actions, with when each last fired and fires next.

use super::{KEY_MATCH, ScalingStore};
use crate::error::{Result, ScalingError};
use crate::model::TargetKey;
use flotilla_db::RowExt;
use sqlx::any::AnyRow;

/// A stored scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    pub key: TargetKey,
    pub name: String,
    pub action_id: String,
    pub schedule: String,
    pub timezone: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub created_at: i64,
    /// The last fire time, or when the action was put.
    pub last_fired: i64,
    pub next_fire: Option<i64>,
}

const COLUMNS: &str = "namespace, resource_id, dimension, name, action_id, schedule, timezone, start_time, end_time, \
     min_capacity, max_capacity, created_at, last_fired, next_fire";

fn action_from_row(row: &AnyRow) -> Result<ActionRow> {
    Ok(ActionRow {
        key: TargetKey {
            namespace: row.col("namespace")?,
            resource_id: row.col("resource_id")?,
            dimension: row.col("dimension")?,
        },
        name: row.col("name")?,
        action_id: row.col("action_id")?,
        schedule: row.col("schedule")?,
        timezone: row.col("timezone")?,
        start_time: row.col("start_time")?,
        end_time: row.col("end_time")?,
        min: row.col("min_capacity")?,
        max: row.col("max_capacity")?,
        created_at: row.col("created_at")?,
        last_fired: row.col("last_fired")?,
        next_fire: row.col("next_fire")?,
    })
}

impl ScalingStore {
    /// Creates or replaces scheduled action `a` (a replaced action keeps its id and
    /// creation time). Refused when its target is gone, or when it would be the
    /// target's `max_actions + 1`th.
    pub async fn put_action(&self, a: &ActionRow, max_actions: i64) -> Result<()> {
        let key = &a.key;
        let mut tx = self.db.write().await?;
        let target = sqlx::query(&format!("SELECT target_id FROM scalable_targets WHERE {KEY_MATCH}"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .fetch_optional(&mut *tx)
            .await?;
        if target.is_none() {
            return Err(ScalingError::ObjectNotFound(format!("No scalable target registered for {}", key.describe())));
        }
        let exists = sqlx::query(&format!("SELECT action_id FROM scheduled_actions WHERE {KEY_MATCH} AND name = $4"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(&a.name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if exists {
            sqlx::query(&format!(
                "UPDATE scheduled_actions SET schedule = $5, timezone = $6, start_time = $7, end_time = $8, \
                 min_capacity = $9, max_capacity = $10, last_fired = $11, next_fire = $12 \
                 WHERE {KEY_MATCH} AND name = $4"
            ))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(&a.name)
            .bind(&a.schedule)
            .bind(&a.timezone)
            .bind(a.start_time)
            .bind(a.end_time)
            .bind(a.min)
            .bind(a.max)
            .bind(a.last_fired)
            .bind(a.next_fire)
            .execute(&mut *tx)
            .await?;
        } else {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM scheduled_actions WHERE {KEY_MATCH}"))
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .fetch_one(&mut *tx)
                .await?;
            if count >= max_actions {
                return Err(ScalingError::LimitExceeded(format!(
                    "The maximum number of scheduled actions ({max_actions}) for {} has been reached.",
                    key.describe()
                )));
            }
            sqlx::query(&format!(
                "INSERT INTO scheduled_actions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                 $13, $14)"
            ))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(&a.name)
            .bind(&a.action_id)
            .bind(&a.schedule)
            .bind(&a.timezone)
            .bind(a.start_time)
            .bind(a.end_time)
            .bind(a.min)
            .bind(a.max)
            .bind(a.created_at)
            .bind(a.last_fired)
            .bind(a.next_fire)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn action(&self, key: &TargetKey, name: &str) -> Result<Option<ActionRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM scheduled_actions WHERE {KEY_MATCH} AND name = $4"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(name)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(action_from_row).transpose()
    }

    /// Scheduled actions of `namespace` ordered by (resource id, dimension, name),
    /// after `after`, filtered when asked, at most `limit`.
    pub async fn actions(
        &self,
        namespace: &str,
        resource_id: Option<&str>,
        dimension: Option<&str>,
        names: &[String],
        after: Option<(&str, &str, &str)>,
        limit: i64,
    ) -> Result<Vec<ActionRow>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM scheduled_actions WHERE namespace = $1 AND ($2 IS NULL OR resource_id = $3) \
             AND ($4 IS NULL OR dimension = $5) AND ($6 IS NULL OR (resource_id, dimension, name) > ($7, $8, $9))"
        );
        if !names.is_empty() {
            sql.push_str(&format!(" AND name IN ({})", flotilla_db::placeholders(11, names.len())));
        }
        sql.push_str(" ORDER BY resource_id, dimension, name LIMIT $10");
        let mut query = sqlx::query(&sql)
            .bind(namespace)
            .bind(resource_id.map(|_| 1i64))
            .bind(resource_id)
            .bind(dimension.map(|_| 1i64))
            .bind(dimension)
            .bind(after.map(|_| 1i64))
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .bind(after.map(|a| a.2))
            .bind(limit);
        for n in names {
            query = query.bind(n.as_str());
        }
        let rows = query.fetch_all(self.db.reader()).await?;
        rows.iter().map(action_from_row).collect()
    }

    /// Deletes a scheduled action; `false` when there is none.
    pub async fn delete_action(&self, key: &TargetKey, name: &str) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(&format!("DELETE FROM scheduled_actions WHERE {KEY_MATCH} AND name = $4"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Actions whose next fire time is at or before `now`, soonest first, at most `limit`.
    pub async fn due_actions(&self, now: i64, limit: i64) -> Result<Vec<ActionRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scheduled_actions WHERE next_fire IS NOT NULL AND next_fire <= $1 \
             ORDER BY next_fire, resource_id, name LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(action_from_row).collect()
    }

    /// Records that action `name` fired (or was passed over) up to `last_fired`, and
    /// when it fires next — only if it still fires at `was_next` (a PutScheduledAction
    /// meanwhile wins).
    pub async fn action_fired(
        &self,
        key: &TargetKey,
        name: &str,
        was_next: Option<i64>,
        last_fired: i64,
        next_fire: Option<i64>,
    ) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(&format!(
            "UPDATE scheduled_actions SET last_fired = $5, next_fire = $6 WHERE {KEY_MATCH} AND name = $4 \
             AND next_fire = $7"
        ))
        .bind(&key.namespace)
        .bind(&key.resource_id)
        .bind(&key.dimension)
        .bind(name)
        .bind(last_fired)
        .bind(next_fire)
        .bind(was_next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
