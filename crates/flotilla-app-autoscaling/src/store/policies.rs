//! Scaling policies and the alarms they own.

use super::{AlarmOp, KEY_MATCH, ScalingStore, add_alarm_work};
use crate::error::{Result, ScalingError};
use crate::model::TargetKey;
use flotilla_db::{RowExt, Tx};
use sqlx::any::AnyRow;

/// A stored scaling policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRow {
    pub key: TargetKey,
    pub name: String,
    pub policy_id: String,
    /// `StepScaling` or `TargetTrackingScaling`.
    pub policy_type: String,
    /// The configuration document as answered (`StepScalingPolicyConfiguration` or
    /// `TargetTrackingScalingPolicyConfiguration`).
    pub config: serde_json::Value,
    pub created_at: i64,
    /// The CloudWatch alarms it owns (target tracking), in order.
    pub alarms: Vec<String>,
}

const COLUMNS: &str =
    "p.namespace, p.resource_id, p.dimension, p.name, p.policy_id, p.policy_type, p.config, p.created_at";

fn policy_from_row(row: &AnyRow) -> Result<PolicyRow> {
    let config: String = row.col("config")?;
    Ok(PolicyRow {
        key: TargetKey {
            namespace: row.col("namespace")?,
            resource_id: row.col("resource_id")?,
            dimension: row.col("dimension")?,
        },
        name: row.col("name")?,
        policy_id: row.col("policy_id")?,
        policy_type: row.col("policy_type")?,
        config: serde_json::from_str(&config)
            .map_err(|e| ScalingError::corrupt("a scaling policy's configuration", e))?,
        created_at: row.col("created_at")?,
        alarms: Vec::new(),
    })
}

/// The alarms every policy of target `key` owns.
pub(super) async fn alarms_of_target(tx: &mut Tx, key: &TargetKey) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT a.alarm_name FROM policy_alarms a JOIN scaling_policies p ON p.policy_id = a.policy_id \
         WHERE p.namespace = $1 AND p.resource_id = $2 AND p.dimension = $3 ORDER BY a.alarm_name",
    )
    .bind(&key.namespace)
    .bind(&key.resource_id)
    .bind(&key.dimension)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok(r.col("alarm_name")?)).collect()
}

impl ScalingStore {
    async fn with_alarms(&self, mut policies: Vec<PolicyRow>) -> Result<Vec<PolicyRow>> {
        for p in &mut policies {
            let rows = sqlx::query("SELECT alarm_name FROM policy_alarms WHERE policy_id = $1 ORDER BY position")
                .bind(&p.policy_id)
                .fetch_all(self.db.reader())
                .await?;
            p.alarms = rows.iter().map(|r| r.col("alarm_name")).collect::<std::result::Result<_, _>>()?;
        }
        Ok(policies)
    }

