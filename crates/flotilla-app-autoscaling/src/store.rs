//! Scalable targets, scaling policies (and the alarms target tracking owns), scheduled
//! actions and scaling activities on the storage foundation (SQLite's
//! `appautoscaling.db`, or the `appautoscaling` schema on PostgreSQL).
//!
//! Every change is one transaction. Changes to one target are serialised by the
//! service (`AppAutoScalingService::target_lock`: in the process, and across
//! processes on PostgreSQL), so what a call read stays true until it writes. Removing
//! a policy or a target records its alarms in `alarm_work` in the same transaction, so
//! alarms are deleted even if the call is cut short (the housekeeping controller
//! finishes the work).

mod activities;
mod policies;
mod scheduled;
#[cfg(test)]
mod tests;

pub use activities::{ActivityFilter, ActivityRow, NewActivity};
pub use policies::PolicyRow;
pub use scheduled::ActionRow;

use crate::decide::{Bounds, LastScaling, Suspended};
use crate::error::{Result, ScalingError};
use crate::model::TargetKey;
use flotilla_db::{Db, LockMode, Migrations, RowExt, SessionLock, StoreLocation, Tx};
use sqlx::any::AnyRow;
use std::collections::BTreeMap;

static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The store's name: `appautoscaling.db` on SQLite, schema `appautoscaling` on PostgreSQL.
pub const STORE_NAME: &str = "appautoscaling";

/// A stored scalable target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub key: TargetKey,
    /// The id in its ARN.
    pub target_id: String,
    pub bounds: Bounds,
    pub role_arn: String,
    pub suspended: Suspended,
    pub tags: BTreeMap<String, String>,
    pub created_at: i64,
    pub last: LastScaling,
}

/// What RegisterScalableTarget changes; `None` keeps what is stored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registration {
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub role_arn: Option<String>,
    pub suspended_in: Option<bool>,
    pub suspended_out: Option<bool>,
    pub suspended_scheduled: Option<bool>,
    /// Applied only when the target is created (AWS: tag existing ones with TagResource).
    pub tags: BTreeMap<String, String>,
}

/// A scaling that moves a target's cooldown state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingMark {
    /// Scaled out at `at`, from `from` tasks (a scale-out ends a scale-in cooldown).
    Out {
        at: i64,
        from: i64,
    },
    In {
        at: i64,
    },
}

/// What `alarm_work` holds for an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmOp {
    /// Being created for a policy not stored yet: deleted unless a policy owns it.
    Pending,
    /// Its policy is gone: delete it.
    Delete,
}

impl AlarmOp {
    fn as_str(self) -> &'static str {
        match self {
            AlarmOp::Pending => "pending",
            AlarmOp::Delete => "delete",
        }
    }
}

/// An alarm in `alarm_work`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmWork {
    pub name: String,
    pub op: AlarmOp,
    /// Whether a policy owns it (a pending alarm whose policy was stored).
    pub owned: bool,
    pub created_at: i64,
}

/// Targets, policies, scheduled actions and activities in a SQL database (through [`Db`]).
#[derive(Clone)]
pub struct ScalingStore {
    db: Db,
}

fn bool_col(row: &AnyRow, name: &str) -> Result<bool> {
    Ok(row.col::<i64>(name)? != 0)
}

fn target_from_row(row: &AnyRow) -> Result<TargetRow> {
    let tags: String = row.col("tags")?;
    let scale_out = match (row.col::<Option<i64>>("last_scale_out_at")?, row.col::<Option<i64>>("last_scale_out_from")?)
    {
        (Some(at), Some(from)) => Some((at, from)),
        _ => None,
    };
    Ok(TargetRow {
        key: TargetKey {
            namespace: row.col("namespace")?,
            resource_id: row.col("resource_id")?,
            dimension: row.col("dimension")?,
        },
        target_id: row.col("target_id")?,
        bounds: Bounds { min: row.col("min_capacity")?, max: row.col("max_capacity")? },
        role_arn: row.col("role_arn")?,
        suspended: Suspended {
            dynamic_in: bool_col(row, "suspended_in")?,
            dynamic_out: bool_col(row, "suspended_out")?,
            scheduled: bool_col(row, "suspended_scheduled")?,
        },
        tags: serde_json::from_str(&tags).map_err(|e| ScalingError::corrupt("a scalable target's tags", e))?,
        created_at: row.col("created_at")?,
        last: LastScaling { scale_out, scale_in_at: row.col("last_scale_in_at")? },
    })
}

