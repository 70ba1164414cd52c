//! Scaling activities: appended, read newest first, forgotten after six weeks.

use super::ScalingStore;
use crate::error::{Result, ScalingError};
use crate::model::TargetKey;
use flotilla_db::{RowExt, Tx};
use sqlx::any::AnyRow;

/// An activity to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub activity_id: String,
    pub key: TargetKey,
    pub description: String,
    pub cause: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    /// `Successful`, `Failed`, …
    pub status_code: String,
    pub status_message: Option<String>,
    pub details: Option<String>,
    /// `NotScaledReasons` as answered (JSON), for a not-scaled activity.
    pub not_scaled: Option<serde_json::Value>,
}

impl NewActivity {
    /// Whether it changed the capacity (or tried to): not a not-scaled activity.
    pub fn scaled(&self) -> bool {
        self.not_scaled.is_none()
    }
}

/// A stored activity, with its place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub seq: i64,
    pub activity: NewActivity,
}

/// DescribeScalingActivities' filters.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub namespace: String,
    pub resource_id: Option<String>,
    pub dimension: Option<String>,
    pub include_not_scaled: bool,
    /// Only activities older than this place in the log (paging).
    pub before_seq: Option<i64>,
}

fn activity_from_row(row: &AnyRow) -> Result<ActivityRow> {
    let not_scaled: Option<String> = row.col("not_scaled")?;
    Ok(ActivityRow {
        seq: row.col("id")?,
        activity: NewActivity {
            activity_id: row.col("activity_id")?,
            key: TargetKey {
                namespace: row.col("namespace")?,
                resource_id: row.col("resource_id")?,
                dimension: row.col("dimension")?,
            },
            description: row.col("description")?,
            cause: row.col("cause")?,
            start_time: row.col("start_time")?,
            end_time: row.col("end_time")?,
            status_code: row.col("status_code")?,
            status_message: row.col("status_message")?,
            details: row.col("details")?,
            not_scaled: not_scaled
                .map(|n| serde_json::from_str(&n))
                .transpose()
                .map_err(|e| ScalingError::corrupt("an activity's not scaled reasons", e))?,
        },
    })
}

/// Appends `activities` within `tx`, in order.
pub(super) async fn insert(tx: &mut Tx, activities: &[NewActivity]) -> Result<()> {
    for a in activities {
        let not_scaled = a
            .not_scaled
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| ScalingError::corrupt("an activity", e))?;
        sqlx::query(
            "INSERT INTO scaling_activities (activity_id, namespace, resource_id, dimension, description, cause, \
             start_time, end_time, status_code, status_message, details, not_scaled, scaled) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&a.activity_id)
        .bind(&a.key.namespace)
        .bind(&a.key.resource_id)
        .bind(&a.key.dimension)
        .bind(&a.description)
        .bind(&a.cause)
        .bind(a.start_time)
        .bind(a.end_time)
        .bind(&a.status_code)
        .bind(&a.status_message)
        .bind(&a.details)
        .bind(not_scaled)
        .bind(i64::from(a.scaled()))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl ScalingStore {
    /// Appends activities in one transaction.
    pub async fn add_activities(&self, activities: &[NewActivity]) -> Result<()> {
        if activities.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        insert(&mut tx, activities).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Activities as `filter` selects them, newest first, at most `limit`.
    pub async fn activities(&self, filter: &ActivityFilter, limit: i64) -> Result<Vec<ActivityRow>> {
        let rows = sqlx::query(
            "SELECT * FROM scaling_activities WHERE namespace = $1 AND ($2 IS NULL OR resource_id = $3) \
             AND ($4 IS NULL OR dimension = $5) AND ($6 IS NULL OR id < $7) AND ($8 = 1 OR scaled = 1) \
             ORDER BY id DESC LIMIT $9",
        )
        .bind(&filter.namespace)
        .bind(filter.resource_id.as_ref().map(|_| 1i64))
        .bind(filter.resource_id.as_deref())
        .bind(filter.dimension.as_ref().map(|_| 1i64))
        .bind(filter.dimension.as_deref())
        .bind(filter.before_seq.map(|_| 1i64))
        .bind(filter.before_seq)
        .bind(i64::from(filter.include_not_scaled))
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter().map(activity_from_row).collect()
    }

    /// Forgets activities started before `before` (at most `limit` of them); how many went.
    pub async fn expire_activities(&self, before: i64, limit: i64) -> Result<u64> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(
            "DELETE FROM scaling_activities WHERE id IN \
             (SELECT id FROM scaling_activities WHERE start_time < $1 ORDER BY id LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}