    pub async fn policy(&self, key: &TargetKey, name: &str) -> Result<Option<PolicyRow>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM scaling_policies p WHERE p.namespace = $1 AND p.resource_id = $2 \
             AND p.dimension = $3 AND p.name = $4"
        ))
        .bind(&key.namespace)
        .bind(&key.resource_id)
        .bind(&key.dimension)
        .bind(name)
        .fetch_optional(self.db.reader())
        .await?;
        let found = row.as_ref().map(policy_from_row).transpose()?;
        Ok(self.with_alarms(found.into_iter().collect()).await?.pop())
    }

    pub async fn policy_by_id(&self, policy_id: &str) -> Result<Option<PolicyRow>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM scaling_policies p WHERE p.policy_id = $1"))
            .bind(policy_id)
            .fetch_optional(self.db.reader())
            .await?;
        let found = row.as_ref().map(policy_from_row).transpose()?;
        Ok(self.with_alarms(found.into_iter().collect()).await?.pop())
    }

    /// Policies of `namespace` ordered by (resource id, dimension, name), after
    /// `after`, filtered by resource, dimension and names when given, at most `limit`.
    pub async fn policies(
        &self,
        namespace: &str,
        resource_id: Option<&str>,
        dimension: Option<&str>,
        names: &[String],
        after: Option<(&str, &str, &str)>,
        limit: i64,
    ) -> Result<Vec<PolicyRow>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM scaling_policies p WHERE p.namespace = $1 AND ($2 IS NULL OR p.resource_id = $3) \
             AND ($4 IS NULL OR p.dimension = $5) \
             AND ($6 IS NULL OR (p.resource_id, p.dimension, p.name) > ($7, $8, $9))"
        );
        if !names.is_empty() {
            sql.push_str(&format!(" AND p.name IN ({})", flotilla_db::placeholders(11, names.len())));
        }
        sql.push_str(" ORDER BY p.resource_id, p.dimension, p.name LIMIT $10");
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
        let policies = rows.iter().map(policy_from_row).collect::<Result<Vec<_>>>()?;
        self.with_alarms(policies).await
    }

    /// Creates or replaces policy `p` (keeping the stored id and creation time of a
    /// policy of that name) with the alarms it owns; alarms in `retired` (owned by its
    /// previous version, no longer) are recorded for deletion, and the `alarm_work` of
    /// its own alarms is done. Refused when its target is gone, or when it would be
    /// the target's `max_policies + 1`th. Returns the stored policy.
    pub async fn put_policy(
        &self,
        p: &PolicyRow,
        retired: &[String],
        max_policies: i64,
        now: i64,
    ) -> Result<PolicyRow> {
        let key = &p.key;
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
        let existing =
            sqlx::query(&format!("SELECT policy_id, created_at FROM scaling_policies WHERE {KEY_MATCH} AND name = $4"))
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(&p.name)
                .fetch_optional(&mut *tx)
                .await?;
        let config = serde_json::to_string(&p.config).map_err(|e| ScalingError::corrupt("a policy", e))?;
        let (policy_id, created_at) = match existing {
            Some(row) => {
                let (id, created): (String, i64) = (row.col("policy_id")?, row.col("created_at")?);
                sqlx::query("UPDATE scaling_policies SET policy_type = $1, config = $2 WHERE policy_id = $3")
                    .bind(&p.policy_type)
                    .bind(&config)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM policy_alarms WHERE policy_id = $1").bind(&id).execute(&mut *tx).await?;
                (id, created)
            }
            None => {
                let count: i64 =
                    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM scaling_policies WHERE {KEY_MATCH}"))
                        .bind(&key.namespace)
                        .bind(&key.resource_id)
                        .bind(&key.dimension)
                        .fetch_one(&mut *tx)
                        .await?;
                if count >= max_policies {
                    return Err(ScalingError::LimitExceeded(format!(
                        "The maximum number of scaling policies ({max_policies}) for {} has been reached.",
                        key.describe()
                    )));
                }
                sqlx::query(
                    "INSERT INTO scaling_policies (namespace, resource_id, dimension, name, policy_id, policy_type, \
                     config, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&key.namespace)
                .bind(&key.resource_id)
                .bind(&key.dimension)
                .bind(&p.name)
                .bind(&p.policy_id)
                .bind(&p.policy_type)
                .bind(&config)
                .bind(p.created_at)
                .execute(&mut *tx)
                .await?;
                (p.policy_id.clone(), p.created_at)
            }
        };
        for (position, alarm) in p.alarms.iter().enumerate() {
            sqlx::query("INSERT INTO policy_alarms (alarm_name, policy_id, position) VALUES ($1, $2, $3)")
                .bind(alarm)
                .bind(&policy_id)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM alarm_work WHERE alarm_name = $1").bind(alarm).execute(&mut *tx).await?;
        }
        add_alarm_work(&mut tx, retired, AlarmOp::Delete, now).await?;
        tx.commit().await?;
        Ok(PolicyRow { policy_id, created_at, ..p.clone() })
    }

    /// Deletes a policy; the alarms it owned (recorded for deletion), or `None` when
    /// there is no such policy.
    pub async fn delete_policy(&self, key: &TargetKey, name: &str, now: i64) -> Result<Option<Vec<String>>> {
        let mut tx = self.db.write().await?;
        let Some(row) = sqlx::query(&format!("SELECT policy_id FROM scaling_policies WHERE {KEY_MATCH} AND name = $4"))
            .bind(&key.namespace)
            .bind(&key.resource_id)
            .bind(&key.dimension)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let id: String = row.col("policy_id")?;
        let rows = sqlx::query("SELECT alarm_name FROM policy_alarms WHERE policy_id = $1 ORDER BY position")
            .bind(&id)
            .fetch_all(&mut *tx)
            .await?;
        let alarms: Vec<String> = rows.iter().map(|r| r.col("alarm_name")).collect::<std::result::Result<_, _>>()?;
        sqlx::query("DELETE FROM scaling_policies WHERE policy_id = $1").bind(&id).execute(&mut *tx).await?;
        add_alarm_work(&mut tx, &alarms, AlarmOp::Delete, now).await?;
        tx.commit().await?;
        Ok(Some(alarms))
    }
}