const TARGET_COLUMNS: &str = "namespace, resource_id, dimension, target_id, min_capacity, max_capacity, role_arn, \
     suspended_in, suspended_out, suspended_scheduled, tags, created_at, last_scale_out_at, last_scale_out_from, \
     last_scale_in_at";

const KEY_MATCH: &str = "namespace = $1 AND resource_id = $2 AND dimension = $3";

fn tags_json(tags: &BTreeMap<String, String>) -> Result<String> {
    serde_json::to_string(tags).map_err(|e| ScalingError::corrupt("a scalable target's tags", e))
}

impl ScalingStore {
    /// Opens (creating if needed) the store at `location` and applies migrations.
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

    /// Holds target `key` against other processes sharing a PostgreSQL store until
    /// released (on SQLite the service's own lock is enough: one process owns the data).
    pub async fn lock_target(&self, key: &TargetKey) -> Result<SessionLock> {
        Ok(self
            .db
            .session_lock(&format!("appautoscaling-target:{}:{}", key.resource_id, key.dimension), LockMode::Exclusive)
            .await?)
    }

    pub async fn target(&self, key: &TargetKey) -> Result<Option<TargetRow>> {
        let row = sqlx::query(&format!("SELECT {TARGET_COLUMNS} FROM scalable_targets WHERE {KEY_MATCH}"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(target_from_row).transpose()
    }

    pub async fn target_by_id(&self, target_id: &str) -> Result<Option<TargetRow>> {
        let row = sqlx::query(&format!("SELECT {TARGET_COLUMNS} FROM scalable_targets WHERE target_id = $1"))
            .bind(target_id)
            .fetch_optional(self.db.reader())
            .await?;
        row.as_ref().map(target_from_row).transpose()
    }

    /// Targets of `namespace` ordered by (resource id, dimension), after `after`, only
    /// those of `resource_ids` (when any) and `dimension` (when given), at most `limit`.
    pub async fn targets(
        &self,
        namespace: &str,
        resource_ids: &[String],
        dimension: Option<&str>,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<TargetRow>> {
        let mut sql = format!(
            "SELECT {TARGET_COLUMNS} FROM scalable_targets WHERE namespace = $1 \
             AND ($2 IS NULL OR dimension = $3) AND ($4 IS NULL OR (resource_id, dimension) > ($5, $6))"
        );
        if !resource_ids.is_empty() {
            sql.push_str(&format!(" AND resource_id IN ({})", flotilla_db::placeholders(8, resource_ids.len())));
        }
        sql.push_str(" ORDER BY resource_id, dimension LIMIT $7");
        let mut query = sqlx::query(&sql)
            .bind(namespace)
            .bind(dimension.map(|_| 1i64))
            .bind(dimension)
            .bind(after.map(|_| 1i64))
            .bind(after.map(|a| a.0))
            .bind(after.map(|a| a.1))
            .bind(limit);
        for id in resource_ids {
            query = query.bind(id.as_str());
        }
        let rows = query.fetch_all(self.db.reader()).await?;
        rows.iter().map(target_from_row).collect()
    }

    /// Creates target `key` (min and max required) or changes what `change` gives;
    /// the stored target and whether it was created.
    pub async fn register(
        &self,
        key: &TargetKey,
        change: &Registration,
        target_id: &str,
        role_arn: &str,
        now: i64,
    ) -> Result<(TargetRow, bool)> {
        let mut tx = self.db.write().await?;
        let existing = sqlx::query(&format!("SELECT {TARGET_COLUMNS} FROM scalable_targets WHERE {KEY_MATCH}"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .fetch_optional(&mut *tx)
            .await?;
        let created = existing.is_none();
        match existing {
            None => {
                let (Some(min), Some(max)) = (change.min, change.max) else {
                    return Err(ScalingError::validation(
                        "MinCapacity and MaxCapacity are required to register a new scalable target.",
                    ));
                };
                check_bounds(min, max)?;
                sqlx::query(
                    "INSERT INTO scalable_targets (namespace, resource_id, dimension, target_id, min_capacity, \
                     max_capacity, role_arn, suspended_in, suspended_out, suspended_scheduled, tags, created_at, \
                     version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1)",
                )
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(target_id)
                .bind(min)
                .bind(max)
                .bind(change.role_arn.as_deref().unwrap_or(role_arn))
                .bind(i64::from(change.suspended_in.unwrap_or(false)))
                .bind(i64::from(change.suspended_out.unwrap_or(false)))
                .bind(i64::from(change.suspended_scheduled.unwrap_or(false)))
                .bind(tags_json(&change.tags)?)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            Some(row) => {
                let old = target_from_row(&row)?;
                let min = change.min.unwrap_or(old.bounds.min);
                let max = change.max.unwrap_or(old.bounds.max);
                check_bounds(min, max)?;
                sqlx::query(&format!(
                    "UPDATE scalable_targets SET min_capacity = $4, max_capacity = $5, role_arn = $6, \
                     suspended_in = $7, suspended_out = $8, suspended_scheduled = $9, version = version + 1 \
                     WHERE {KEY_MATCH}"
                ))
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(min)
                .bind(max)
                .bind(change.role_arn.as_deref().unwrap_or(&old.role_arn))
                .bind(i64::from(change.suspended_in.unwrap_or(old.suspended.dynamic_in)))
                .bind(i64::from(change.suspended_out.unwrap_or(old.suspended.dynamic_out)))
                .bind(i64::from(change.suspended_scheduled.unwrap_or(old.suspended.scheduled)))
                .execute(&mut *tx)
                .await?;
            }
        }
        let row = sqlx::query(&format!("SELECT {TARGET_COLUMNS} FROM scalable_targets WHERE {KEY_MATCH}"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .fetch_one(&mut *tx)
            .await?;
        let stored = target_from_row(&row)?;
        tx.commit().await?;
        Ok((stored, created))
    }

    /// Removes target `key` with its policies and scheduled actions; the alarms its
    /// policies owned (recorded for deletion), or `None` when there is no such target.
    pub async fn deregister(&self, key: &TargetKey, now: i64) -> Result<Option<Vec<String>>> {
        let mut tx = self.db.write().await?;
        let alarms = policies::alarms_of_target(&mut tx, key).await?;
        let done = sqlx::query(&format!("DELETE FROM scalable_targets WHERE {KEY_MATCH}"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        add_alarm_work(&mut tx, &alarms, AlarmOp::Delete, now).await?;
        tx.commit().await?;
        Ok(Some(alarms))
    }

    /// Sets target `key`'s bounds (a scheduled action); `false` when it is gone.
    pub async fn set_bounds(&self, key: &TargetKey, bounds: Bounds) -> Result<bool> {
        let mut tx = self.db.write().await?;
        let done = sqlx::query(&format!(
            "UPDATE scalable_targets SET min_capacity = $4, max_capacity = $5, version = version + 1 WHERE {KEY_MATCH}"
        ))
        .bind(&key.namespace)
        .bind(&key.resource_id)
        .bind(&key.dimension)
        .bind(bounds.min)
        .bind(bounds.max)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a scaling: moves the target's cooldown state (when `mark` is given) and
    /// stores the activities, in one transaction.
    pub async fn record_scaling(
        &self,
        key: &TargetKey,
        mark: Option<ScalingMark>,
        activities: &[NewActivity],
    ) -> Result<()> {
        let mut tx = self.db.write().await?;
        match mark {
            Some(ScalingMark::Out { at, from }) => {
                sqlx::query(&format!(
                    "UPDATE scalable_targets SET last_scale_out_at = $4, last_scale_out_from = $5, \
                     last_scale_in_at = NULL, version = version + 1 WHERE {KEY_MATCH}"
                ))
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(at)
                .bind(from)
                .execute(&mut *tx)
                .await?;
            }
            Some(ScalingMark::In { at }) => {
                sqlx::query(&format!(
                    "UPDATE scalable_targets SET last_scale_in_at = $4, version = version + 1 WHERE {KEY_MATCH}"
                ))
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            None => {}
        }
        activities::insert(&mut tx, activities).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a target's tags with what `change` makes of them; `None` when there is
    /// no target with this id.
    pub async fn change_tags(
        &self,
        target_id: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> Result<()>,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let mut tx = self.db.write().await?;
        let Some(row) = sqlx::query("SELECT tags FROM scalable_targets WHERE target_id = $1")
            .bind(target_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let tags: String = row.col("tags")?;
        let mut tags: BTreeMap<String, String> =
            serde_json::from_str(&tags).map_err(|e| ScalingError::corrupt("a scalable target's tags", e))?;
        change(&mut tags)?;
        sqlx::query("UPDATE scalable_targets SET tags = $1, version = version + 1 WHERE target_id = $2")
            .bind(tags_json(&tags)?)
            .bind(target_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(tags))
    }

    /// Records alarms in `alarm_work`.
    pub async fn add_alarm_work(&self, names: &[String], op: AlarmOp, now: i64) -> Result<()> {
        let mut tx = self.db.write().await?;
        add_alarm_work(&mut tx, names, op, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets alarms' work (done).
    pub async fn remove_alarm_work(&self, names: &[String]) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.write().await?;
        for name in names {
            sqlx::query("DELETE FROM alarm_work WHERE alarm_name = $1").bind(name).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Alarm work recorded before `before`, oldest first, at most `limit`.
    pub async fn alarm_work(&self, before: i64, limit: i64) -> Result<Vec<AlarmWork>> {
        let rows = sqlx::query(
            "SELECT w.alarm_name, w.op, w.created_at, CASE WHEN p.alarm_name IS NULL THEN 0 ELSE 1 END AS owned \
             FROM alarm_work w LEFT JOIN policy_alarms p ON p.alarm_name = w.alarm_name \
             WHERE w.created_at < $1 ORDER BY w.created_at, w.alarm_name LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(self.db.reader())
        .await?;
        rows.iter()
            .map(|r| {
                let op: String = r.col("op")?;
                let op = match op.as_str() {
                    "pending" => AlarmOp::Pending,
                    "delete" => AlarmOp::Delete,
                    other => return Err(ScalingError::corrupt("alarm work", other)),
                };
                Ok(AlarmWork {
                    name: r.col("alarm_name")?,
                    op,
                    owned: r.col::<i64>("owned")? != 0,
                    created_at: r.col("created_at")?,
                })
            })
            .collect()
    }
}

fn check_bounds(min: i64, max: i64) -> Result<()> {
    if min > max {
        return Err(ScalingError::validation(format!(
            "Minimum capacity ({min}) cannot be greater than maximum capacity ({max})."
        )));
    }
    Ok(())
}

/// Records alarms in `alarm_work` within `tx` (a name already there takes `op`).
async fn add_alarm_work(tx: &mut Tx, names: &[String], op: AlarmOp, now: i64) -> Result<()> {
    for name in names {
        sqlx::query(
            "INSERT INTO alarm_work (alarm_name, op, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (alarm_name) DO UPDATE SET op = $2, created_at = $3",
        )
        .bind(name)
        .bind(op.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
